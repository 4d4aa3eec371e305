"""``python -m execbatch.venue``: run the paper venue (see ``--help``)."""

from execbatch.venue.paper.service.runner import main

raise SystemExit(main())
