"""Venue adapters: the ExchangeAdapter protocol, its errors, and the paper venue's."""

from backend.venue.adapters.base import (
    ExchangeAdapter,
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from backend.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin

__all__ = [
    "ExchangeAdapter",
    "OrderConflict",
    "OrderNotFound",
    "PaperVenueAdapter",
    "PaperVenueAdmin",
    "VenueRejection",
    "VenueUnavailable",
]
