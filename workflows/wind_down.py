"""Winding a batch down: settle every leg at the venue, then revert what filled.

Used by the batch's own wind-down (a failed COORDINATED leg, a cancel, the
deadline) and by a settlement run alike. Each step is one activity per leg,
in leg order (so the commands are the same on every replay), with the
compensation retry policy: these steps are what stands between a failed pair
trade and a naked leg. A step that gives up does not raise: the leg records
what stays exposed, and the batch then ends NEEDS_ATTENTION naming it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from execbatch.activities.order_activities import OrderActivities
    from execbatch.dtos.execution.batch_run import ExecutionSettings
    from execbatch.dtos.execution.leg_requests import CancelLegRequest, RevertLegRequest
    from execbatch.workflows import activity_options as opts
    from execbatch.workflows.leg_state import (
        LegState,
        Reverted,
        RevertFailed,
        RevertStarted,
        SettleFailed,
        VenueAnswered,
    )


class WindDown:
    def __init__(
        self,
        batch_id: str,
        legs: Sequence[LegState],
        settings: ExecutionSettings,
        changed: Callable[[], None],
    ) -> None:
        """``changed`` is called after every leg change (it redraws the Web UI)."""
        self._batch_id = batch_id
        self._legs = legs
        self._settings = settings
        self._changed = changed

    async def settle_open_legs(self) -> None:
        """Cancel (and fence) every order whose final state we do not know yet."""
        legs = [leg for leg in self._legs if leg.needs_settling()]
        await asyncio.gather(*(self.settle(leg) for leg in legs))

    async def settle(self, leg: LegState) -> None:
        """Ask the venue to cancel the leg's order; its answer is the leg's final state."""
        try:
            order = await workflow.execute_activity_method(
                OrderActivities.cancel_leg,
                CancelLegRequest(client_order_id=leg.client_order_id),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.compensation_retry(self._settings),
                summary=f"cancel leg {leg.index + 1}: {leg.command.describe()}",
            )
        except FailureError as err:
            leg.apply(SettleFailed(describe_failure(err)))
            return
        leg.apply(VenueAnswered(order))
        self._changed()

    async def compensate_filled_legs(self) -> None:
        legs = [leg for leg in self._legs if leg.can_be_reverted()]
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
                start_to_close_timeout=opts.venue_call_timeout(self._settings) * 2,
                retry_policy=opts.compensation_retry(self._settings),
                summary=(
                    f"revert leg {leg.index + 1}: {command.side.opposite.value} "
                    f"{leg.filled_quantity} {command.symbol}"
                ),
            )
        except FailureError as err:
            leg.apply(RevertFailed(describe_failure(err)))
        else:
            leg.apply(Reverted(report.reverted_quantity))
        self._changed()


def describe_failure(err: BaseException) -> str:
    """The innermost cause's message: what an operator needs, not the wrapper's."""
    cause: BaseException = err
    while isinstance(cause, ActivityError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return f"{cause.type}: {cause.message}"
    return str(cause)
