"""ExecutionBatchWorkflow: one ExecutionCommandBatch, one workflow, one activity per leg.

The batch's ``mode`` decides how legs are coordinated; what each mode does is
one table, ``modes.MODES``, which ``run`` reads. Beside this module:
``leg_state`` (each leg's state machine), ``wind_down`` (settle and revert),
``settlement`` (a settlement run's outcome), ``web_ui`` (current details) and
``search_attributes``.

Temporal kills a workflow at its execution timeout without running any more of
its code, so the workflow keeps its own deadline, a wind-down margin earlier,
and winds down (cancel, settle, compensate) in time. Cancellation by Update or
through Temporal winds down the same way.

Workflow code is deterministic: no I/O, clock or randomness; venue effects are
activities in ``execbatch.activities.order_activities``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

with workflow.unsafe.imports_passed_through():
    from execbatch.activities.order_activities import OrderActivities
    from execbatch.activities.reports import CheckLegsRequest, LegRefusal
    from execbatch.core.enums import BatchStatus, LegStatus
    from execbatch.dtos.execution.batch_result import BatchResult
    from execbatch.dtos.execution.batch_run import BatchRunRequest
    from execbatch.dtos.execution.leg_requests import AwaitLegRequest, PlaceLegRequest
    from execbatch.risk.decision import RiskInputs
    from execbatch.venue.port.orders import VenueOrder
    from execbatch.workflows.leg_state import (
        FollowEnded,
        FollowStarted,
        Interrupted,
        LegState,
        PlacementFailed,
        PlacementStarted,
        Recovering,
        Rejected,
        Skipped,
        VenueAnswered,
    )
    from execbatch.workflows.modes import MODES, Placement

# Sandboxed: re-imported for every run, so the sandbox checks their code (a
# ``from x.y import z`` inside the block above would hand them over unchecked).
from execbatch.workflows import activity_options as opts
from execbatch.workflows import search_attributes
from execbatch.workflows.placing import run_placement
from execbatch.workflows.risk_gate import (
    FIRST_TASK_HISTORY_LENGTH,
    GATE_REFUSALS,
    GATE_SETTLES_PATCH,
    RISK_PATCH,
    RiskGate,
)
from execbatch.workflows.settlement import settlement_outcome
from execbatch.workflows.web_ui import details_markdown
from execbatch.workflows.wind_down import (
    SETTLE_WITHOUT_FENCE_PATCH,
    WindDown,
    describe_failure,
)

T = TypeVar("T")

VENUE_RULES_PATCH = "venue-rules-before-placing"
"""Runs started before legs were checked against the venue's rules replay without it."""
PRE_TRADE_PATCH = "pre-trade-checks-together"
"""Runs from this version fetch the venue rules and the risk inputs at once, under this
one marker; older runs replay with VENUE_RULES_PATCH and RISK_PATCH, one after the other."""
PRE_TRADE_ONE_CALL_PATCH = "pre-trade-checks-in-one-call"
"""Runs from this version fetch both in one local activity (``pre_trade_inputs``), under
this one marker; runs with PRE_TRADE_PATCH replay with two local activities at once."""

WORKFLOW_NAME = "ExecutionBatchWorkflow"
BUSINESS_REJECTIONS = frozenset(
    {
        "INSUFFICIENT_FUNDS",
        "UNKNOWN_SYMBOL",
        "INVALID_ORDER",
        "ORDER_CONFLICT",
        "RISK_LIMIT",  # refused by the risk gate (docs/RISK.md)
        "TRADING_HALTED",
    }
)


class _Progress:
    """Counts finished legs of a concurrent phase and remembers the first failure."""

    def __init__(self) -> None:
        self.finished = 0
        self.first_failure: LegState | None = None


class _WindDown:
    def __init__(self, status: BatchStatus, reason: str) -> None:
        self.status = status
        self.reason = reason


