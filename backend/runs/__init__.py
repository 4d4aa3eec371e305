"""Batch runs as Temporal sees them: starting one (``start``) and reading a closed one
back (``read``). Below the client library and the worker, so both (and the
settlement sweeper) share one way to start a run and to tell how it ended."""
