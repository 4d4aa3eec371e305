"""An in-memory ExchangeAdapter with per-symbol scripts, for time-skipping workflow tests.

The real OrderActivities run on top of it, so these tests exercise workflow
logic and the activities' idempotency, while end-to-end tests use the real
venue process. Each client order id is placed at most once, like the real venue.

``fence`` picks the venue's semantics: True is our paper venue (a cancel of an
unknown id records a tombstone, so a placement arriving later is refused);
False is Alpaca's and Binance's ("not found", and nothing recorded). A symbol
scripted with ``hold=True`` models a placement that is on the wire: it lands
only when ``land()`` is called (or, with ``land_after_unknown_cancel``, right
after a cancel found nothing), whatever happened to the caller meanwhile; a
request the venue has received is processed even if the client gave up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.port.adapter import OrderNotFound, VenueRejection, VenueUnavailable
from execbatch.venue.port.capabilities import ClientIdScope, InstrumentRules, VenueCapabilities
from execbatch.venue.port.orders import CLIENT_ORDER_ID_PATTERN, OrderRequest, Position, VenueOrder

PRICE = Decimal("100")


@dataclass
class Script:
    """What the venue does with orders for one symbol (and side, if set)."""

    reject: str | None = None
    fill_fraction: Decimal = Decimal(1)
    rest: bool = False
    unavailable: bool = False
    reject_reverts: bool = False
    delay: float = 0.0
    hold: bool = False
    """Placements stay on the wire until ``land()`` (see the module docstring)."""
    first_revert_fill: Decimal = Decimal(1)
    """The part of the first revert order that fills (the rest is cancelled)."""
    reverts_unavailable_from: int | None = None
    """Revert orders from this number on are answered 503, every time."""
    lose_answer: bool = False
    """With ``hold``: the placement lands, but its answer is lost (the attempt fails as
    the venue being unavailable): an outcome only a lookup can tell."""


@dataclass
class ScriptedVenue:
    scripts: dict[str, Script] = field(default_factory=dict)
    orders: dict[str, VenueOrder] = field(default_factory=dict)
    place_calls: list[str] = field(default_factory=list)
    cancel_calls: list[str] = field(default_factory=list)
    fence: bool = True
    land_after_unknown_cancel: bool = False
    rules: dict[str, InstrumentRules] = field(default_factory=dict)
    """Instrument rules by symbol; a symbol without an entry has none."""
    rules_unavailable: bool = False
    """The instrument-rules endpoint is down (placements still work)."""
    positions_unavailable: bool = False
    """The positions endpoint is down (placements still work)."""
    rule_calls: int = 0
    rule_requests: list[tuple[str, ...]] = field(default_factory=list)
    """The symbols of every instrument-rules call, in order."""
    rule_delays: tuple[float, ...] = ()
    """Seconds the n-th instrument-rules call takes (none after the last)."""
    failing_rule_calls: int = 0
    """The first n instrument-rules calls fail as unavailable, after their delay."""
    position_calls: int = 0
    position_delays: tuple[float, ...] = ()
    """Seconds the n-th positions read takes (none after the last): reads that answer
    in another order than they were asked."""
    positions_gate: asyncio.Event | None = None
    """Set: a positions read waits for it (a read the test holds in flight)."""
    get_calls: list[str] = field(default_factory=list)
    get_gate: asyncio.Event | None = None
    """Set: a look-up waits for it (a look-up the test holds in flight)."""
    cancel_gate: tuple[int, asyncio.Event] | None = None
    """(n, gate): the n-th cancel call and every later one wait for the gate (a
    cancel the test holds in flight)."""
    failing_place_calls: int = 0
    """The first n placement calls fail as unavailable, before anything is placed."""
    place_call_times: list[datetime] = field(default_factory=list)
    """Wall-clock time of every placement call, in order."""
    earlier_sends: list[datetime | None] = field(default_factory=list)
    """The ``earlier_sends_by`` every placement call was given, in order."""
    on_the_wire: dict[str, tuple[OrderRequest, asyncio.Event]] = field(default_factory=dict)
    landed_after_cancel: list[str] = field(default_factory=list)
    prices: dict[str, Decimal] = field(default_factory=dict)
    trades_account: str | None = None
    """The one account this venue's keys trade, like Alpaca's (None: any account)."""
    """Reference prices by symbol (PRICE when absent)."""
    initial_positions: dict[str, Decimal] = field(default_factory=dict)
    """Positions held before any order of the test."""
    log: list[tuple[float, str, str]] = field(default_factory=list)
    """(time.monotonic(), "place" | "cancel", client order id), every call in order."""

    def account_refusal(self, account: str) -> str | None:
        if self.trades_account is None or account == self.trades_account:
            return None
        return f"the batch names account {account!r}; these keys trade {self.trades_account!r}"

    @property
    def capabilities(self) -> VenueCapabilities:
        return VenueCapabilities(
            venue="scripted" if self.fence else "scripted-no-fence",
            client_id_scope=ClientIdScope.FOREVER,
            cancel_fences_unknown_id=self.fence,
            lookup_by_client_id=True,
            status_unknown_answers=True,
            placement_landing_bound_seconds=5.0,
            max_client_order_id_length=255,
            client_order_id_pattern=CLIENT_ORDER_ID_PATTERN,
            fractional_quantities=True,
        )

    async def instrument_rules(self, symbols: Iterable[str]) -> dict[str, InstrumentRules]:
        symbols = tuple(symbols)
        self.rule_calls += 1
        self.rule_requests.append(symbols)
        if self.rule_calls <= len(self.rule_delays):
            await asyncio.sleep(self.rule_delays[self.rule_calls - 1])
        if self.rules_unavailable or self.rule_calls <= self.failing_rule_calls:
            raise VenueUnavailable("instrument rules endpoint down (scripted)")
        return {s: self.rules.get(s, InstrumentRules(symbol=s)) for s in symbols}

    def land(self, client_order_id: str) -> None:
        """The venue processes a placement that was on the wire."""
        request, landed = self.on_the_wire.pop(client_order_id)
        if client_order_id not in self.orders:  # a fence got there first: refused
            self.orders[client_order_id] = self._new(
                request, VenueOrderStatus.FILLED, request.quantity
            )
        landed.set()

    def drop(self, client_order_id: str) -> None:
        """A placement on the wire that never reaches the venue."""
        self.on_the_wire.pop(client_order_id)

    def script(self, symbol: str, **kwargs: object) -> ScriptedVenue:
        self.scripts[symbol] = Script(**kwargs)  # type: ignore[arg-type]
        return self

    def _new(
        self, req: OrderRequest, status: VenueOrderStatus, filled: Decimal, **kw: object
    ) -> VenueOrder:
        now = datetime.now(UTC)
        return VenueOrder(
            client_order_id=req.client_order_id,
            venue_order_id=f"V{len(self.orders) + 1}",
            account=req.account,
            symbol=req.symbol,
            side=req.side,
            order_type=req.order_type,
            quantity=req.quantity,
            limit_price=req.limit_price,
            time_in_force=req.time_in_force,
            status=status,
            filled_quantity=filled,
            avg_fill_price=PRICE if filled > 0 else None,
            created_at=now,
            updated_at=now,
            **kw,  # type: ignore[arg-type]
        )

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        self.place_calls.append(request.client_order_id)
        self.log.append((time.monotonic(), "place", request.client_order_id))
        self.place_call_times.append(datetime.now(UTC))
        self.earlier_sends.append(earlier_sends_by)
        if len(self.place_calls) <= self.failing_place_calls:
            raise VenueUnavailable("placement endpoint down (scripted)")
        if request.client_order_id in self.orders:
            return self.orders[request.client_order_id]
        script = self.scripts.get(request.symbol, Script())
        if script.hold and ":revert-" not in request.client_order_id:
            wire = self.on_the_wire.setdefault(request.client_order_id, (request, asyncio.Event()))
            await wire[1].wait()
            if script.lose_answer:
                raise VenueUnavailable("scripted: the order landed, its answer was lost")
            return self.orders[request.client_order_id]
        if script.delay:
            await asyncio.sleep(script.delay)
        is_revert = ":revert-" in request.client_order_id
        if script.unavailable:
            raise VenueUnavailable("scripted 503")
        if (script.reject and not is_revert) or (script.reject_reverts and is_revert):
            error = script.reject or "INVALID_ORDER"
            order = self._new(
                request,
                VenueOrderStatus.REJECTED,
                Decimal(0),
                reject_error=error,
                reject_message="scripted",
            )
            self.orders[request.client_order_id] = order
            raise VenueRejection(error, "scripted rejection")
        number = int(request.client_order_id.rsplit("-", 1)[1]) if is_revert else 0
        unavailable_from = script.reverts_unavailable_from
        if is_revert and unavailable_from is not None and number >= unavailable_from:
            raise VenueUnavailable("scripted 503 on reverts")
        if is_revert and number == 1 and script.first_revert_fill < 1:
            filled = request.quantity * script.first_revert_fill
            order = self._new(request, VenueOrderStatus.CANCELED, filled)
        elif is_revert:
            order = self._new(request, VenueOrderStatus.FILLED, request.quantity)
        elif script.rest:
            order = self._new(request, VenueOrderStatus.NEW, Decimal(0))
        elif script.fill_fraction < 1:
            filled = request.quantity * script.fill_fraction
            order = self._new(request, VenueOrderStatus.CANCELED, filled)
        else:
            order = self._new(request, VenueOrderStatus.FILLED, request.quantity)
        self.orders[request.client_order_id] = order
        return order

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        self.get_calls.append(client_order_id)
        if self.get_gate is not None:
            await self.get_gate.wait()
        if client_order_id not in self.orders:
            raise OrderNotFound(client_order_id)
        return self.orders[client_order_id]

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        self.cancel_calls.append(client_order_id)
        self.log.append((time.monotonic(), "cancel", client_order_id))
        if self.cancel_gate is not None and len(self.cancel_calls) >= self.cancel_gate[0]:
            await self.cancel_gate[1].wait()
        order = self.orders.get(client_order_id)
        if order is None and not self.fence:
            if self.land_after_unknown_cancel and client_order_id in self.on_the_wire:
                # It arrives just after the venue answered "not found".
                asyncio.get_running_loop().call_soon(self.land, client_order_id)
                self.landed_after_cancel.append(client_order_id)
            raise OrderNotFound(client_order_id)
        if order is None:
            now = datetime.now(UTC)
            order = VenueOrder(
                client_order_id=client_order_id,
                venue_order_id="",
                account="",
                symbol="",
                side=OrderSide.BUY,
                order_type=OrderType.MARKET,
                quantity=Decimal(0),
                time_in_force=TimeInForce.GTC,
                status=VenueOrderStatus.CANCELED,
                filled_quantity=Decimal(0),
                fenced=True,  # a tombstone, as the paper venue's (VenueOrder.fenced)
                created_at=now,
                updated_at=now,
            )
        elif not order.status.is_terminal:
            order = order.model_copy(update={"status": VenueOrderStatus.CANCELED})
        self.orders[client_order_id] = order
        return order

    async def positions(self, account: str) -> list[Position]:
        self.position_calls += 1
        if self.position_calls <= len(self.position_delays):
            await asyncio.sleep(self.position_delays[self.position_calls - 1])
        if self.positions_gate is not None:
            await self.positions_gate.wait()  # the test lets the read answer
        refusal = self.account_refusal(account)
        if refusal is not None:  # as the Alpaca and ccxt adapters answer
            raise VenueRejection("INVALID_ORDER", refusal)
        if self.positions_unavailable:
            raise VenueUnavailable("positions endpoint down (scripted)")
        net: dict[str, Decimal] = dict(self.initial_positions)
        for order in self.orders.values():
            if order.filled_quantity and order.symbol:
                sign = 1 if order.side is OrderSide.BUY else -1
                net[order.symbol] = net.get(order.symbol, Decimal(0)) + sign * order.filled_quantity
        return [Position(symbol=s, quantity=q) for s, q in net.items()]

    async def reference_prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        return {symbol: self.prices.get(symbol, PRICE) for symbol in symbols}

    async def net(self, symbol: str) -> Decimal:
        return next(
            (p.quantity for p in await self.positions("default") if p.symbol == symbol), Decimal(0)
        )

    async def aclose(self) -> None:
        return None
