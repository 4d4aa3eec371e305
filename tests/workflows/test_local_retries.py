"""A local activity's retry gets its own start-to-close, counted from its own start.

The SDK core, retrying a local activity inside the worker, leaves the failed
attempt's start-to-close timer running (temporalio 1.35): it timed the retry out
early and a third attempt overlapped the second. Our local activities retry through a
workflow timer instead (``activity_options.LOCAL_RETRY_THRESHOLD``). The venue call
delays here are real seconds: a local activity's timeouts run on the worker's clock.
"""

from __future__ import annotations

from typing import Any

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.dtos.execution import ExecutionSettings
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any
SETTINGS = ExecutionSettings(venue_call_timeout_seconds=3, placement_attempts=3)


async def test_a_local_activity_retry_runs_its_whole_attempt_timeout(harness: Harness) -> None:
    # The pre-trade call's venue-rules request: attempt 1 fails after 1 s; attempt 2
    # takes 2.5 s, inside its own 3 s, but ends 3.7 s after attempt 1 started: a timer
    # left from attempt 1 would cut it at 3 s and start a third.
    venue = ScriptedVenue(rule_delays=(1.0, 2.5), failing_rule_calls=1)
    async with harness(venue=venue, settings=SETTINGS) as h:
        result = await h.run(
            with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
        )

    assert result.status is BatchStatus.COMPLETED, result.reason
    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.FILLED]
    assert venue.rule_calls == 2, f"rules attempts: {venue.rule_calls} (a third one overlapped)"


async def test_a_placement_retry_tells_the_venue_when_the_earlier_attempt_ended(
    harness: Harness,
) -> None:
    # Retried through a timer, the placement may run on another worker than its first
    # attempt: the adapter is told the instant by which that attempt had stopped
    # sending, from which a venue that takes a used id again waits its landing bound.
    venue = ScriptedVenue(failing_place_calls=1)
    async with harness(venue=venue, settings=SETTINGS) as h:
        result = await h.run(
            with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
        )

    assert result.status is BatchStatus.COMPLETED, result.reason
    failed = venue.place_calls[0]
    retry = venue.place_calls.index(failed, 1)
    assert venue.earlier_sends[0] is None  # a first attempt
    earlier = venue.earlier_sends[retry]
    assert earlier is not None
    assert venue.place_call_times[0] <= earlier <= venue.place_call_times[retry]
    assert len(venue.place_calls) == 3  # the failed call, its retry and the other leg


def test_every_local_activity_of_ours_retries_through_a_timer() -> None:
    """A local activity call without ``local_retry_threshold`` would retry in the worker,
    where the SDK core's stale timer cuts the retry short (the test above)."""
    import ast
    from pathlib import Path

    workflows = Path(__file__).resolve().parents[2] / "workflows"
    calls = [
        (path.name, node.lineno, {k.arg for k in node.keywords})
        for path in sorted(workflows.glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr.startswith(("execute_local_activity", "start_local_activity"))
    ]
    assert len(calls) >= 5  # check_legs, pre_trade_inputs, risk_inputs, placement, get_leg
    assert [(name, line) for name, line, kw in calls if "local_retry_threshold" not in kw] == []
