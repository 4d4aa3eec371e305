"""Mapping adapter errors onto Temporal's retry semantics.

Business rejections and id conflicts are final: a non-retryable
ApplicationError whose ``type`` is the venue's error code, so the workflow can
report INSUFFICIENT_FUNDS rather than a stack trace. Transient faults are raised
as retryable errors and Temporal's retry policy (with backoff) handles them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from temporalio.exceptions import ApplicationError

from execbatch.venue.port.adapter import OrderConflict, VenueRejection, VenueUnavailable

VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"
ORDER_CONFLICT = "ORDER_CONFLICT"


@asynccontextmanager
async def venue_errors_as_temporal_errors() -> AsyncIterator[None]:
    try:
        yield
    except VenueRejection as exc:
        raise ApplicationError(exc.message, type=exc.error, non_retryable=True) from exc
    except OrderConflict as exc:
        raise ApplicationError(str(exc), type=ORDER_CONFLICT, non_retryable=True) from exc
    except VenueUnavailable as exc:
        # A venue that said when to come back (429 Retry-After) is retried then, not sooner.
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        raise ApplicationError(
            str(exc), type=VENUE_UNAVAILABLE, non_retryable=False, next_retry_delay=wait
        ) from exc
