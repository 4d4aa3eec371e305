"""The paper venue: a separate HTTP process with its state in SQLite.

Public entry points:

* ``run_venue(host, port, db_path, ...)`` runs it in this process (blocking);
* ``create_app(settings)`` is the ASGI app, for embedding;
* ``VenueProcess`` runs it as a child process (tests, benchmarks, demos).
"""

from backend.venue.service.app import create_app
from backend.venue.service.config import DEFAULT_PRICES, VenueSettings
from backend.venue.service.process import VenueProcess, free_port, start_venue_process
from backend.venue.service.runner import build_settings, main, run_venue, serve_venue

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
