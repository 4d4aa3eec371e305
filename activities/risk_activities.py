"""The pre-trade risk activities: fetch what the check reads, and place a leg
only if the trading state allows it at the moment it is sent.

``risk_inputs`` gathers the account's limits (this worker's, validated at its
start), its positions and reference prices at the venue, and the trading
state (global and the account's, the most restrictive wins); the workflow
decides with them (``execbatch.risk.decision``), so the decision replays the
same. ``place_leg_checked`` asks the trading state right before every attempt
sends (answered from this worker's read of at most ``STATE_READ_REUSE_SECONDS``
ago): HALTED refuses, REDUCING lets through only a leg that reduces the
account's position. Together with the quiet period of ``set_state``, which
covers that reuse, this is the halt's guarantee (docs/RISK.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict
from temporalio import activity
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from execbatch.activities.errors import venue_errors_as_temporal_errors
from execbatch.activities.order_activities import OrderActivities, orders_held
from execbatch.activities.reports import CheckLegsRequest, LegRefusal, SentOrdersRequest
from execbatch.core.enums import OrderSide
from execbatch.dtos.execution.leg_requests import PlaceLegRequest
from execbatch.risk.claims import (
    REDUCING_CLAIM_NEEDED,
    ClaimAnswer,
    ClaimedOrder,
    ClaimRequest,
    ReleaseAnswer,
    ReleaseRequest,
    RoomInputs,
    RoomRequest,
    reduces,
)
from execbatch.risk.decision import RISK_LIMIT, RiskInputs
from execbatch.risk.limits import RiskLimits, throttle_task_queue
from execbatch.risk.states import (
    STATE_MEMO,
    STATE_READ_REUSE_SECONDS,
    TRADING_STATE_WORKFLOW,
    TradingState,
    TradingStateInput,
    TradingStateView,
    most_restrictive,
    scope_of,
    trading_state_workflow_id,
)
from execbatch.temporal.not_ready import while_task_retried
from execbatch.venue.port.adapter import ExchangeAdapter, OrderNotFound, PriceSource
from execbatch.venue.port.orders import Position, VenueOrder

TRADING_HALTED = "TRADING_HALTED"


class RiskInputsRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    symbols: tuple[str, ...]


class PreTradeRequest(BaseModel):
    """Everything checked before a batch's first order, asked in one call."""

    model_config = ConfigDict(frozen=True)

    rules: CheckLegsRequest
    """Every leg, against the venue's instrument rules."""
    risk: RiskInputsRequest
    """The legs the risk check reads now (SEQUENTIAL: the first one)."""


class PreTradeInputs(BaseModel):
    model_config = ConfigDict(frozen=True)

    refusals: tuple[LegRefusal, ...]
    risk: RiskInputs


async def read_state(client: Client, task_queue: str, scope: str) -> TradingStateView:
    """A scope's trading state (with its last change); a scope never set is ACTIVE.

    Read from the workflow's memo through a describe: answered by the server from
    the execution's state, which holds every change before ``set_state`` returns.
    A run without the memo (started by older code and unchanged since) is queried.
    """
    handle = client.get_workflow_handle(trading_state_workflow_id(task_queue, scope))
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return TradingStateView(scope=scope)
        raise
    memo: TradingStateView | None = await description.memo_value(
        STATE_MEMO, None, type_hint=TradingStateView
    )
    return memo if memo is not None else await read_audit(client, task_queue, scope)


async def read_audit(client: Client, task_queue: str, scope: str) -> TradingStateView:
    """A scope's trading state with its whole audit history (a query)."""
    handle = client.get_workflow_handle(trading_state_workflow_id(task_queue, scope))
    try:
        view: TradingStateView = await handle.query("state", result_type=TradingStateView)
        return view
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return TradingStateView(scope=scope)
        raise


async def effective_state(
    client: Client, task_queue: str, account: str
) -> tuple[TradingState, str | None]:
    """The most restrictive of the global and the account's state, and why (read now)."""
    return await TradingStateReads(client, task_queue, reuse_seconds=0).effective(account)


