"""``python -m backend.venue``: run the paper venue (see ``--help``)."""

from backend.venue.service.runner import main

raise SystemExit(main())
