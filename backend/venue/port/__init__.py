"""The venue port: what the executor needs from any venue, apart from every venue.

``ExchangeAdapter`` and its errors (``adapter.py``), the order model the
executor reasons about (``orders.py``) and what a venue guarantees
(``capabilities.py``). Adapters for each venue live in
``execbatch.venue.adapters``; the paper venue (a simulated exchange) in
``execbatch.venue.paper``.
"""

from execbatch.venue.port.adapter import (
    ExchangeAdapter,
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.capabilities import ClientIdScope, InstrumentRules, VenueCapabilities
from execbatch.venue.port.orders import (
    CLIENT_ORDER_ID_PATTERN,
    Account,
    AccountOverview,
    OrderRequest,
    Position,
    VenueOrder,
)

__all__ = [
    "CLIENT_ORDER_ID_PATTERN",
    "Account",
    "AccountOverview",
    "ClientIdScope",
    "ExchangeAdapter",
    "InstrumentRules",
    "OrderConflict",
    "OrderNotFound",
    "OrderRequest",
    "Position",
    "VenueCapabilities",
    "VenueOrder",
    "VenueRejection",
    "VenueUnavailable",
]
