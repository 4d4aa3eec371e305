"""One adapter per venue, each implementing ``execbatch.venue.port.ExchangeAdapter``."""

from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin

__all__ = ["PaperVenueAdapter", "PaperVenueAdmin"]
