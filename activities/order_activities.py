"""The order activities: place a leg, follow it, cancel it, revert it.

All venue side effects of a batch happen here, never in workflow code. Every
venue call uses a client order id derived from batch id, command id and action
(``execbatch.core.order_ids``), so a retry, a re-run after a worker crash or a
duplicate delivery finds the earlier order instead of placing another.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from execbatch.activities.errors import VENUE_UNAVAILABLE, venue_errors_as_temporal_errors
from execbatch.activities.reports import (
    DEFAULT_LANDING_BOUND_SECONDS,
    CheckLegsRequest,
    LegRefusal,
    RevertsReport,
    SettleReport,
)
from execbatch.core.enums import OrderType
from execbatch.core.order_ids import placement_order_id, revert_order_id
from execbatch.dtos.execution.leg_requests import (
    AwaitLegRequest,
    CancelLegRequest,
    FindRevertsRequest,
    PlaceLegRequest,
    RevertLegRequest,
    RevertReport,
)
from execbatch.venue.port.adapter import ExchangeAdapter, OrderNotFound, VenueRejection
from execbatch.venue.port.capabilities import InstrumentRules
from execbatch.venue.port.orders import OrderRequest, VenueOrder
from execbatch.venue.port.rules import rule_breaks

MAX_REVERT_ORDERS = 20
"""A revert that needs more orders than this is not converging: hand it to a human."""

RULES_REUSE_SECONDS = 30.0
"""How long a worker checks legs against a symbol's instrument rules from its last read."""


class InstrumentRulesReads:
    """A venue's instrument rules as this worker last read them, per symbol.

    At Alpaca the rules request is the one venue round trip before a batch's first
    order (3-4 ms and 2.4-3.2 ms of worker CPU for two symbols over loopback,
    ``python -m bench.micro rules``, plus two of its 200 requests a minute), and lot
    size, tick size, minimum notional and tradability change rarely. A stale read
    errs one of two ways, both bounded by ``reuse_seconds``: a leg the venue would
    now refuse goes out and the venue rejects it (a business rejection, handled like
    any); a leg the venue would now accept is refused before sending. Only symbols
    the venue knew are kept; a failed read keeps nothing. ``reuse_seconds`` 0: every
    check asks the venue.
    """

    def __init__(
        self, adapter: ExchangeAdapter, reuse_seconds: float = RULES_REUSE_SECONDS
    ) -> None:
        self._adapter = adapter
        self._reuse = reuse_seconds
        self._read: dict[str, tuple[float, InstrumentRules]] = {}

    async def rules(self, symbols: list[str]) -> dict[str, InstrumentRules]:
        """Each known symbol's rules (an unknown symbol is absent)."""
        asked = time.monotonic()
        known = {
            symbol: entry[1]
            for symbol in symbols
            if (entry := self._read.get(symbol)) is not None and asked - entry[0] < self._reuse
        }
        missing = [symbol for symbol in symbols if symbol not in known]
        if missing:
            fetched = await self._fetch(missing)
            if self._reuse > 0:
                self._read.update((symbol, (asked, rules)) for symbol, rules in fetched.items())
            known.update(fetched)
        return known

    async def _fetch(self, symbols: list[str]) -> dict[str, InstrumentRules]:
        try:
            return await self._adapter.instrument_rules(symbols)
        except VenueRejection:
            # Some venues refuse the whole question for one unknown symbol:
            # ask per symbol, and an unknown one has no rules (it is refused).
            rules: dict[str, InstrumentRules] = {}
            for symbol in symbols:
                with contextlib.suppress(VenueRejection):
                    rules.update(await self._adapter.instrument_rules([symbol]))
            return rules


def earlier_sends_by() -> datetime | None:
    """On a retry, the instant by which every earlier attempt had stopped sending.

    Temporal schedules an attempt only once the one before it has ended (failed,
    or timed out: ``within_attempt`` stops an attempt's venue calls at its
    timeout), so an earlier send is no later than this attempt's scheduled time,
    whichever worker made it. A venue that takes a used client order id again
    waits its landing bound from there before it sends (docs/VENUES.md).
    """
    info = activity.info()
    return info.current_attempt_scheduled_time if info.attempt > 1 else None


async def orders_held(adapter: ExchangeAdapter, orders: Mapping[str, str]) -> tuple[str, ...]:
    """The client order ids of ``orders`` (id -> symbol) the venue holds an order for,
    looked up at once; a venue fault raises as the activities' Temporal errors."""

    async def held(client_order_id: str, symbol: str) -> str | None:
        try:
            await adapter.get_order(client_order_id, symbol=symbol)
        except OrderNotFound:
            return None
        return client_order_id

    async with venue_errors_as_temporal_errors():
        found = await asyncio.gather(*(held(c, s) for c, s in orders.items()))
    return tuple(c for c in found if c is not None)


