"""An in-memory ExchangeAdapter with per-symbol scripts, for time-skipping workflow tests.

The real OrderActivities run on top of it, so these tests exercise workflow
logic and the activities' idempotency, while end-to-end tests use the real
venue process. Each client order id is placed at most once, like the real venue.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.port.adapter import OrderNotFound, VenueRejection, VenueUnavailable
from execbatch.venue.port.orders import OrderRequest, Position, VenueOrder

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


@dataclass
class ScriptedVenue:
    scripts: dict[str, Script] = field(default_factory=dict)
    orders: dict[str, VenueOrder] = field(default_factory=dict)
    place_calls: list[str] = field(default_factory=list)
    cancel_calls: list[str] = field(default_factory=list)

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

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        self.place_calls.append(request.client_order_id)
        if request.client_order_id in self.orders:
            return self.orders[request.client_order_id]
        script = self.scripts.get(request.symbol, Script())
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
        if is_revert:
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

    async def get_order(self, client_order_id: str) -> VenueOrder:
        if client_order_id not in self.orders:
            raise OrderNotFound(client_order_id)
        return self.orders[client_order_id]

    async def cancel_order(self, client_order_id: str) -> VenueOrder:
        self.cancel_calls.append(client_order_id)
        order = self.orders.get(client_order_id)
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
                created_at=now,
                updated_at=now,
            )
        elif not order.status.is_terminal:
            order = order.model_copy(update={"status": VenueOrderStatus.CANCELED})
        self.orders[client_order_id] = order
        return order

    async def positions(self, account: str) -> list[Position]:
        net: dict[str, Decimal] = {}
        for order in self.orders.values():
            if order.filled_quantity and order.symbol:
                sign = 1 if order.side is OrderSide.BUY else -1
                net[order.symbol] = net.get(order.symbol, Decimal(0)) + sign * order.filled_quantity
        return [Position(symbol=s, quantity=q) for s, q in net.items()]

    async def net(self, symbol: str) -> Decimal:
        return next(
            (p.quantity for p in await self.positions("default") if p.symbol == symbol), Decimal(0)
        )

    async def aclose(self) -> None:
        return None
