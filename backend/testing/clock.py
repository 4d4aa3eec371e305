"""Time on the time-skipping test server, and what it can and cannot skip.

The test server keeps one clock for all workflows. It jumps to the next
timer only while nothing holds time: it holds time itself from the moment an
activity is scheduled until that activity completes, and the SDK holds it
except while a client awaits a workflow's result (or sleeps).

A batch is activities end to end: placing a leg, following a resting limit
order (``await_leg``, heartbeating until the order is final), cancelling,
compensating. So while a batch runs, its clock moves at wall-clock speed,
and a 5-minute ``env.sleep`` really lasts 5 minutes. ``KitClock.sleep``
therefore checks first: with no activity in flight it skips instantly; with
one in flight it waits in real time up to ``max_wall_time`` and otherwise
refuses with ``TimeHeldByActivity``, instead of hanging the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from temporalio.api.testservice.v1 import (
    LockTimeSkippingRequest,
    SleepRequest,
    UnlockTimeSkippingRequest,
)
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

DEFAULT_MAX_WALL_TIME = timedelta(seconds=30)


class TimeHeldByActivity(RuntimeError):
    """``kit.sleep`` was asked to skip time that activities in flight hold."""


async def pending_activities(handles: Iterable[WorkflowHandle[Any, Any]]) -> list[str]:
    """``"<batch id>: <activity type>"`` for every activity in flight in running batches."""
    found: list[str] = []
    for handle in handles:
        description = await handle.describe()
        if description.status is not WorkflowExecutionStatus.RUNNING:
            continue
        for activity in description.raw_description.pending_activities:
            found.append(f"{handle.id}: {activity.activity_type.name}")
    return found


class KitClock:
    """Skip, or honestly wait, on the test server's clock."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        running: Callable[[], Iterable[WorkflowHandle[Any, Any]]],
    ) -> None:
        self._env = env
        self._running = running

    async def now(self) -> datetime:
        """The test server's current time (what ``workflow.now()`` sees)."""
        return await self._env.get_current_time()

    async def sleep(
        self, duration: timedelta, *, max_wall_time: timedelta = DEFAULT_MAX_WALL_TIME
    ) -> None:
        """Move the test server's clock forward by ``duration``.

        Instant when no batch of the kit has an activity in flight. Otherwise
        time cannot be skipped: it passes in real time, which this allows up
        to ``max_wall_time`` and refuses (``TimeHeldByActivity``) beyond.
        """
        if duration > max_wall_time:
            in_flight = await pending_activities(self._running())
            if in_flight:
                raise TimeHeldByActivity(
                    f"cannot skip {duration}: the test server holds its clock while "
                    f"activities run ({', '.join(in_flight)}), so this would take "
                    f"{duration} of real time. Let the order finish instead (e.g. "
                    "kit.set_prices to fill a resting limit), or test deadlines with "
                    "a short timeout_seconds (see docs/TESTING.md)."
                )
        request = SleepRequest()
        request.duration.FromTimedelta(duration)
        await self._env.client.test_service.unlock_time_skipping_with_sleep(request)

    @asynccontextmanager
    async def skipping(self) -> AsyncIterator[None]:
        """Let the server skip time while the block runs (as awaiting a result does).

        Handles from ``Client.get_workflow_handle`` do not do this on their
        own; only those returned by ``start_workflow`` on the test
        environment's client do.
        """
        service = self._env.client.test_service
        await service.unlock_time_skipping(UnlockTimeSkippingRequest())
        try:
            yield
        finally:
            await service.lock_time_skipping(LockTimeSkippingRequest())
