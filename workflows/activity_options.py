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

WORKFLOW_TASK_TIMEOUT = timedelta(seconds=10)
"""Every batch run's workflow task timeout (Temporal's default, set explicitly).

Local activities run inside their workflow task, which the SDK renews every 80 %
of this while they run (sdk-core ``WFT_HEARTBEAT_TIMEOUT_FRACTION = 0.8``, counted
from when the worker received the task). A placement lost with a killed worker is
re-run, told nothing, only when the task times out: 20 % of this (2 s) after any
send of the dead worker, less the task's dispatch to the worker. At a venue that
takes a used client order id again, a send must land within ``RERUN_GAP``, which
``build_worker`` checks."""

RERUN_GAP = WORKFLOW_TASK_TIMEOUT * 0.2 - timedelta(milliseconds=100)
"""The least time between a killed worker's last send and a re-run of its placement
(100 ms kept for the dispatch of a workflow task from the server to the worker)."""

LOCAL_RETRY_THRESHOLD = timedelta(milliseconds=1)
"""Every local activity's retry waits on a workflow timer.

Below this backoff the SDK core retries a local activity in the worker, and there
(temporalio 1.35, ``TimeoutBag::mark_started``) it starts the retry's start-to-close
timer without stopping the failed attempt's: that stale timer then times the retry
out early, counted from the *first* attempt's start (a placement retried after a
quick failure got less than its ``venue_call_timeout`` and a third, overlapping
attempt), and, if the worker stopped meanwhile, panics in the core. Retrying through
a timer starts each attempt with fresh timers (``tests/workflows/test_local_retries.py``).
It costs a timer and a workflow task per retry, nothing on the path without faults;
and a retry now lets the workflow see a cancel or its deadline between attempts.
A placement retried this way may run on another worker than the attempt before it:
the placement activity passes the adapter ``earlier_sends_by`` (docs/RELIABILITY.md).
(0 would mean "unset" to the SDK: the default threshold, one minute.)"""


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


def placement_budget(settings: ExecutionSettings) -> timedelta:
    """The most a placement may take, every attempt and backoff included.

    Its activity's schedule-to-close: no attempt starts after it. That is the
    bound a settlement at a venue without a fence waits out before it reads
    "not found" as "never placed".
    """
    policy = placement_retry(settings)
    backoff = timedelta(0)
    delay = policy.initial_interval
    for _ in range(settings.placement_attempts - 1):
        backoff += min(delay, policy.maximum_interval or delay)
        delay = delay * policy.backoff_coefficient
    return venue_call_timeout(settings) * settings.placement_attempts + backoff


def revert_attempt_timeout(settings: ExecutionSettings) -> timedelta:
    """One revert attempt's start-to-close (it may place and then cancel an order)."""
    return venue_call_timeout(settings) * 2


def claim_timeout(settings: ExecutionSettings) -> timedelta:
    """One attempt of asking for reducing claims: the entity may first wait out the
    REDUCING change's quiet period (by default the venue call timeout + 2.5 s), then
    the claims queued before it, each one venue read (docs/RISK.md)."""
    return venue_call_timeout(settings) * 3 + timedelta(seconds=10)
