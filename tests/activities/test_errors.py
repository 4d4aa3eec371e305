"""Venue errors as Temporal sees them: final, transient, and transient with a wait."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio.exceptions import ApplicationError

from execbatch.activities.errors import venue_errors_as_temporal_errors
from execbatch.venue.port.adapter import OrderConflict, VenueRejection, VenueUnavailable


async def raised(exc: Exception) -> ApplicationError:
    with pytest.raises(ApplicationError) as caught:
        async with venue_errors_as_temporal_errors():
            raise exc
    return caught.value


async def test_business_rejections_and_conflicts_are_final() -> None:
    rejected = await raised(VenueRejection("INSUFFICIENT_FUNDS", "not enough cash"))
    assert (rejected.type, rejected.non_retryable) == ("INSUFFICIENT_FUNDS", True)
    conflict = await raised(OrderConflict("other content"))
    assert (conflict.type, conflict.non_retryable) == ("ORDER_CONFLICT", True)


async def test_a_rate_limit_is_retried_when_the_venue_said() -> None:
    limited = await raised(VenueUnavailable("429", retry_after=7.5))
    assert not limited.non_retryable
    assert limited.next_retry_delay == timedelta(seconds=7.5)
    plain = await raised(VenueUnavailable("503"))
    assert plain.next_retry_delay is None  # the retry policy's backoff
