"""Venue dialects: real venues' REST APIs, answered by the paper venue.

A dialect is a FastAPI router mounted on the same app, engine and SQLite store
as the native API (``/orders``, ``/admin/...``), so the real, unmodified SDK
of a venue can be tested offline against a real venue process: its paths, its
JSON shapes, its error bodies and statuses, its key headers, and its
semantics where they are weaker than ours (no cancel fence, a reused client
order id refused rather than answered).

Each dialect owns a path prefix (``DIALECT_PREFIXES`` in ``auth.py`` lets its
requests through to the router, which authenticates them with the venue's own
key headers) and maps its placements, cancels and order look-ups onto the
engine, so fault rules (``/admin/faults``) and the request counters of
``/admin/stats`` apply to it as to the native API.

* ``alpaca``: Alpaca's trading API v2 under ``/v2/`` (docs/VENUES.md, "Alpaca").
* ``binance``: Binance spot's REST API under ``/api/v3/`` (docs/VENUES.md,
  "Binance spot (ccxt)").
"""

from execbatch.venue.paper.service.dialects.alpaca import ALPACA_PATH_PREFIX, alpaca_router
from execbatch.venue.paper.service.dialects.binance import BINANCE_PATH_PREFIX, binance_router

__all__ = ["ALPACA_PATH_PREFIX", "BINANCE_PATH_PREFIX", "alpaca_router", "binance_router"]