@workflow.defn(name=WORKFLOW_NAME)
class ExecutionBatchWorkflow:
    @workflow.init
    def __init__(self, request: BatchRunRequest) -> None:
        self._batch = request.batch
        self._rules = MODES[request.batch.mode]
        self._settings = request.settings
        self._legs = [
            LegState(command=c, batch_id=self._batch.batch_id, index=i)
            for i, c in enumerate(self._batch.commands)
        ]
        self._status = BatchStatus.RUNNING
        self._reason: str | None = None
        self._wind_down: _WindDown | None = None
        self._result: BatchResult | None = None
        self._placement_slots = asyncio.Semaphore(self._settings.max_placements_in_flight)
        self._details_dirty = False
        self._recovering = request.recovery_of is not None
        self._risk = RiskGate(self._settings.account, self._settings, self._refresh_details)
        self._risk_gated = False
        self._lost_task_may_have_placed = (
            workflow.info().get_current_history_length() > FIRST_TASK_HISTORY_LENGTH
        )
        """The run's first workflow task is not the first attempt (or the run is a
        reset's): a lost attempt may have placed legs this run never starts."""
        self._wind_down_steps = WindDown(
            self._batch.batch_id,
            self._legs,
            self._settings,
            self._refresh_details,
            settling_run_ended_at=request.ended_at if self._recovering else None,
        )

    # ------------------------------------------------------------------ run

    @workflow.run
    async def run(self, request: BatchRunRequest) -> BatchResult:
        search_attributes.upsert_mode(self._batch.mode)
        self._refresh_details()
        publisher = asyncio.create_task(self._publish_details())

        remaining = self._time_to_deadline()
        if request.recovery_of is not None:
            self._begin_recovery(request)
            remaining = None
        elif remaining is not None and remaining <= timedelta(0):
            # The first workflow task ran after the deadline (workers were down):
            # place nothing, finish TIMED_OUT while the hard limit still allows.
            self._request_wind_down(
                BatchStatus.TIMED_OUT, "deadline passed before the batch could start"
            )
        placement = asyncio.create_task(self._placement_phase())
        try:
            await workflow.wait_condition(
                lambda: placement.done() or self._wind_down is not None,
                timeout=None if remaining is None else max(remaining, timedelta(milliseconds=1)),
            )
        except TimeoutError:
            self._request_wind_down(
                BatchStatus.TIMED_OUT,
                f"deadline reached ({self._wind_down_margin():g}s before the "
                f"{self._batch.timeout_seconds}s execution timeout)",
            )
        except asyncio.CancelledError:
            self._request_wind_down(BatchStatus.CANCELLED, "cancelled through Temporal")

        if not placement.done():
            self._set_status(BatchStatus.WINDING_DOWN)
            placement.cancel()
        failure = await self._shielded(self._outcome_of(placement))
        if failure is None and self._wind_down is None and self._replaces_a_reset_run():
            failure = await self._shielded(self._wind_down_steps.rollback_begun_by_a_replaced_run())
        if failure is not None:
            self._reason = failure
            self._set_status(BatchStatus.WINDING_DOWN)

        self._look_up_legs_a_lost_task_may_have_placed()
        await self._shielded(self._wind_down_steps.settle_open_legs())
        rolled_back = self._rules.reverts_fills and (
            failure is not None or self._wind_down is not None
        )
        if rolled_back:
            await self._shielded(self._wind_down_steps.compensate_filled_legs())
        for leg in self._legs:
            if not leg.started and leg.status is LegStatus.PENDING:
                leg.apply(Skipped())
        # Every leg is settled: its reducing claims (REDUCING) hold nothing any more.
        await self._shielded(
            self._risk.release_claims(self._batch.batch_id, settling=request.releases_claims)
        )

        result = self._finish(failure, rolled_back)
        publisher.cancel()
        workflow.set_current_details(details_markdown(self._status, self._legs, self._reason))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return result

    # ------------------------------------------------------- queries/updates

    @workflow.query
    def status(self) -> BatchResult:
        """Every leg's live state and quantities."""
        return self._snapshot()

    @workflow.update
    def cancel(self, reason: str) -> BatchResult:
        """Start winding the batch down like its deadline would; returns the state now.

        The update returns as soon as the wind-down is requested (the saga may
        take a while); the final result comes from the workflow result.
        """
        self._request_wind_down(BatchStatus.CANCELLED, f"cancelled: {reason}")
        return self._snapshot()

    @cancel.validator
    def _validate_cancel(self, reason: str) -> None:
        if self._result is not None or self._status.is_final:
            raise ApplicationError(f"batch is already final ({self._status.value})")
        if self._status is not BatchStatus.RUNNING or self._wind_down is not None:
            raise ApplicationError("batch is already winding down")

    # --------------------------------------------------------- placement

    async def _placement_phase(self) -> str | None:
        """Place legs by mode; return why the batch must stop, or None."""
        if self._recovering:
            return None  # a settlement run never places: it only settles and compensates
        # Asked first, in the run's first activation (before any local activity), so
        # its marker and the answer line up the same on every replay. A run started
        # with PRE_TRADE_PATCH records that one marker (the SDK core adds a search
        # attribute upsert to each): the two older ones are asked only without it.
        first_inputs: RiskInputs | str | None = None
        in_one_call = workflow.patched(PRE_TRADE_ONE_CALL_PATCH)
        if in_one_call or workflow.patched(PRE_TRADE_PATCH):
            self._risk_gated = True
            refused, first_inputs = await self._pre_trade_checks(in_one_call)
            if refused is not None:
                return refused
        else:
            self._risk_gated = workflow.patched(RISK_PATCH)
            if workflow.patched(VENUE_RULES_PATCH):
                refused = self._apply_venue_refusals(await self._venue_refusals())
                if refused is not None:
                    return refused
            if self._risk_gated:
                refused = await self._refuse_legs_that_break_risk_limits()
                if refused is not None:
                    return refused
        if self._rules.placement is Placement.ONE_BY_ONE:
            for index, leg in enumerate(self._legs):
                if self._risk_gated and leg.status is LegStatus.PENDING:
                    # SEQUENTIAL: checked just before it is placed, against positions now.
                    # Checked in the task that places it: if that task is lost after
                    # the send, its re-run may refuse, so a refusal is settled.
                    breaches = await self._risk.refuse_breaching(
                        [leg],
                        whole_batch=False,
                        maybe_sent=self._gate_refusals_settle,
                        inputs=first_inputs,
                    )
                    first_inputs = None  # fetched with the first leg's: the rest fetch anew
                    if breaches is not None:
                        self._settle_untried_after_a_gate_refusal(leg, self._legs[index + 1 :])
                        return "refused by risk: " + breaches[0].describe()
                await self._run_legs([leg], abort_on_failure=False)
                if not leg.fully_filled and self._rules.failure_stops_the_rest:
                    self._settle_untried_after_a_gate_refusal(leg, self._legs[index + 1 :])
                    return _failure_text(leg)
            return None
        legs = [leg for leg in self._legs if leg.status is not LegStatus.REJECTED]
        return await self._run_legs(legs, self._rules.failure_stops_the_rest)

    async def _pre_trade_checks(
        self, in_one_call: bool
    ) -> tuple[str | None, RiskInputs | str | None]:
        """The venue's instrument rules and the risk inputs, fetched together (one local
        activity; runs before PRE_TRADE_ONE_CALL_PATCH: two at once), then decided in
        the old order: venue rules first, then the risk limits.

        Returns why the batch stops (or None) and, for SEQUENTIAL, the inputs fetched
        for its first leg (its check just before placing it needs no new fetch)."""
        pending = [leg for leg in self._legs if leg.status is LegStatus.PENDING]
        one_by_one = self._rules.placement is Placement.ONE_BY_ONE
        checked = pending[:1] if one_by_one else pending
        refusals: tuple[LegRefusal, ...] | None
        inputs: RiskInputs | str
        if in_one_call:
            refusals, inputs = await self._risk.fetch_pre_trade(self._legs, checked)
        else:
            refusals, inputs = await asyncio.gather(
                self._venue_refusals(), self._risk.fetch_inputs(checked)
            )
        refused = self._apply_venue_refusals(refusals)
        if refused is not None or one_by_one:
            return refused, inputs
        return await self._refuse_all_at_once(inputs), None

    async def _venue_refusals(self) -> tuple[LegRefusal, ...] | None:
        """The legs that break the venue's instrument rules; None when the venue would
        not say (down past the retries): its own validation at placement still applies,
        and a COORDINATED batch still reverts."""
        try:
            refusals: tuple[LegRefusal, ...] = await workflow.execute_local_activity_method(
                OrderActivities.check_legs,
                CheckLegsRequest(
                    commands=tuple(leg.command for leg in self._legs),
                    account=self._settings.account,
                ),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="check every leg against the venue's instrument rules",
            )
        except FailureError as err:
            workflow.logger.warning("venue rules not checked: %s", describe_failure(err))
            return None
        return refusals

    def _apply_venue_refusals(self, refusals: tuple[LegRefusal, ...] | None) -> str | None:
        """Refuse the legs that break the venue's rules, before anything is placed.

        A refused leg ends REJECTED with the rule and the venue's value, and is
        never sent. Where a failed leg stops the rest (COORDINATED, SEQUENTIAL),
        nothing of the batch is placed and the refusal is its failure; an
        INDEPENDENT batch places its other legs.
        """
        if not refusals:
            return None
        by_id = {leg.command.command_id: leg for leg in self._legs}
        for refusal in refusals:
            by_id[refusal.command_id].apply(Rejected("INVALID_ORDER", refusal.message))
        self._refresh_details()
        if self._rules.failure_stops_the_rest:
            messages = {r.message for r in refusals}
            if len(refusals) > 1 and len(messages) == 1:  # the batch's account, say: once
                return f"legs {', '.join(r.command_id for r in refusals)} {messages.pop()}"
            return "; ".join(f"leg {r.command_id} {r.message}" for r in refusals)
        return None

    async def _refuse_legs_that_break_risk_limits(self) -> str | None:
        """All-at-once modes: check every leg before any is placed (SEQUENTIAL checks
        each leg just before placing it). COORDINATED: any breach refuses the batch."""
        if self._rules.placement is Placement.ONE_BY_ONE:
            return None
        return await self._refuse_all_at_once()

    async def _refuse_all_at_once(self, inputs: RiskInputs | str | None = None) -> str | None:
        """Check every pending leg together (``inputs`` fetched already, or now); return
        why the batch stops (COORDINATED: any breach), or None.

        A refusal is settled at the venue when the check is decided anywhere but in the
        first attempt of the run's first workflow task (its history then is longer than
        that task's 3 events): an attempt of a workflow task that was lost after its
        local placements went out (a killed worker) re-runs the check, which may now
        refuse what that attempt placed. Read when the refusal is decided, after the
        fetch: the fetch may itself have been re-run in a later task."""
        pending = [leg for leg in self._legs if leg.status is LegStatus.PENDING]
        whole = self._rules.failure_stops_the_rest
        breaches = await self._risk.refuse_breaching(
            pending,
            whole_batch=whole,
            maybe_sent=lambda: (
                workflow.info().get_current_history_length() > FIRST_TASK_HISTORY_LENGTH
                and self._gate_refusals_settle()
            ),
            inputs=inputs,
        )
        if breaches is None or not whole:
            return None
        return "refused by risk: " + "; ".join(b.describe() for b in breaches)

    async def _run_legs(self, legs: Sequence[LegState], abort_on_failure: bool) -> str | None:
        """Run legs concurrently; with ``abort_on_failure``, stop the rest at the first failure.

        The leg tasks are waited on, never awaited directly, so cancelling this
        phase does not cancel them blindly: ``_stop_legs`` stops each the right way.
        Completions are counted as they happen, so a 1000-leg batch costs O(1)
        per completion, not a scan of every pending leg.
        """
        progress = _Progress()
        tasks = {
            asyncio.create_task(self._run_tracked_leg(leg, progress, abort_on_failure)): leg
            for leg in legs
        }
        try:
            await workflow.wait_condition(
                lambda: progress.finished == len(tasks) or progress.first_failure is not None
            )
        except asyncio.CancelledError:
            await self._stop_legs({t: leg for t, leg in tasks.items() if not t.done()})
            raise
        if progress.first_failure is None:
            return None
        await self._stop_legs({t: leg for t, leg in tasks.items() if not t.done()})
        return _failure_text(progress.first_failure)

    async def _run_tracked_leg(
        self, leg: LegState, progress: _Progress, abort_on_failure: bool
    ) -> None:
        await self._run_leg(leg)
        progress.finished += 1
        if abort_on_failure and not leg.fully_filled and progress.first_failure is None:
            progress.first_failure = leg

    async def _stop_legs(self, running: dict[asyncio.Task[None], LegState]) -> None:
        """Stop legs still in flight, and learn each one's final state at the venue.

        Every leg in flight is settled at the venue first: a placement is
        fenced (its client order id can no longer land) and a resting order is
        cancelled; the venue's answer is the leg's final state. Placements still
        retrying are then abandoned (whatever they send next finds the fenced
        order). A resting leg's await-fill activity sees its order final at its
        next poll and ends by itself; one that has not ended after a short grace
        (its worker died, say) is cancelled, which reaches it through its
        heartbeat, and is not waited for: the venue has already answered.

        At a venue without a fence a placement must be stopped before its leg
        is settled, so that the leg knows when its last attempt may have
        started: placements still in flight are abandoned first (each records
        the moment), then every leg in flight is settled (``wind_down``).

        ``running`` is iterated in leg order (a dict, never a set), so the
        cancel activities are scheduled in the same order on every replay.
        """
        # Let legs whose activity already resolved in this activation finish first:
        # the test server refuses to cancel an activity that has just completed.
        await workflow.wait_condition(lambda: True)
        still = {task: leg for task, leg in running.items() if not task.done()}
        for task, leg in still.items():
            if not leg.started:
                task.cancel()  # still waiting for a placement slot: nothing at the venue
        if workflow.patched(SETTLE_WITHOUT_FENCE_PATCH):
            placing = [t for t, leg in still.items() if leg.started and not leg.awaiting_fill]
            for task in placing:
                task.cancel()
            await asyncio.gather(*placing, return_exceptions=True)
        in_flight = [leg for leg in still.values() if leg.started]
        await asyncio.gather(*(self._wind_down_steps.settle(leg) for leg in in_flight))
        for task, leg in still.items():
            if not task.done() and not leg.awaiting_fill:
                task.cancel()
        grace = timedelta(seconds=2 * self._settings.poll_interval_seconds + 1)
        try:
            await workflow.wait_condition(lambda: all(t.done() for t in still), timeout=grace)
        except TimeoutError:
            for task in still:
                if not task.done():
                    task.cancel()
        await asyncio.gather(*still, return_exceptions=True)

    async def _run_leg(self, leg: LegState) -> None:
        """Place one leg and follow it until the venue says it is terminal."""
        command = leg.command
        total = len(self._legs)
        async with self._placement_slots:
            if self._wind_down is not None:
                return  # the deadline or a cancel came first: never place now
            leg.apply(PlacementStarted())
            self._refresh_details()
            try:
                order = await self._place(
                    PlaceLegRequest(
                        batch_id=self._batch.batch_id,
                        account=self._settings.account,
                        command=command,
                    ),
                    summary=f"place {command.describe()} (leg {leg.index + 1}/{total})",
                )
            except FailureError as err:
                self._classify_failure(leg, err)
                self._refresh_details()
                return
            except asyncio.CancelledError:
                leg.apply(Interrupted(at=workflow.now()))
                raise
        try:
            leg.apply(VenueAnswered(order))
            self._refresh_details()
            if not order.status.is_terminal:
                leg.apply(FollowStarted())
                order = await self._follow_resting(leg)
                leg.apply(VenueAnswered(order))
                leg.apply(FollowEnded())
        except FailureError as err:
            self._classify_failure(leg, err)
        except asyncio.CancelledError:
            leg.apply(Interrupted(at=workflow.now()))
            raise
        # Not in a `finally`: that would also run when the worker evicts the
        # workflow, outside the workflow event loop.
        self._refresh_details()

    def _settle_untried_after_a_gate_refusal(
        self, refused: LegState, rest: Sequence[LegState]
    ) -> None:
        """SEQUENTIAL stopped at ``refused``: if our gate refused it while an earlier
        send may exist, the legs after it are settled too.

        The gate's answer can change between a workflow task that was lost after its
        local activities went out (a killed worker) and its re-run: the lost attempt
        may have placed this leg *and the ones after it*, which the re-run, stopping
        here, would otherwise report SKIPPED while the venue holds them. Settled, a leg
        the venue never saw ends CANCELLED (its id fenced, or looked up once nothing
        can land); one it holds becomes the leg's state and is reported (and, at the
        end, counted) as it is."""
        if refused.status is not LegStatus.REJECTED or not refused.needs_settling():
            return
        attempts_end = refused.attempts_end or workflow.now()
        for leg in rest:
            if leg.status is LegStatus.PENDING:
                leg.apply(Recovering(attempts_end=attempts_end))
        self._refresh_details()

    def _look_up_legs_a_lost_task_may_have_placed(self) -> None:
        """Legs this run never started are settled at the venue, not reported SKIPPED.

        A lost attempt of the run's first workflow task (a killed worker) or the run a
        reset replaced may have sent their placements as local activities, whose record
        died with it; this run then wound down (a cancel, a halt's sweep, the deadline)
        before placing them again. Reported SKIPPED, a filled order would be left
        unknown, and a COORDINATED pair naked (a chaos run at Binance: a leg SKIPPED
        that the venue had filled). Settled like a placement of unknown outcome: found,
        the order is the leg's state (and reverted with the rest); not found, it is
        fenced or looked up again once nothing can land, and ends CANCELLED.

        The same holds for a leg the risk gate was asking the venue about (did a lost
        attempt place it?) when a wind-down cut the question short."""
        unknown = [
            leg
            for leg in self._legs
            if not leg.started
            and leg.status is LegStatus.PENDING
            and (
                self._lost_task_may_have_placed
                or leg.command.command_id in self._risk.asked_if_placed
            )
        ]
        for leg in unknown:
            leg.apply(Recovering(attempts_end=workflow.now()))
        if unknown:
            self._refresh_details()

    def _replaces_a_reset_run(self) -> bool:
        """This run is a reset's (its original run is another) of a batch that reverts
        fills: the replaced run may have begun reverting after the reset point."""
        info = workflow.info()
        return self._rules.reverts_fills and info.original_execution_run_id != info.run_id

    def _gate_refusals_settle(self) -> bool:
        """Whether this run settles gate refusals at the venue (``Rejected.maybe_sent_until``).

        Asked only when the gate refuses something, never on the way of a batch it lets
        through: a patch's marker (and the search-attribute upsert the SDK core adds to
        it) would otherwise cost every batch an event and a billed action."""
        return self._risk_gated and workflow.patched(GATE_SETTLES_PATCH)

    def _classify_failure(self, leg: LegState, err: FailureError) -> None:
        """Record why a leg's activity failed; re-raise a cancellation as one.

        A refusal by the gate in ``place_leg_checked`` says nothing about an earlier
        attempt (or a lost workflow task's) that may have sent the order: the leg is
        then settled at the venue (``Rejected.maybe_sent_until``)."""
        # Regular activities fail with ActivityError(cause=...); local ones may
        # surface the cause itself. Either way, classify by the innermost cause.
        cause = err.cause if isinstance(err, ActivityError) else err
        if isinstance(cause, CancelledError):
            leg.apply(Interrupted(at=workflow.now()))
            raise asyncio.CancelledError() from err
        if isinstance(cause, ApplicationError) and cause.type in BUSINESS_REJECTIONS:
            gate = cause.type in GATE_REFUSALS and self._gate_refusals_settle()
            until = workflow.now() if gate else None
            leg.apply(Rejected(cause.type, cause.message, maybe_sent_until=until))
        else:
            leg.apply(
                PlacementFailed(f"placement failed: {describe_failure(err)}", at=workflow.now())
            )

    async def _follow_resting(self, leg: LegState) -> VenueOrder:
        """Follow a resting order until the venue reports it final.

        By default a regular activity polls the venue and heartbeats, so a
        cancel reaches it and a dead worker is noticed within the heartbeat
        timeout. With ``follow_resting_orders="timer"`` the workflow polls with
        durable timers and short local activities instead (backing off to
        ``max_poll_interval_seconds``): no activity is in flight while the
        order rests, so a time-skipping test server can skip the wait.
        """
        command = leg.command
        request = AwaitLegRequest(
            client_order_id=leg.client_order_id,
            poll_interval_seconds=self._settings.poll_interval_seconds,
            symbol=command.symbol,
        )
        if self._settings.follow_resting_orders == "timer":
            interval = self._settings.poll_interval_seconds
            while True:
                await workflow.sleep(interval)
                order = await workflow.execute_local_activity_method(
                    OrderActivities.get_leg,
                    request,
                    start_to_close_timeout=opts.venue_call_timeout(self._settings),
                    retry_policy=opts.polling_retry(),
                    local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                    summary=f"check leg {leg.index + 1}: {command.describe()}",
                )
                if order.status.is_terminal:
                    return order
                leg.apply(VenueAnswered(order))
                self._refresh_details()
                interval = min(interval * 2, self._settings.max_poll_interval_seconds)
        return await workflow.execute_activity_method(
            OrderActivities.await_leg,
            request,
            start_to_close_timeout=opts.RESTING_ORDER_MAX_LIFETIME,
            heartbeat_timeout=timedelta(seconds=self._settings.heartbeat_timeout_seconds),
            retry_policy=opts.polling_retry(),
            cancellation_type=workflow.ActivityCancellationType.TRY_CANCEL,
            summary=f"await fill of leg {leg.index + 1}: {command.describe()}",
        )

    async def _place(self, request: PlaceLegRequest, summary: str) -> VenueOrder:
        """Submit a leg's order: a local activity by default, a regular one if configured.

        The placement is one short, idempotent venue call, so a local activity
        (no task-queue round trip) is safe and several times faster; a worker
        crash re-runs it and the derived client order id finds the earlier order.
        Following a resting order stays a regular, heartbeating activity, since
        that is what a cancel has to reach.
        """
        if self._risk_gated:
            return await self._risk.place(request, summary)
        return await run_placement(OrderActivities.place_leg, request, self._settings, summary)

    # ------------------------------------------------------------- helpers

    def _finish(self, failure: str | None, rolled_back: bool) -> BatchResult:
        exposed = [leg for leg in self._legs if leg.exposed_quantity != 0]
        if exposed:
            status = BatchStatus.NEEDS_ATTENTION
            self._reason = "; ".join(
                f"leg {leg.command.command_id}: {leg.exposed_quantity} {leg.command.symbol} exposed"
                for leg in exposed
            ) + (f" (after {self._reason})" if self._reason else "")
        elif self._risk.refused_batch or self._refused_by_risk_alone():
            status = BatchStatus.REJECTED_BY_RISK
            self._reason = failure or "refused by risk: " + "; ".join(
                f"leg {leg.command.command_id}: {leg.error}" for leg in self._legs
            )
        elif self._wind_down is not None:
            status = self._wind_down.status
            self._reason = self._wind_down.reason + (f"; {failure}" if failure else "")
        elif failure is not None and self._rules.status_when_a_leg_fails is not None:
            status = self._rules.status_when_a_leg_fails
        elif all(leg.fully_filled for leg in self._legs):
            status = BatchStatus.COMPLETED
        elif all(leg.filled_quantity == 0 for leg in self._legs):
            status = BatchStatus.FAILED
        else:
            status = BatchStatus.PARTIALLY_COMPLETED
        self._set_status(status)
        self._result = self._snapshot()
        return self._result

    def _refused_by_risk_alone(self) -> bool:
        """Every leg refused by our own gate, nothing filled: the batch is the risk
        controls' refusal (INDEPENDENT legs refused one by one), not a venue failure."""
        return all(
            leg.status is LegStatus.REJECTED
            and leg.filled_quantity == 0
            and (leg.error or "").split(":", 1)[0] in GATE_REFUSALS
            for leg in self._legs
        )

    def _begin_recovery(self, request: BatchRunRequest) -> None:
        """Settle a batch whose run Temporal closed without a result.

        The hard execution timeout, an operator's Terminate and a failed run
        all end the run without running any more of its code. Nothing is known
        about the legs (that run's state died with it), so every leg is treated
        as maybe placed: each is settled at the venue (fenced if it never
        landed, cancelled if it rests; the venue's answer is its final state)
        and a COORDINATED batch's fills are reverted, exactly as its deadline
        would have done. Revert orders are read back from the venue, so
        reverts the first run already sent count.
        """
        ended_at = request.ended_at or workflow.info().start_time
        attempts_end = ended_at + opts.placement_budget(self._settings)
        for leg in self._legs:
            leg.apply(Recovering(attempts_end=attempts_end))
        self._request_wind_down(*settlement_outcome(request))

    def _request_wind_down(self, status: BatchStatus, reason: str) -> None:
        if self._wind_down is None:
            self._wind_down = _WindDown(status, reason)

    def _wind_down_margin(self) -> float:
        timeout = self._batch.timeout_seconds
        return self._settings.wind_down_margin(timeout) if timeout else 0.0

    def _time_to_deadline(self) -> timedelta | None:
        timeout = self._batch.timeout_seconds
        if timeout is None:
            return None
        deadline = workflow.info().start_time + timedelta(
            seconds=timeout - self._wind_down_margin()
        )
        return deadline - workflow.now()

    async def _outcome_of(self, placement: asyncio.Task[str | None]) -> str | None:
        try:
            return await placement
        except asyncio.CancelledError:
            return None

    async def _shielded(self, step: Awaitable[T]) -> T:
        """Run a wind-down step to completion even if the workflow is cancelled meanwhile."""
        task = asyncio.ensure_future(step)
        while True:
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                self._request_wind_down(BatchStatus.CANCELLED, "cancelled through Temporal")

    def _set_status(self, status: BatchStatus) -> None:
        """Record a status change; upsert BatchStatus only when it really changes."""
        if status is not self._status:
            search_attributes.upsert_status(status)
        self._status = status
        self._refresh_details()

    def _snapshot(self) -> BatchResult:
        return BatchResult(
            batch_id=self._batch.batch_id,
            mode=self._batch.mode,
            status=self._status,
            legs=tuple(leg.to_result() for leg in self._legs),
            reason=self._reason or (self._wind_down.reason if self._wind_down else None),
        )

    def _refresh_details(self) -> None:
        """Mark the Web UI's current details stale; ``_publish_details`` redraws them.

        Redrawing on every leg event would cost O(legs) each time, O(legs^2) per
        batch; the publisher redraws once per wake-up however many legs moved.
        """
        self._details_dirty = True

    async def _publish_details(self) -> None:
        while True:
            await workflow.wait_condition(lambda: self._details_dirty)
            self._details_dirty = False
            workflow.set_current_details(details_markdown(self._status, self._legs))


def _failure_text(leg: LegState) -> str:
    return f"leg {leg.command.command_id} {leg.status.value}: {leg.error or 'not filled'}"
