"""The venue's order contract, against a real venue process, through the adapter."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import httpx
import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess, free_port
from execbatch.venue.port.adapter import (
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.orders import Position
from tests.venue.helpers import START_CASH, new_id, new_symbol, order

SELL = OrderSide.SELL
LIMIT = OrderType.LIMIT


def position_of(positions: list[Position], symbol: str) -> Position | None:
    return next((p for p in positions if p.symbol == symbol), None)


async def test_market_buy_fills_at_reference_and_moves_cash(
    adapter: PaperVenueAdapter, account: str
) -> None:
    placed = await adapter.place_order(order(account, "MSFT", quantity="3"))
    assert placed.status is VenueOrderStatus.FILLED
    assert placed.filled_quantity == Decimal(3)
    assert placed.avg_fill_price == Decimal("410.00")
    assert placed.venue_order_id.startswith("V")
    assert placed.created_at.utcoffset() is not None
    assert placed.open_quantity == 0
    assert (await adapter.get_account()).cash == START_CASH - Decimal("1230")
    assert await adapter.positions() == [
        Position(symbol="MSFT", quantity=Decimal(3), avg_price=Decimal(410))
    ]
    assert await adapter.get_order(placed.client_order_id) == placed


async def test_fifty_concurrent_duplicates_make_one_order(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    before = await admin.stats()
    request = order(account, "NVDA", quantity="2")
    results = await asyncio.gather(*(adapter.place_order(request) for _ in range(50)))

    assert {r.venue_order_id for r in results} == {results[0].venue_order_id}
    assert all(r.status is VenueOrderStatus.FILLED for r in results)
    assert len(await admin.orders(account)) == 1
    assert await adapter.positions() == [
        Position(symbol="NVDA", quantity=Decimal(2), avg_price=Decimal(120))
    ]
    after = await admin.stats()
    assert after.requests["place"] - before.requests["place"] == 50
    assert after.place_outcomes["created"] - before.place_outcomes["created"] == 1
    assert after.place_outcomes["replayed"] - before.place_outcomes["replayed"] == 49


async def test_same_id_same_content_replays_and_different_content_conflicts(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    first = order(account, "AAPL", quantity="5")
    placed = await adapter.place_order(first)
    same_value = first.model_copy(update={"quantity": Decimal("5.000")})
    assert await adapter.place_order(same_value) == placed
    with pytest.raises(OrderConflict, match="quantity"):
        await adapter.place_order(first.model_copy(update={"quantity": Decimal(6)}))
    with pytest.raises(OrderConflict, match="side"):
        await adapter.place_order(first.model_copy(update={"side": SELL}))
    assert len(await admin.orders(account)) == 1


@pytest.mark.parametrize(
    ("symbol", "quantity", "kwargs", "error"),
    [
        ("AAPL", "1000000", {}, "INSUFFICIENT_FUNDS"),
        ("NOPE", "1", {}, "UNKNOWN_SYMBOL"),
        ("AAPL", "1", {"order_type": LIMIT}, "INVALID_ORDER"),
        ("AAPL", "1", {"limit_price": "100"}, "INVALID_ORDER"),
    ],
    ids=["funds", "symbol", "limit-without-price", "market-with-price"],
)
async def test_business_rejections_are_stored_and_idempotent(
    adapter: PaperVenueAdapter,
    admin: PaperVenueAdmin,
    account: str,
    symbol: str,
    quantity: str,
    kwargs: dict[str, object],
    error: str,
) -> None:
    request = order(account, symbol, quantity=quantity, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(VenueRejection) as first:
        await adapter.place_order(request)
    assert first.value.error == error
    with pytest.raises(VenueRejection) as again:
        await adapter.place_order(request)
    assert (again.value.error, again.value.message) == (error, first.value.message)
    stored = await adapter.get_order(request.client_order_id)
    assert stored.status is VenueOrderStatus.REJECTED
    assert (stored.reject_error, stored.reject_message) == (error, first.value.message)
    assert stored.filled_quantity == 0
    assert len(await admin.orders(account)) == 1
    assert await adapter.positions() == []
    assert (await adapter.get_account()).cash == START_CASH


async def test_unknown_account_is_invalid_order(adapter: PaperVenueAdapter) -> None:
    with pytest.raises(VenueRejection) as rejected:
        await adapter.place_order(order(new_id("ghost"), "AAPL"))
    assert rejected.value.error == "INVALID_ORDER"
    assert "unknown account" in rejected.value.message


async def test_bad_bodies_are_invalid_order_naming_the_field(
    admin: PaperVenueAdmin, account: str
) -> None:
    base: dict[str, object] = {
        "client_order_id": new_id(),
        "account": account,
        "symbol": "AAPL",
        "side": "BUY",
        "order_type": "MARKET",
        "quantity": "1",
    }
    cases: list[tuple[dict[str, object], str]] = [
        ({**base, "quantity": 1.5}, "quantity"),
        ({**base, "quantity": "-1"}, "quantity"),
        ({**base, "side": "HOLD"}, "side"),
        ({**base, "surprise": 1}, "surprise"),
        ({k: v for k, v in base.items() if k != "symbol"}, "symbol"),
        ({**base, "client_order_id": "bad id!"}, "client_order_id"),
    ]
    for body, field in cases:
        answer = await admin.place_raw(body)
        assert answer.status_code == 422, body
        assert answer.json()["error"] == "INVALID_ORDER"
        assert field in answer.json()["message"]
    assert await admin.orders(account) == []


async def test_tiny_crypto_quantity_round_trips_exactly(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, venue: VenueProcess, account: str
) -> None:
    # one satoshi: a coin listed with that lot size (BTC/USD's is Alpaca's 0.0001)
    symbol = f"{new_symbol()}/USD"
    await admin.set_instruments([{"symbol": symbol, "quantity_step": "0.00000001"}])
    await admin.set_prices({symbol: "60000.00"})
    placed = await adapter.place_order(order(account, symbol, quantity="0.00000001"))
    assert placed.filled_quantity == Decimal("0.00000001")
    [position] = await adapter.positions()
    assert position.quantity == Decimal("0.00000001")
    assert (await adapter.get_account()).cash == START_CASH - Decimal("0.0006")
    async with httpx.AsyncClient(base_url=venue.base_url) as raw:
        body = (await raw.get(f"/orders/{placed.client_order_id}")).json()
    assert body["quantity"] == "0.00000001"  # fixed-point on the wire, not 1E-8


async def test_limit_rests_then_fills_when_price_moves(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    symbol = new_symbol()
    await admin.set_prices({symbol: "100"})
    buy = await adapter.place_order(order(account, symbol, order_type=LIMIT, limit_price="95"))
    sell = await adapter.place_order(
        order(account, symbol, SELL, "4", order_type=LIMIT, limit_price="120")
    )
    assert (buy.status, sell.status) == (VenueOrderStatus.NEW, VenueOrderStatus.NEW)
    assert buy.open_quantity == Decimal(10)

    await admin.set_prices({symbol: "96"})  # not yet
    assert (await adapter.get_order(buy.client_order_id)).status is VenueOrderStatus.NEW

    prices = await admin.set_prices({symbol: "94.5"})
    assert prices[symbol] == Decimal("94.5")
    filled = await adapter.get_order(buy.client_order_id)
    assert filled.status is VenueOrderStatus.FILLED
    assert filled.avg_fill_price == Decimal("94.5")  # at the new reference, not the limit
    assert (await adapter.get_account()).cash == START_CASH - Decimal("945")

    await admin.set_prices({symbol: "121"})
    assert (await adapter.get_order(sell.client_order_id)).status is VenueOrderStatus.FILLED
    assert position_of(await adapter.positions(), symbol) == Position(
        symbol=symbol, quantity=Decimal(6), avg_price=Decimal("94.5")
    )


async def test_marketable_limit_fills_immediately_and_ioc_never_rests(
    adapter: PaperVenueAdapter, account: str
) -> None:
    now = await adapter.place_order(order(account, "AMZN", order_type=LIMIT, limit_price="200"))
    assert (now.status, now.avg_fill_price) == (VenueOrderStatus.FILLED, Decimal("180.00"))
    ioc = await adapter.place_order(
        order(account, "AMZN", order_type=LIMIT, limit_price="170", tif=TimeInForce.IOC)
    )
    assert (ioc.status, ioc.filled_quantity) == (VenueOrderStatus.CANCELED, Decimal(0))


async def test_cancel_resting_limit_and_cancel_is_idempotent(
    adapter: PaperVenueAdapter, account: str
) -> None:
    resting = await adapter.place_order(
        order(account, "TSLA", order_type=LIMIT, limit_price="100", tif=TimeInForce.DAY)
    )
    assert resting.status is VenueOrderStatus.NEW
    canceled = await adapter.cancel_order(resting.client_order_id)
    assert canceled.status is VenueOrderStatus.CANCELED
    assert canceled.filled_quantity == 0 and not canceled.fenced
    assert await adapter.cancel_order(resting.client_order_id) == canceled

    filled = await adapter.place_order(order(account, "TSLA", quantity="1"))
    assert await adapter.cancel_order(filled.client_order_id) == filled


async def test_resting_buy_limit_holds_cash(adapter: PaperVenueAdapter, account: str) -> None:
    # 1,000,000 cash: a resting 9,000 x 100 limit holds 900,000 of it.
    await adapter.place_order(
        order(account, "SPY", quantity="9000", order_type=LIMIT, limit_price="100")
    )
    with pytest.raises(VenueRejection) as rejected:
        await adapter.place_order(order(account, "SPY", quantity="200"))  # 112,000
    assert rejected.value.error == "INSUFFICIENT_FUNDS"
    assert (await adapter.place_order(order(account, "SPY", quantity="150"))).filled_quantity == 150


async def test_cancel_of_unknown_id_fences_a_later_placement(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    request = order(account, "GOOGL", quantity="7")
    before = await admin.stats()
    tombstone = await adapter.cancel_order(request.client_order_id)
    assert tombstone.status is VenueOrderStatus.CANCELED
    assert tombstone.fenced
    assert (tombstone.quantity, tombstone.filled_quantity, tombstone.symbol) == (
        Decimal(0),
        Decimal(0),
        "",
    )
    assert tombstone.account == account  # from the ?account= hint

    late = await adapter.place_order(request)
    assert late == tombstone
    assert await adapter.positions() == []
    assert (await adapter.get_account()).cash == START_CASH
    after = await admin.stats()
    assert after.fenced_orders - before.fenced_orders == 1
    assert after.place_outcomes["fenced"] - before.place_outcomes["fenced"] == 1


async def test_short_selling_and_crossing_zero(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    symbol = new_symbol()
    await admin.set_prices({symbol: "50"})
    await adapter.place_order(order(account, symbol, SELL, "10"))
    assert position_of(await adapter.positions(), symbol) == Position(
        symbol=symbol, quantity=Decimal(-10), avg_price=Decimal(50)
    )
    assert (await adapter.get_account()).cash == START_CASH + Decimal(500)

    await admin.set_prices({symbol: "40"})
    await adapter.place_order(order(account, symbol, quantity="10"))
    assert position_of(await adapter.positions(), symbol) == Position(
        symbol=symbol, quantity=Decimal(0), avg_price=None
    )
    await adapter.place_order(order(account, symbol, quantity="4"))
    assert position_of(await adapter.positions(), symbol) == Position(
        symbol=symbol, quantity=Decimal(4), avg_price=Decimal(40)
    )
    assert (await adapter.get_account()).cash == START_CASH + Decimal(500 - 400 - 160)


async def test_not_found_and_unexpected_answers(adapter: PaperVenueAdapter) -> None:
    with pytest.raises(OrderNotFound):
        await adapter.get_order(new_id("never"))
    with pytest.raises(RuntimeError, match="ACCOUNT_NOT_FOUND"):
        await adapter.positions(new_id("nobody"))


async def test_connection_refused_is_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with PaperVenueAdapter(url, timeout=1.0) as dead:
        with pytest.raises(VenueUnavailable, match=url) as raised:
            await dead.get_order("x")
    assert isinstance(raised.value.__cause__, httpx.ConnectError)


async def test_orders_list_filters_by_symbol(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    a = await adapter.place_order(order(account, "QQQ", quantity="1"))
    await adapter.place_order(order(account, "SPY", quantity="1"))
    assert await admin.orders(account, symbol="QQQ") == [a]
    assert len(await admin.orders(account)) == 2
