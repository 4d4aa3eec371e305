"""Winding a batch down: settle every leg at the venue, then revert what filled.

Used by the batch's own wind-down (a failed COORDINATED leg, a cancel, the
deadline) and by a settlement run alike. Each step is one activity per leg,
in leg order (so the commands are the same on every replay), with the
compensation retry policy: these steps are what stands between a failed pair
trade and a naked leg. A step that gives up does not raise: the leg records
what stays exposed, and the batch then ends NEEDS_ATTENTION naming it.

**Settling without a fence.** At our paper venue a cancel of an unknown id
fences it, so its answer is final. At Alpaca or Binance an unknown id is only
"not found": a placement attempt still in flight may land afterwards. So a
leg the venue does not know yet is looked up again once no attempt can land
any more: after the latest moment an attempt may have started (the leg's
``attempts_end``: when its placement was abandoned or gave up, or, in a
settlement run, the closed run's end plus the placement's whole budget) plus
the venue's landing bound. Only then is "not found" read as "never placed".
A settlement run at such a venue also waits until the closed run's revert
attempts can no longer land before it reverts anything, since it reads
earlier reverts back from the venue by their ids (docs/VENUES.md has the
timelines).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from execbatch.activities.order_activities import OrderActivities
    from execbatch.activities.reports import SettleReport
    from execbatch.dtos.execution.batch_run import ExecutionSettings
    from execbatch.dtos.execution.leg_requests import (
        CancelLegRequest,
        FindRevertsRequest,
        RevertLegRequest,
    )
    from execbatch.workflows.leg_state import (
        LegState,
        NeverPlaced,
        Reverted,
        RevertFailed,
        RevertStarted,
        SettleFailed,
        VenueAnswered,
    )

# Sandboxed, re-imported for every run (see batch_workflow).
from execbatch.workflows import activity_options as opts

SETTLE_WITHOUT_FENCE_PATCH = "settle-without-fence"
"""Runs started before settling read the venue's capabilities replay the old way."""


