"""The pre-trade risk gate of a batch (docs/RISK.md), used by ExecutionBatchWorkflow.

A local activity fetches what the check reads (limits, the venue's positions
and reference prices, the trading state); the decision is
``execbatch.risk.decision.check_legs``, run here in workflow code so a replay
makes the same one. By mode:

* COORDINATED: any breach refuses the whole batch before anything is placed:
  the breaching legs end REJECTED (``RISK_LIMIT: ...``), the others SKIPPED,
  the batch REJECTED_BY_RISK with a reason naming every breach.
* INDEPENDENT: only the breaching legs are refused; the others run.
* SEQUENTIAL: each leg is checked just before it is placed, against the
  positions as they are then; a breach stops the batch (STOPPED, the reason
  names the leg, the limit and the value).

Placements then go through ``place_leg_checked``, which asks the trading state
right before sending; an account with an orders-per-second limit places
through a regular activity on its throttle task queue (a Temporal task-queue
rate limit, shared by every worker). Settling, cancels and reverts never pass
through here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from execbatch.activities.reports import CheckLegsRequest, LegRefusal, SentOrdersRequest
    from execbatch.activities.risk_activities import (
        PreTradeRequest,
        RiskActivities,
        RiskInputsRequest,
    )
    from execbatch.dtos.execution.batch_run import ExecutionSettings
    from execbatch.dtos.execution.execution_command import ExecutionCommand
    from execbatch.dtos.execution.leg_requests import PlaceLegRequest
    from execbatch.risk.claims import (
        REDUCING_CLAIM_NEEDED,
        ClaimRequest,
        ReductionClaim,
        ReleaseRequest,
    )
    from execbatch.risk.decision import RISK_LIMIT, Breach, RiskInputs, check_legs, notional
    from execbatch.risk.states import TradingState
    from execbatch.venue.port.orders import VenueOrder
    from execbatch.workflows.leg_state import LegState, Recovering, Rejected

# Sandboxed: re-imported for every run, so the sandbox checks their code (a
# ``from x.y import z`` inside the block above would hand them over unchecked).
from execbatch.workflows import activity_options as opts
from execbatch.workflows.placing import run_placement
from execbatch.workflows.wind_down import describe_failure

RISK_PATCH = "pre-trade-risk"
"""Runs started before the risk gate replay without it (no check, place_leg)."""
GATE_SETTLES_PATCH = "gate-refusals-settle"
"""Runs started before gate refusals were settled at the venue replay without it."""
GATE_REFUSALS = frozenset({"TRADING_HALTED", RISK_LIMIT})
"""Error types only our gate raises (``place_leg_checked``); no venue answers them."""
FIRST_TASK_HISTORY_LENGTH = 3
"""Started, WorkflowTaskScheduled, WorkflowTaskStarted: the history of a run's first
workflow task when no earlier attempt of it was lost."""


class RiskGate:
    def __init__(
        self, account: str, settings: ExecutionSettings, changed: Callable[[], None]
    ) -> None:
        self._account = account
        self._settings = settings
        self._changed = changed
        self._throttle_queue: str | None = None
        self._accepted_notional = Decimal(0)
        self._claimed: set[str] = set()
        """Command ids granted a reducing claim (they may be placed in REDUCING)."""
        self._claims_asked = False
        self.refused_batch = False
        """A COORDINATED batch was refused whole: it ends REJECTED_BY_RISK."""
        self.asked_if_placed: set[str] = set()
        """Command ids whose placement by a lost attempt was asked about at the venue
        (``_without_the_placed``): if a wind-down cuts the question short, the batch
        settles them instead of reporting them never placed."""

    async def fetch_pre_trade(
        self, every_leg: Sequence[LegState], checked: Sequence[LegState]
    ) -> tuple[tuple[LegRefusal, ...] | None, RiskInputs | str]:
        """The venue's refusals of ``every_leg`` and the risk inputs of ``checked``, in
        one local activity. If it fails past its retries, the risk inputs are asked
        alone and the venue rules count as not checked (None): the venue's own
        validation at placement still applies, and the risk check still fails closed."""
        try:
            answer = await workflow.execute_local_activity_method(
                RiskActivities.pre_trade_inputs,
                PreTradeRequest(
                    rules=CheckLegsRequest(
                        commands=tuple(leg.command for leg in every_leg), account=self._account
                    ),
                    risk=self._inputs_request(checked),
                ),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="pre-trade checks: venue rules, positions, reference prices, trading state",
            )
        except FailureError as err:
            workflow.logger.warning(
                "pre-trade checks failed (%s): venue rules not checked, risk inputs asked alone",
                describe_failure(err),
            )
            return None, await self.fetch_inputs(checked)
        self._throttle_queue = answer.risk.throttle_task_queue
        return answer.refusals, answer.risk

    def _inputs_request(self, legs: Sequence[LegState]) -> RiskInputsRequest:
        symbols = tuple(sorted({leg.command.symbol for leg in legs}))
        return RiskInputsRequest(account=self._account, symbols=symbols)

    async def fetch_inputs(self, legs: Sequence[LegState]) -> RiskInputs | str:
        """What the check of ``legs`` reads, or why it could not be fetched."""
        try:
            inputs = await workflow.execute_local_activity_method(
                RiskActivities.risk_inputs,
                self._inputs_request(legs),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="risk check: positions, reference prices, trading state",
            )
        except FailureError as err:
            # Fail closed: without the inputs no limit can be checked.
            return f"risk inputs unavailable: {describe_failure(err)}"
        self._throttle_queue = inputs.throttle_task_queue
        return inputs

    async def refuse_breaching(
        self,
        legs: Sequence[LegState],
        whole_batch: bool,
        *,
        maybe_sent: Callable[[], bool] = lambda: False,
        inputs: RiskInputs | str | None = None,
    ) -> list[Breach] | None:
        """Check ``legs`` together; refuse the breaching ones (all, if ``whole_batch``
        and any breaches). Returns the breaches, or None when all may be placed.

        ``maybe_sent`` (asked only when something is refused): a placement of these
        legs may already have been sent (a lost
        workflow task placed them before this check was re-run and changed its
        mind): the refused legs, and the skipped ones of a batch refused whole, are
        then settled at the venue, so an order that landed is found and reverted.
        ``inputs``: fetched already for these legs (None: fetched now)."""
        if inputs is None:
            inputs = await self.fetch_inputs(legs)
        if isinstance(inputs, str):
            breaches = [
                Breach(
                    command_id=leg.command.command_id, limit="risk check", value=inputs, bound=""
                )
                for leg in legs
            ]
        else:
            breaches = check_legs(
                [leg.command for leg in legs],
                inputs,
                batch_notional_before=self._accepted_notional,
            )
            if breaches and maybe_sent():
                breaches = await self._without_the_placed(legs, breaches, whole_batch)
            if inputs.state is TradingState.REDUCING and not (whole_batch and breaches):
                refused = {b.command_id for b in breaches}
                breaches += await self._claim(
                    legs[0].batch_id,
                    [leg.command for leg in legs if leg.command.command_id not in refused],
                )
            refused = {b.command_id for b in breaches}
            self._accepted_notional += sum(
                (
                    notional(leg.command, inputs.prices)
                    for leg in legs
                    if leg.command.command_id not in refused
                ),
                Decimal(0),
            )
        if not breaches:
            return None
        by_id = {leg.command.command_id: leg for leg in legs}
        until = workflow.now() if maybe_sent() else None
        for breach in breaches:
            by_id[breach.command_id].apply(
                Rejected(RISK_LIMIT, breach.message, maybe_sent_until=until)
            )
        if until is not None and whole_batch:
            breaching = {b.command_id for b in breaches}
            for leg in legs:
                if leg.command.command_id not in breaching:
                    leg.apply(Recovering(attempts_end=until))
        self.refused_batch = whole_batch
        self._changed()
        return breaches

    async def _without_the_placed(
        self, legs: Sequence[LegState], breaches: list[Breach], whole_batch: bool
    ) -> list[Breach]:
        """The breaches of legs whose placement the venue does not hold.

        This check re-runs one that was decided in a workflow task lost after its
        placements went out (a killed worker). An order the venue holds was checked and
        accepted by that attempt: the decision stands, and the leg follows its order.
        Refusing it now would judge the batch by its own fills (in REDUCING a sale sees
        the position it has just reduced) and revert what was done, a second trade. A
        whole batch accepted then is accepted whole. If the venue cannot be asked, the
        legs stay refused and are settled at the venue, as before."""
        by_id = {leg.command.command_id: leg for leg in legs}
        asked = [by_id[b.command_id] for b in breaches]
        self.asked_if_placed.update(leg.command.command_id for leg in asked)
        try:
            held = await workflow.execute_local_activity_method(
                RiskActivities.orders_at_venue,
                SentOrdersRequest(
                    orders={leg.client_order_id: leg.command.symbol for leg in asked}
                ),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="re-run risk check: did the lost attempt place these legs?",
            )
        except FailureError as err:
            workflow.logger.warning(
                "re-run risk check: placements not looked up (%s)", describe_failure(err)
            )
            return breaches
        placed = {leg.command.command_id for leg in asked if leg.client_order_id in held}
        if not placed:
            return breaches
        workflow.logger.info(
            "re-run risk check: %s already placed by the lost attempt; its decision stands",
            ", ".join(sorted(placed)),
        )
        if whole_batch:
            return []
        return [b for b in breaches if b.command_id not in placed]

    async def _claim(self, batch_id: str, commands: Sequence[ExecutionCommand]) -> list[Breach]:
        """Claim the reducing room of ``commands`` from the account's trading-state workflow
        (docs/RISK.md, "Reducing claims"); a breach for each leg refused. If the claims
        cannot be asked (past their retries), every leg is refused: fail closed."""
        if not commands:
            return []
        self._claims_asked = True
        try:
            answer = await workflow.execute_local_activity_method(
                RiskActivities.claim_reductions,
                ClaimRequest(
                    account=self._account,
                    claims=tuple(ReductionClaim.of(batch_id, command) for command in commands),
                ),
                # The entity may wait out the REDUCING change's quiet period first.
                start_to_close_timeout=opts.claim_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="reducing claims: " + ", ".join(c.describe() for c in commands),
            )
        except FailureError as err:
            why = f"reducing claim unavailable: {describe_failure(err)}"
            return [
                Breach(command_id=c.command_id, limit="trading state", value=why, bound="")
                for c in commands
            ]
        breaches = []
        for decision in answer.decisions:
            if decision.granted:
                self._claimed.add(decision.command_id)
            else:
                breaches.append(
                    Breach(
                        command_id=decision.command_id,
                        limit="trading state",
                        value=decision.message.removeprefix("trading state "),
                        bound="",
                    )
                )
        return breaches

    async def place(self, request: PlaceLegRequest, summary: str) -> VenueOrder:
        """Place through the state check; throttled accounts through their task queue.

        In REDUCING a leg without a claim is refused by the activity before it sends
        (``REDUCING_CLAIM_NEEDED``: the state changed since the batch's check): it is
        claimed here and placed again, or refused (``RISK_LIMIT``) if the claim is."""
        try:
            return await self._place(request, summary)
        except ActivityError as err:
            cause = err.cause
            if not (isinstance(cause, ApplicationError) and cause.type == REDUCING_CLAIM_NEEDED):
                raise
        except ApplicationError as err:
            if err.type != REDUCING_CLAIM_NEEDED:
                raise
        refusals = await self._claim(request.batch_id, [request.command])
        if refusals:
            raise ApplicationError(refusals[0].message, type=RISK_LIMIT, non_retryable=True)
        return await self._place(request, summary)

    async def _place(self, request: PlaceLegRequest, summary: str) -> VenueOrder:
        claimed = request.command.command_id in self._claimed
        return await run_placement(
            RiskActivities.place_leg_checked,
            request.model_copy(update={"reduction_claimed": claimed}),
            self._settings,
            summary,
            task_queue=self._throttle_queue,
        )

    async def release_claims(self, batch_id: str, *, settling: bool = False) -> None:
        """Release the batch's reducing claims once every leg has settled.

        ``settling``: a settlement run, which releases whatever the closed run may have
        claimed. A release that fails past its retries is logged: the claim then holds
        room only while its order is not terminal (the entity drops it once it is)."""
        if not (self._claims_asked or settling):
            return
        try:
            await workflow.execute_local_activity_method(
                RiskActivities.release_claims,
                ReleaseRequest(account=self._account, batch_id=batch_id),
                start_to_close_timeout=opts.venue_call_timeout(self._settings),
                retry_policy=opts.placement_retry(self._settings),
                local_retry_threshold=opts.LOCAL_RETRY_THRESHOLD,
                summary="release reducing claims",
            )
        except FailureError as err:
            workflow.logger.warning(
                "reducing claims of %s not released: %s", batch_id, describe_failure(err)
            )
