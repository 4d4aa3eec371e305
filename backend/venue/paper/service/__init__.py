"""The paper venue: a separate HTTP process with its state in SQLite.

Public entry points:

* ``run_venue(host, port, db_path, ...)`` runs it in this process (blocking);
* ``create_app(settings)`` is the ASGI app, for embedding;
* ``VenueProcess`` runs it as a child process (tests, benchmarks, demos).
"""

from execbatch.venue.paper.service.app import create_app
from execbatch.venue.paper.service.config import DEFAULT_PRICES, VenueSettings
from execbatch.venue.paper.service.process import VenueProcess, free_port, start_venue_process
from execbatch.venue.paper.service.runner import build_settings, main, run_venue, serve_venue

__all__ = [
    "DEFAULT_PRICES",
    "VenueProcess",
    "VenueSettings",
    "build_settings",
    "create_app",
    "free_port",
    "main",
    "run_venue",
    "serve_venue",
    "start_venue_process",
]