class WindDown:
    def __init__(
        self,
        batch_id: str,
        legs: Sequence[LegState],
        settings: ExecutionSettings,
        changed: Callable[[], None],
        *,
        settling_run_ended_at: datetime | None = None,
    ) -> None:
        """``changed`` is called after every leg change (it redraws the Web UI);
        ``settling_run_ended_at``: in a settlement run, when the settled run closed."""
        self._batch_id = batch_id
        self._legs = legs
        self._settings = settings
        self._changed = changed
        self._settling_run_ended_at = settling_run_ended_at
        self._fenced_venue: bool | None = None
        """Learnt from the venue's answers: whether it fences unknown ids."""
        self._landing_bound = timedelta(0)

    async def settle_open_legs(self) -> None:
        """Cancel (and fence) every order whose final state we do not know yet."""
        legs = [leg for leg in self._legs if leg.needs_settling()]
        await asyncio.gather(*(self.settle(leg) for leg in legs))

    async def settle(self, leg: LegState) -> None:
        """Ask the venue to cancel the leg's order; its answer is the leg's final state."""
        if not workflow.patched(SETTLE_WITHOUT_FENCE_PATCH):
            await self._settle_at_a_fencing_venue(leg)
            return
        try:
            report = await self._settle_leg(leg)
            if report.order is None and not report.absent_is_final:
                # A placement still in flight may retry until its budget runs out.
                start = leg.attempts_end or workflow.now() + opts.placement_budget(self._settings)
                landed_by = start + opts.venue_call_timeout(self._settings) + self._landing_bound
                if landed_by > workflow.now():
                    await workflow.sleep(landed_by - workflow.now())
                report = await self._settle_leg(leg)
        except FailureError as err:
            leg.apply(SettleFailed(describe_failure(err)))
            return
        leg.apply(NeverPlaced() if report.order is None else VenueAnswered(report.order))
        self._changed()

    async def _settle_leg(self, leg: LegState) -> SettleReport:
        report = await workflow.execute_activity_method(
            OrderActivities.settle_leg,
            CancelLegRequest(client_order_id=leg.client_order_id, symbol=leg.command.symbol),
            start_to_close_timeout=opts.venue_call_timeout(self._settings),
            retry_policy=opts.compensation_retry(self._settings),
            summary=f"cancel leg {leg.index + 1}: {leg.command.describe()}",
        )
        self._fenced_venue = report.absent_is_final
        self._landing_bound = timedelta(seconds=report.landing_bound_seconds)
        return report

    async def _settle_at_a_fencing_venue(self, leg: LegState) -> None:
        """How runs started before venue capabilities settled (replayed unchanged)."""
        try:
            order = await workflow.execute_activity_method(
                OrderActivities.cancel_leg,
                CancelLegRequest(client_order_id=leg.client_order_id, symbol=leg.command.symbol),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.compensation_retry(self._settings),
                summary=f"cancel leg {leg.index + 1}: {leg.command.describe()}",
            )
        except FailureError as err:
            leg.apply(SettleFailed(describe_failure(err)))
            return
        leg.apply(VenueAnswered(order))
        self._changed()

    async def rollback_begun_by_a_replaced_run(self) -> str | None:
        """In a reset's run: whether the run it replaced had begun to revert the batch.

        A reset forgets what its old run did after the reset point, but the old
        run's activities may have run on (a revert in flight when the reset came
        completes on its worker). A COORDINATED run that would end with its legs
        filled then reports them FILLED while the venue holds their reverts (chaos
        1.5x at Alpaca: COMPLETED, compensated 0, reverts filled 40 and 44). So it
        looks for each filled leg's first revert order; finding none, it waits out
        one revert attempt and the landing bound (a revert in flight lands by then)
        and looks again. Returns why it must roll back, or None."""
        legs = tuple(
            (leg.command.command_id, leg.command.symbol)
            for leg in self._legs
            if leg.filled_quantity > 0
        )
        if not legs:
            return None
        found = await self._find_reverts(legs)
        if not found:
            await workflow.sleep(opts.revert_attempt_timeout(self._settings) + self._landing_bound)
            found = await self._find_reverts(legs)
        if not found:
            return None
        return (
            f"the run this reset replaced had begun to roll the batch back "
            f"({', '.join(found)} at the venue): rolling back"
        )

    async def _find_reverts(self, legs: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
        report = await workflow.execute_activity_method(
            OrderActivities.find_reverts,
            FindRevertsRequest(batch_id=self._batch_id, legs=legs),
            start_to_close_timeout=opts.venue_call_timeout(self._settings),
            retry_policy=opts.compensation_retry(self._settings),
            summary="reverts sent by the run this reset replaced?",
        )
        self._landing_bound = timedelta(seconds=report.landing_bound_seconds)
        return report.found

    async def compensate_filled_legs(self) -> None:
        legs = [leg for leg in self._legs if leg.can_be_reverted()]
        if legs and self._settling_run_ended_at is not None and self._fenced_venue is False:
            # The closed run's revert attempts may still land: wait them out, then
            # the revert activity reads every earlier revert back by its id.
            quiet_from = (
                self._settling_run_ended_at
                + opts.revert_attempt_timeout(self._settings)
                + self._landing_bound
            )
            if quiet_from > workflow.now():
                await workflow.sleep(quiet_from - workflow.now())
        await asyncio.gather(*(self._revert(leg) for leg in legs))

    async def _revert(self, leg: LegState) -> None:
        command = leg.command
        leg.apply(RevertStarted())
        self._changed()
        try:
            report = await workflow.execute_activity_method(
                OrderActivities.revert_leg,
                RevertLegRequest(
                    batch_id=self._batch_id,
                    account=self._settings.account,
                    command=command,
                    quantity=leg.filled_quantity,
                ),
                start_to_close_timeout=opts.revert_attempt_timeout(self._settings),
                retry_policy=opts.compensation_retry(self._settings),
                summary=(
                    f"revert leg {leg.index + 1}: {command.side.opposite.value} "
                    f"{leg.filled_quantity} {command.symbol}"
                ),
            )
        except FailureError as err:
            leg.apply(RevertFailed(describe_failure(err), reverted=reverted_before(err)))
        else:
            leg.apply(Reverted(report.reverted_quantity))
        self._changed()


def reverted_before(err: BaseException) -> Decimal:
    """What a failed revert had reverted, from its failure's details (``revert_leg``
    attaches the quantity its last attempt read back); 0 when it says nothing."""
    cause: BaseException = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.details:
        try:
            return Decimal(str(cause.details[0]))
        except ArithmeticError:
            return Decimal(0)
    return Decimal(0)


def describe_failure(err: BaseException) -> str:
    """The innermost cause's message: what an operator needs, not the wrapper's."""
    cause: BaseException = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause)
