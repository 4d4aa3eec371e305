"""Run an execbatch worker: ``python worker.py`` (the same as ``execbatch worker``).

The worker itself is ``execbatch.worker`` (``backend/worker.py``): it runs
ExecutionBatchWorkflow and the order activities against the venue the
environment configures, plus the sweeper that settles every batch run that
ended without a result.
"""

from execbatch.worker import main

if __name__ == "__main__":
    main()
