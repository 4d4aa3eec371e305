"""Timeouts and retry policies of the order activities, in one place.

Placement gets a few quick retries (transient venue faults); a business
rejection is non-retryable and never retried. Settling and compensation retry
longer with backoff: they are what stands between a failed pair trade and a
naked leg.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from execbatch.dtos.execution.batch_run import ExecutionSettings

RESTING_ORDER_MAX_LIFETIME = timedelta(days=7)


def placement_retry(settings: ExecutionSettings) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=settings.placement_attempts,
    )


def polling_retry() -> RetryPolicy:
    """Following a resting order never gives up on a transient fault."""
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=500),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=10),
    )


def compensation_retry(settings: ExecutionSettings) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=timedelta(milliseconds=200),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=settings.compensation_attempts,
    )


def venue_call_timeout(settings: ExecutionSettings) -> timedelta:
    return timedelta(seconds=settings.venue_call_timeout_seconds)
