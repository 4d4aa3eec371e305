"""Running a leg's placement activity: the one place its options are set.

A placement is one short, idempotent venue call, so by default it runs as a
local activity (no task-queue round trip); a batch can ask for a regular
activity (``local_placement=False``), and a throttled account's placements go
through a regular activity on its own rate-limited task queue. Whatever the
way, the attempt timeout and the schedule-to-close budget are the same: the
budget bounds when the last attempt can start, which settling a leg at a venue
without a fence waits out (docs/VENUES.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.dtos.execution.batch_run import ExecutionSettings
    from execbatch.dtos.execution.leg_requests import PlaceLegRequest
    from execbatch.venue.port.orders import VenueOrder

# Sandboxed, re-imported for every run (see batch_workflow).
from execbatch.workflows import activity_options as opts

PlacementMethod = Callable[[Any, PlaceLegRequest], Awaitable[VenueOrder]]


async def run_placement(
    method: PlacementMethod,
    request: PlaceLegRequest,
    settings: ExecutionSettings,
    summary: str,
    task_queue: str | None = None,
) -> VenueOrder:
    """Run ``method`` (a placement activity) for ``request``; locally unless the batch
    or a throttle (``task_queue``) asks for a regular activity."""
    if task_queue is None and settings.local_placement:
        return await workflow.execute_local_activity_method(
            method,
            request,
            start_to_close_timeout=opts.venue_call_timeout(settings),
            schedule_to_close_timeout=opts.placement_budget(settings),
            retry_policy=opts.placement_retry(settings),
            # Retried through a workflow timer, like every local activity of ours (see
            # activity_options.LOCAL_RETRY_THRESHOLD); a retry may then run on another
            # worker, so the attempt itself waits out the venue's landing bound from
            # the instant the previous attempt ended (``earlier_sends_by``).
            local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
            summary=summary,
        )
    return await workflow.execute_activity_method(
        method,
        request,
        task_queue=task_queue,
        start_to_close_timeout=opts.venue_call_timeout(settings),
        # A throttled placement's wait for the rate limit counts against the budget.
        schedule_to_close_timeout=opts.placement_budget(settings),
        retry_policy=opts.placement_retry(settings),
        summary=summary,
    )