class TradingStateReads:
    """The trading state as this worker last read it, per scope, for ``reuse_seconds``.

    Each read is two describes: ~1 ms of worker CPU, and ~2 ms on the path to every
    order (a 2-leg batch reads three times); concurrent batches share one read. The
    halt's quiet period covers the reuse: an attempt that starts up to
    ``reuse_seconds`` after a read that answered ACTIVE is still bounded by its
    start-to-close, and ``DEFAULT_QUIET_SECONDS`` adds ``STATE_READ_REUSE_SECONDS``
    (docs/RISK.md). The age counts from the moment the read was *asked*, on this
    process's monotonic clock. One read in flight per scope: the attempts that want
    it meanwhile wait for it; a failed read is not kept. ``reuse_seconds`` 0: every
    call reads.
    """

    def __init__(
        self, client: Client, task_queue: str, reuse_seconds: float = STATE_READ_REUSE_SECONDS
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._reuse = reuse_seconds
        self._reads: dict[str, tuple[float, asyncio.Future[TradingStateView]]] = {}

    async def effective(self, account: str) -> tuple[TradingState, str | None]:
        """``effective_state``, from reads at most ``reuse_seconds`` old."""
        return _effective(await self.views(account))

    async def views(self, account: str) -> list[TradingStateView]:
        """The global scope's and the account's, read at most ``reuse_seconds`` ago."""
        return list(await asyncio.gather(self.view(scope_of(None)), self.view(scope_of(account))))

    async def view(self, scope: str) -> TradingStateView:
        if self._reuse <= 0:
            return await read_state(self._client, self._task_queue, scope)
        asked = time.monotonic()
        entry = self._reads.get(scope)
        if entry is None or asked - entry[0] >= self._reuse:
            read = asyncio.ensure_future(read_state(self._client, self._task_queue, scope))
            entry = (asked, read)
            self._reads[scope] = entry
        try:
            # shielded: one attempt given up (cancelled) does not cancel the others' read
            # (and shield marks its failure seen even when every waiter was cancelled)
            return await asyncio.shield(entry[1])
        except Exception:
            if self._reads.get(scope) is entry:
                del self._reads[scope]
            raise


def reducing_acknowledged_at(views: Sequence[TradingStateView]) -> datetime | None:
    """When the REDUCING changes in force were all acknowledged (None: none is)."""
    ends = [
        v.last_change.acknowledged_at
        for v in views
        if v.state is TradingState.REDUCING and v.last_change is not None
    ]
    return max(ends, default=None)


def _effective(views: Sequence[TradingStateView]) -> tuple[TradingState, str | None]:
    state = most_restrictive(*(v.state for v in views))
    reasons = [
        f"{v.scope} {v.state.value}: {v.last_change.reason}"
        for v in views
        if v.state is state and v.last_change is not None and state is not TradingState.ACTIVE
    ]
    return state, "; ".join(reasons) or None


ENTITY_NOT_READY_SECONDS = 15.0
"""How long one attempt asks again while the entity's workflow task is being retried
(temporal.not_ready), within its timeout; the activity's retries go on after it."""


class RiskActivities:
    def __init__(
        self,
        adapter: ExchangeAdapter,
        client: Client,
        limits: RiskLimits,
        task_queue: str,
        state_reuse_seconds: float = STATE_READ_REUSE_SECONDS,
        orders: OrderActivities | None = None,
    ) -> None:
        """``orders``: the worker's order activities, whose instrument-rules reads the
        pre-trade call shares (None: its own, over ``adapter``)."""
        self._adapter = adapter
        self._client = client
        self._limits = limits
        self._task_queue = task_queue
        self._orders = orders or OrderActivities(adapter)
        self._states = TradingStateReads(client, task_queue, state_reuse_seconds)

    @activity.defn(name="risk_inputs")
    async def risk_inputs(self, request: RiskInputsRequest) -> RiskInputs:
        state, reason = await self._states.effective(request.account)
        limits = self._limits.for_account(request.account)
        # Ask the venue only for what a check will read (``risk.decision``): positions
        # for a position limit or REDUCING, prices for a notional limit. An account
        # without such limits costs no venue request before its first order.
        positions: list[Position] = []
        prices: dict[str, Decimal] = {}
        async with venue_errors_as_temporal_errors():
            if limits.max_position is not None or state is TradingState.REDUCING:
                positions = await self._adapter.positions(request.account)
            if limits.checks_notional and isinstance(self._adapter, PriceSource):
                prices = await self._adapter.reference_prices(request.symbols)
        wanted = set(request.symbols)
        return RiskInputs(
            account=request.account,
            limits=limits,
            positions={p.symbol: p.quantity for p in positions if p.symbol in wanted},
            prices=prices,
            state=state,
            state_reason=reason,
            throttle_task_queue=throttle_task_queue(
                self._task_queue, request.account, self._limits
            ),
        )

    @activity.defn(name="pre_trade_inputs")
    async def pre_trade_inputs(self, request: PreTradeRequest) -> PreTradeInputs:
        """``check_legs`` and ``risk_inputs`` in one call, their requests in parallel.

        One local activity before the first order instead of two: one activation,
        one marker and one payload round trip less per batch (docs/BENCHMARK.md).
        Both are reads, so both run to the end; the first failure is raised as it
        is (a non-retryable one stays non-retryable), and the workflow, once the
        retries are spent, asks for the risk inputs alone (the venue rules are
        then not checked, as when ``check_legs`` fails on its own).
        """
        refusals, inputs = await asyncio.gather(
            self._orders.check_legs(request.rules),
            self.risk_inputs(request.risk),
            return_exceptions=True,
        )
        if isinstance(refusals, BaseException):
            raise refusals
        if isinstance(inputs, BaseException):
            raise inputs
        return PreTradeInputs(refusals=refusals, risk=inputs)

    @activity.defn(name="place_leg_checked")
    async def place_leg_checked(self, request: PlaceLegRequest) -> VenueOrder:
        """``place_leg``, if the trading state allows it now (asked on every attempt).

        In REDUCING a leg is placed only with a reducing claim granted by the account's
        trading-state workflow (``request.reduction_claimed``); without one this raises
        ``REDUCING_CLAIM_NEEDED`` before anything is sent, and the workflow claims."""
        views = await self._states.views(request.account)
        state, reason = _effective(views)
        command = request.command
        if state is TradingState.HALTED:
            raise ApplicationError(
                f"trading is HALTED ({reason}): not placed", type=TRADING_HALTED, non_retryable=True
            )
        if state is TradingState.REDUCING and not request.reduction_claimed:
            async with venue_errors_as_temporal_errors():
                positions = await self._adapter.positions(request.account)
            held = next((p.quantity for p in positions if p.symbol == command.symbol), Decimal(0))
            signed = command.quantity if command.side is OrderSide.BUY else -command.quantity
            if not reduces(held, signed):
                raise ApplicationError(
                    f"trading state REDUCING ({reason}): {command.side.value} {command.quantity} "
                    f"{command.symbol} does not reduce the position of {held}",
                    type=RISK_LIMIT,
                    non_retryable=True,
                )
            raise ApplicationError(
                f"trading state REDUCING ({reason}): {command.describe()} needs a reducing claim",
                type=REDUCING_CLAIM_NEEDED,
                non_retryable=True,
            )
        return await self._orders.place_leg(request)

    @activity.defn(name="claim_reductions")
    async def claim_reductions(self, request: ClaimRequest) -> ClaimAnswer:
        """Ask the account's trading-state workflow for reducing claims (starting it if
        it has never run: the REDUCING state may be the global scope's). It waits until
        the REDUCING change in force was acknowledged before it reads the venue."""
        views = await self._states.views(request.account)
        if request.not_before is None:
            request = request.model_copy(update={"not_before": reducing_acknowledged_at(views)})
        asked = request
        answer: ClaimAnswer = await while_task_retried(
            lambda: self._client.execute_update_with_start_workflow(
                "claim_reductions",
                asked,
                start_workflow_operation=self._start_entity(asked.account),
                result_type=ClaimAnswer,
            ),
            budget_seconds=ENTITY_NOT_READY_SECONDS,
        )
        return answer

    @activity.defn(name="release_claims")
    async def release_claims(self, request: ReleaseRequest) -> ReleaseAnswer:
        """Release a batch's reducing claims; an account never claimed from has none."""
        handle = self._client.get_workflow_handle(
            trading_state_workflow_id(self._task_queue, scope_of(request.account))
        )
        try:
            answer: ReleaseAnswer = await while_task_retried(
                lambda: handle.execute_update("release_claims", request, result_type=ReleaseAnswer),
                budget_seconds=ENTITY_NOT_READY_SECONDS,
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return ReleaseAnswer(released=())
            raise
        return answer

    @activity.defn(name="reduction_room")
    async def reduction_room(self, request: RoomRequest) -> RoomInputs:
        """The claimed orders at the venue, *then* the account's positions: a fill the
        look-up reports is held by the position read after it (risk.claims)."""

        async def look_up(claim_id: str, symbol: str) -> tuple[str, ClaimedOrder | None]:
            try:
                order = await self._adapter.get_order(claim_id, symbol=symbol)
            except OrderNotFound:
                return claim_id, None
            return claim_id, ClaimedOrder(
                filled=order.filled_quantity, terminal=order.status.is_terminal
            )

        async with venue_errors_as_temporal_errors():
            found = await asyncio.gather(
                *(look_up(c, symbol) for c, symbol in request.claimed_orders.items())
            )
            positions = await self._adapter.positions(request.account)
        wanted = set(request.symbols)
        return RoomInputs(
            positions={p.symbol: p.quantity for p in positions if p.symbol in wanted},
            orders={claim_id: order for claim_id, order in found if order is not None},
        )

    @activity.defn(name="orders_at_venue")
    async def orders_at_venue(self, request: SentOrdersRequest) -> tuple[str, ...]:
        """The client order ids of ``request`` the venue holds an order for: a re-run
        risk check asks whether the attempt it replaces already placed (risk_gate)."""
        return await orders_held(self._adapter, request.orders)

    def _start_entity(self, account: str) -> WithStartWorkflowOperation[Any, Any]:
        scope = scope_of(account)
        return WithStartWorkflowOperation(
            TRADING_STATE_WORKFLOW,
            TradingStateInput(view=TradingStateView(scope=scope)),
            id=trading_state_workflow_id(self._task_queue, scope),
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            static_summary=f"trading state of {scope}",
        )

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.pre_trade_inputs,
            self.risk_inputs,
            self.place_leg_checked,
            self.claim_reductions,
            self.release_claims,
            self.reduction_room,
            self.orders_at_venue,
        ]