@contextlib.asynccontextmanager
async def within_attempt() -> AsyncIterator[None]:
    """Stop this attempt's venue calls when its start-to-close timeout ends.

    Temporal retries a timed-out activity while the worker that ran it may still
    be running it (nothing cancels a regular activity that does not heartbeat): a
    send it made after the timeout would escape the retry's ``earlier_sends_by``.
    """
    info = activity.info()
    if info.start_to_close_timeout is None:
        yield
        return
    # Counted from now, not from ``started_time``: our code starts milliseconds after
    # the attempt did, far less than the backoff before a retry is scheduled, and no
    # clock of another machine enters.
    try:
        async with asyncio.timeout(info.start_to_close_timeout.total_seconds()):
            yield
    except TimeoutError as exc:
        raise ApplicationError(
            f"attempt {info.attempt} of {info.activity_type} ran out of its"
            f" {info.start_to_close_timeout.total_seconds():g} s",
            type=VENUE_UNAVAILABLE,
        ) from exc


class OrderActivities:
    """Activities bound to one venue adapter (pooled connections, shared by all legs)."""

    def __init__(
        self, adapter: ExchangeAdapter, rules_reuse_seconds: float = RULES_REUSE_SECONDS
    ) -> None:
        self._adapter = adapter
        self._rules = InstrumentRulesReads(adapter, rules_reuse_seconds)

    @activity.defn(name="place_leg")
    async def place_leg(self, request: PlaceLegRequest) -> VenueOrder:
        """Submit the leg's order; return the venue's answer (maybe still resting)."""
        command = request.command
        order = OrderRequest(
            client_order_id=placement_order_id(request.batch_id, command.command_id),
            account=request.account,
            symbol=command.symbol,
            side=command.side,
            order_type=command.order_type,
            quantity=command.quantity,
            limit_price=command.limit_price,
            time_in_force=command.time_in_force,
        )
        async with venue_errors_as_temporal_errors(), within_attempt():
            return await self._adapter.place_order(order, earlier_sends_by=earlier_sends_by())

    @activity.defn(name="await_leg")
    async def await_leg(self, request: AwaitLegRequest) -> VenueOrder:
        """Poll a resting order until it is terminal, heartbeating every poll.

        Heartbeats are how a workflow's cancel reaches this activity. When the
        workflow asked for the cancel, the open order is cancelled at the venue
        before the activity ends, so nothing keeps resting behind a batch that
        has given up on it. Any other cancellation leaves the order alone: a
        worker shutting down (another worker takes over the order when the
        heartbeat times out), or a run that is gone (reset: its newer run
        follows the order on; terminated: its settlement run decides, and for
        a COORDINATED batch it must also revert the other legs).
        """
        try:
            while True:
                async with venue_errors_as_temporal_errors():
                    order = await self._adapter.get_order(
                        request.client_order_id, symbol=request.symbol
                    )
                if order.status.is_terminal:
                    return order
                activity.heartbeat(str(order.filled_quantity))
                await asyncio.sleep(request.poll_interval_seconds)
        except asyncio.CancelledError:
            details = activity.cancellation_details()
            if details is not None and details.cancel_requested:
                async with venue_errors_as_temporal_errors():
                    await asyncio.shield(
                        self._adapter.cancel_order(request.client_order_id, symbol=request.symbol)
                    )
            raise

    @activity.defn(name="get_leg")
    async def get_leg(self, request: AwaitLegRequest) -> VenueOrder:
        """One look at a leg's order (the timer-based way of following a resting order)."""
        async with venue_errors_as_temporal_errors():
            return await self._adapter.get_order(request.client_order_id, symbol=request.symbol)

    @activity.defn(name="cancel_leg")
    async def cancel_leg(self, request: CancelLegRequest) -> VenueOrder:
        """Cancel the open remainder and return the order's final state.

        On an id the venue has never seen this fences it (a CANCELED tombstone),
        so a placement still in flight can no longer create the order.
        """
        async with venue_errors_as_temporal_errors():
            return await self._adapter.cancel_order(request.client_order_id, symbol=request.symbol)

    @activity.defn(name="settle_leg")
    async def settle_leg(self, request: CancelLegRequest) -> SettleReport:
        """Cancel the open remainder and report the order's final state, and what an
        absent order means at this venue.

        Where the venue fences an unknown id, the answer is final (a tombstone
        for an id never placed). Elsewhere "not found" is reported as such,
        with how long a placement may still land after being sent: the
        workflow looks again once no attempt can land any more, and never reads
        "not found" as "never placed" before that.
        """
        capabilities = self._adapter.capabilities
        async with venue_errors_as_temporal_errors():
            try:
                order: VenueOrder | None = await self._adapter.cancel_order(
                    request.client_order_id, symbol=request.symbol
                )
            except OrderNotFound:
                order = None
        return SettleReport(
            order=order,
            absent_is_final=capabilities.cancel_fences_unknown_id,
            landing_bound_seconds=(
                capabilities.placement_landing_bound_seconds or DEFAULT_LANDING_BOUND_SECONDS
            ),
        )

    @activity.defn(name="find_reverts")
    async def find_reverts(self, request: FindRevertsRequest) -> RevertsReport:
        """The legs' first revert orders the venue holds: a reset's run asks whether the
        run it replaced had begun to roll the batch back (``ExecutionBatchWorkflow``)."""
        capabilities = self._adapter.capabilities
        firsts = {revert_order_id(request.batch_id, c, 1): symbol for c, symbol in request.legs}
        found = await orders_held(self._adapter, firsts)
        return RevertsReport(
            found=found,
            landing_bound_seconds=(
                capabilities.placement_landing_bound_seconds or DEFAULT_LANDING_BOUND_SECONDS
            ),
        )

    @activity.defn(name="check_legs")
    async def check_legs(self, request: CheckLegsRequest) -> tuple[LegRefusal, ...]:
        """The legs that break the venue's instrument rules (lot and tick size, minimum
        notional, fractions, tradability), from the venue's own rules; every leg, with
        no venue call, when the batch's account is not one this worker's keys trade."""
        capabilities = self._adapter.capabilities
        wrong_account = (
            self._adapter.account_refusal(request.account) if request.account is not None else None
        )
        if wrong_account is not None:
            return tuple(
                LegRefusal(
                    command_id=command.command_id,
                    venue=capabilities.venue,
                    reasons=(wrong_account,),
                    account=True,
                )
                for command in request.commands
            )
        symbols = sorted({command.symbol for command in request.commands})
        async with venue_errors_as_temporal_errors():
            rules = await self._rules.rules(symbols)
        refusals = []
        for command in request.commands:
            reasons = rule_breaks(
                symbol=command.symbol,
                quantity=command.quantity,
                order_type=command.order_type,
                limit_price=command.limit_price,
                rules=rules.get(command.symbol),
                capabilities=capabilities,
            )
            if reasons:
                refusals.append(
                    LegRefusal(
                        command_id=command.command_id,
                        venue=capabilities.venue,
                        reasons=tuple(reasons),
                    )
                )
        return tuple(refusals)

    @activity.defn(name="revert_leg")
    async def revert_leg(self, request: RevertLegRequest) -> RevertReport:
        """Send the opposite side until exactly ``quantity`` has been reverted.

        The state is read back from the venue on every attempt (revert-1,
        revert-2, ...), so a retry never reverts twice: it continues where the
        previous attempt stopped, e.g. after a partly filled revert.
        """
        command = request.command
        reverted = Decimal(0)
        order_ids: list[str] = []
        try:
            attempt = 1
            async with venue_errors_as_temporal_errors(), within_attempt():
                while attempt <= MAX_REVERT_ORDERS:
                    order_id = revert_order_id(request.batch_id, command.command_id, attempt)
                    try:
                        existing = await self._adapter.get_order(order_id, symbol=command.symbol)
                    except OrderNotFound:
                        break
                    if not existing.status.is_terminal:
                        existing = await self._adapter.cancel_order(order_id, symbol=command.symbol)
                    reverted += existing.filled_quantity
                    order_ids.append(order_id)
                    attempt += 1
                remaining = request.quantity - reverted
                if remaining > 0:
                    if attempt > MAX_REVERT_ORDERS:
                        raise ApplicationError(
                            f"revert of {command.command_id} did not converge after "
                            f"{MAX_REVERT_ORDERS} orders; {remaining} still exposed",
                            type="REVERT_NOT_CONVERGING",
                            non_retryable=True,
                        )
                    order_id = revert_order_id(request.batch_id, command.command_id, attempt)
                    placed = await self._adapter.place_order(
                        OrderRequest(
                            client_order_id=order_id,
                            account=request.account,
                            symbol=command.symbol,
                            side=command.side.opposite,
                            order_type=OrderType.MARKET,
                            quantity=remaining,
                        ),
                        earlier_sends_by=earlier_sends_by(),
                    )
                    if not placed.status.is_terminal:
                        placed = await self._adapter.cancel_order(order_id, symbol=command.symbol)
                    reverted += placed.filled_quantity
                    order_ids.append(order_id)
            if reverted < request.quantity:
                raise ApplicationError(
                    f"revert of {command.command_id} filled {reverted} of "
                    f"{request.quantity}; retrying",
                    type="REVERT_INCOMPLETE",
                )
        except ApplicationError as err:
            # What this attempt read back or placed, for the workflow to report if the
            # revert gives up (``RevertFailed.reverted``): the leg is then exposed by
            # what stays open, not by its whole fill.
            raise ApplicationError(
                err.message,
                str(reverted),
                type=err.type,
                non_retryable=err.non_retryable,
                next_retry_delay=err.next_retry_delay,
            ) from err
        return RevertReport(reverted_quantity=reverted, order_ids=tuple(order_ids))

    def all(self) -> list[Callable[..., Any]]:
        """The bound activity callables, for ``Worker(activities=...)``."""
        return [
            self.place_leg,
            self.await_leg,
            self.get_leg,
            self.cancel_leg,
            self.settle_leg,
            self.check_legs,
            self.revert_leg,
            self.find_reverts,
        ]
