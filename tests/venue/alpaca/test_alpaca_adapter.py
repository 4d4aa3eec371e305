"""AlpacaAdapter on the real, unmodified alpaca-py SDK, against a real venue process.

Every call below goes adapter -> alpaca-py ``TradingClient`` -> HTTP on
loopback -> the paper venue's Alpaca dialect -> the venue's engine and store.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from decimal import Decimal

import httpx
import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.security.venue_credentials import ENV_ADMIN_KEY, ENV_API_KEY
from execbatch.venue.adapters.alpaca import (
    ALPACA_CAPABILITIES,
    AlpacaAdapter,
    VenueRateLimited,
)
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.adapter import (
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.orders import Position
from tests.venue.alpaca.conftest import SECRET, alpaca_headers
from tests.venue.helpers import START_CASH, new_id, new_symbol, order

SELL = OrderSide.SELL
LIMIT = OrderType.LIMIT
DAY = TimeInForce.DAY


async def only_order_of(admin: PaperVenueAdmin, account: str, client_order_id: str) -> None:
    """Exactly one order exists at the venue under ``client_order_id``."""
    orders = [o for o in await admin.orders(account) if o.client_order_id == client_order_id]
    assert len(orders) == 1, orders


# ------------------------------------------------------------------ placing


async def test_market_buy_fills_with_alpaca_ids_and_exact_decimals(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    assert alpaca.capabilities is ALPACA_CAPABILITIES
    placed = await alpaca.place_order(order(account, "MSFT", quantity="3"))
    assert placed.status is VenueOrderStatus.FILLED
    assert (placed.filled_quantity, placed.avg_fill_price) == (Decimal(3), Decimal("410.00"))
    assert str(uuid.UUID(placed.venue_order_id)) == placed.venue_order_id  # Alpaca's order id
    assert placed.account == account
    assert placed.created_at.utcoffset() is not None
    assert await alpaca.get_order(placed.client_order_id) == placed
    assert await alpaca.positions() == [
        Position(symbol="MSFT", quantity=Decimal(3), avg_price=Decimal("410.00"))
    ]
    # The native API sees the same order in the same store.
    [native] = await admin.orders(account)
    assert (native.client_order_id, native.status) == (placed.client_order_id, placed.status)


async def test_resting_limit_then_cancel_is_final_and_idempotent(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    resting = await alpaca.place_order(
        order(account, "MSFT", quantity="5", order_type=LIMIT, limit_price="400")
    )
    assert (resting.status, resting.filled_quantity) == (VenueOrderStatus.NEW, 0)
    assert resting.limit_price == Decimal(400)
    canceled = await alpaca.cancel_order(resting.client_order_id)
    assert (canceled.status, canceled.filled_quantity) == (VenueOrderStatus.CANCELED, 0)
    assert canceled.venue_order_id == resting.venue_order_id
    # Again: Alpaca answers 422 "not cancelable"; the adapter reads the final state.
    assert await alpaca.cancel_order(resting.client_order_id) == canceled
    filled = await alpaca.place_order(order(account, "AAPL", quantity="1"))
    assert (await alpaca.cancel_order(filled.client_order_id)).status is VenueOrderStatus.FILLED
    assert (await admin.account(account)).cash == START_CASH - Decimal("190.00")


async def test_resting_limit_fills_when_the_price_moves(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    symbol = new_symbol()
    await admin.set_prices({symbol: "50.00"})
    resting = await alpaca.place_order(
        order(account, symbol, quantity="4", order_type=LIMIT, limit_price="49.50")
    )
    assert resting.status is VenueOrderStatus.NEW
    await admin.set_prices({symbol: "49.25"})
    filled = await alpaca.get_order(resting.client_order_id)
    assert filled.status is VenueOrderStatus.FILLED
    assert (filled.filled_quantity, filled.avg_fill_price) == (Decimal(4), Decimal("49.25"))


async def test_partial_fill_then_cancel_keeps_the_fill(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    symbol = new_symbol()
    await admin.set_prices({symbol: "20.00"})
    await admin.add_fault(kind="partial_fill", fraction="0.4", symbol=symbol, max_hits=2)
    resting = await alpaca.place_order(
        order(account, symbol, quantity="10", order_type=LIMIT, limit_price="21")
    )
    assert resting.status is VenueOrderStatus.PARTIALLY_FILLED
    assert (resting.filled_quantity, resting.avg_fill_price) == (Decimal(4), Decimal("20.00"))
    assert resting.open_quantity == Decimal(6)
    canceled = await alpaca.cancel_order(resting.client_order_id)
    assert (canceled.status, canceled.filled_quantity) == (VenueOrderStatus.CANCELED, Decimal(4))
    # A market order never rests: its unfilled remainder is canceled at once.
    market = await alpaca.place_order(order(account, symbol, quantity="5"))
    assert (market.status, market.filled_quantity) == (VenueOrderStatus.CANCELED, Decimal(2))
    assert await alpaca.positions() == [
        Position(symbol=symbol, quantity=Decimal(6), avg_price=Decimal("20.00"))
    ]


async def test_fractional_and_many_digit_decimals_are_exact(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    small = await alpaca.place_order(order(account, "AAPL", quantity="0.001", tif=DAY))
    assert (small.quantity, small.filled_quantity) == (Decimal("0.001"), Decimal("0.001"))
    symbol = new_symbol()
    await admin.set_prices({symbol: "123.456789"})
    placed = await alpaca.place_order(order(account, symbol, quantity="0.123456789", tif=DAY))
    assert placed.filled_quantity == Decimal("0.123456789")
    assert placed.avg_fill_price == Decimal("123.456789")
    limit = await alpaca.place_order(
        order(account, symbol, quantity="7", order_type=LIMIT, limit_price="0.0001")
    )
    assert limit.limit_price == Decimal("0.0001")
    spent = Decimal("0.001") * Decimal("190.00") + Decimal("0.123456789") * Decimal("123.456789")
    assert (await admin.account(account)).cash == START_CASH - spent
    positions = {p.symbol: p for p in await alpaca.positions()}
    assert positions[symbol].quantity == Decimal("0.123456789")
    assert positions["AAPL"].quantity == Decimal("0.001")


async def test_short_position_reads_negative(alpaca: AlpacaAdapter, account: str) -> None:
    await alpaca.place_order(order(account, "TSLA", SELL, "2"))
    assert await alpaca.positions(account) == [
        Position(symbol="TSLA", quantity=Decimal(-2), avg_price=Decimal("250.00"))
    ]
    with pytest.raises(VenueRejection, match="names account 'someone-else'"):
        await alpaca.positions("someone-else")


# ----------------------------------------------------------------- refusals


async def test_insufficient_buying_power_is_a_final_rejection(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.fund_account(account, "100")
    request = order(account, "AAPL", quantity="10")
    with pytest.raises(VenueRejection) as refused:
        await alpaca.place_order(request)
    assert refused.value.error == "INSUFFICIENT_FUNDS"
    assert "insufficient buying power" in refused.value.message
    with pytest.raises(OrderNotFound):  # as at Alpaca, a refused placement leaves no order
        await alpaca.get_order(request.client_order_id)


async def test_unknown_and_untradable_symbols(
    alpaca: AlpacaAdapter, dialect: httpx.AsyncClient, account: str
) -> None:
    with pytest.raises(VenueRejection) as unknown:
        await alpaca.place_order(order(account, "ZZNOPE", quantity="1"))
    assert unknown.value.error == "UNKNOWN_SYMBOL"
    assert 'asset "ZZNOPE" not found' in unknown.value.message
    (await dialect.put("/admin/alpaca/assets/GOOGL", json={"tradable": False})).raise_for_status()
    with pytest.raises(VenueRejection) as untradable:
        await alpaca.place_order(order(account, "GOOGL", quantity="1"))
    assert untradable.value.error == "UNKNOWN_SYMBOL"
    assert "not tradable" in untradable.value.message


async def test_invalid_quantities_are_rejected(
    alpaca: AlpacaAdapter, dialect: httpx.AsyncClient, account: str
) -> None:
    cases = {
        "fractional orders must be DAY orders": order(
            account, "AAPL", quantity="0.5", order_type=LIMIT, limit_price="189"
        ),
        "at most 9 decimal places": order(account, "AAPL", quantity="0.0000000001", tif=DAY),
        "fractional orders cannot be sold short": order(account, "AAPL", SELL, "0.5", tif=DAY),
    }
    (
        await dialect.put("/admin/alpaca/assets/NVDA", json={"fractionable": False})
    ).raise_for_status()
    cases['asset "NVDA" is not fractionable'] = order(account, "NVDA", quantity="0.5", tif=DAY)
    for expected, request in cases.items():
        with pytest.raises(VenueRejection) as refused:
            await alpaca.place_order(request)
        assert (refused.value.error, expected in refused.value.message) == ("INVALID_ORDER", True)
    # Whole shares of a non-fractionable asset are fine.
    assert (await alpaca.place_order(order(account, "NVDA", quantity="2"))).filled_quantity == 2


async def test_a_fractional_market_order_goes_as_a_day_order(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    # What a revert of a partial fill sends: MARKET, GTC (the default), fractional.
    # Alpaca takes fractional equity orders as DAY orders only; for a market order the
    # two are the same, so it is sent as DAY instead of being refused.
    await alpaca.place_order(order(account, "AAPL", quantity="3"))
    revert = order(account, "AAPL", SELL, "1.5")
    placed = await alpaca.place_order(revert)
    assert (placed.status, placed.filled_quantity) == (VenueOrderStatus.FILLED, Decimal("1.5"))
    assert placed.time_in_force is DAY
    # A re-send (its first answer lost) is the same order, not a conflict.
    assert await alpaca.place_order(revert) == placed
    await only_order_of(admin, account, revert.client_order_id)
    # Whole quantities and crypto keep their time in force.
    whole = await alpaca.place_order(order(account, "AAPL", quantity="2"))
    assert whole.time_in_force is TimeInForce.GTC
    crypto = await alpaca.place_order(order(account, "BTC/USD", quantity="0.01"))
    assert crypto.time_in_force is TimeInForce.GTC


async def test_refused_before_sending(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    before = (await admin.stats()).requests["place"]
    with pytest.raises(VenueRejection, match="names account 'elsewhere'"):
        await alpaca.place_order(order("elsewhere", "AAPL", quantity="1"))
    assert (await admin.stats()).requests["place"] == before
    longest = order(account, "AAPL", quantity="1", client_order_id="c" * 128)
    assert (await alpaca.place_order(longest)).client_order_id == "c" * 128


async def test_an_id_longer_than_alpaca_takes_is_sent_in_its_derived_form(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    ours = "batch-" + "d" * 120 + ":c1:place"  # 135 characters: too long for Alpaca
    placed = await alpaca.place_order(order(account, "AAPL", quantity="1", client_order_id=ours))
    assert placed.client_order_id == ours  # reported under our id
    sent = alpaca.venue_client_order_id(ours)
    assert len(sent) <= 128 and sent != ours
    assert sent == alpaca.venue_client_order_id(ours)  # deterministic, from the id alone
    assert (await alpaca.get_order(ours)).venue_order_id == placed.venue_order_id
    again = await alpaca.place_order(order(account, "AAPL", quantity="1", client_order_id=ours))
    assert again.venue_order_id == placed.venue_order_id  # the re-send finds the one order
    assert [o.client_order_id for o in await admin.orders(account=account)].count(sent) == 1


# ------------------------------------------------ idempotency without a fence


async def test_lost_response_then_retry_finds_the_one_order(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="fail_after_place", client_order_id_prefix="lost-", max_hits=1)
    request = order(account, "NVDA", quantity="3", client_order_id=new_id("lost"))
    with pytest.raises(VenueUnavailable):
        await alpaca.place_order(request)
    # The order landed; Alpaca refuses the re-send, the adapter finds the order.
    retried = await alpaca.place_order(request)
    assert (retried.status, retried.filled_quantity) == (VenueOrderStatus.FILLED, Decimal(3))
    assert await alpaca.place_order(request) == retried
    await only_order_of(admin, account, request.client_order_id)
    assert await alpaca.positions() == [
        Position(symbol="NVDA", quantity=Decimal(3), avg_price=Decimal("120.00"))
    ]


async def test_resend_with_other_content_conflicts(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    first = order(account, "AAPL", quantity="1")
    placed = await alpaca.place_order(first)
    other = first.model_copy(update={"quantity": Decimal(2), "side": SELL})
    with pytest.raises(OrderConflict, match="different side, quantity"):
        await alpaca.place_order(other)
    same_by_value = first.model_copy(update={"quantity": Decimal("1.000")})
    assert await alpaca.place_order(same_by_value) == placed
    await only_order_of(admin, account, first.client_order_id)


async def test_cancel_of_an_unknown_id_records_nothing(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    fenced_before = (await admin.stats()).fenced_orders
    client_order_id = new_id("never")
    with pytest.raises(OrderNotFound):
        await alpaca.cancel_order(client_order_id)
    assert await admin.orders(account) == []
    assert (await admin.stats()).fenced_orders == fenced_before
    # No fence: a placement under that id arriving later is placed.
    placed = await alpaca.place_order(
        order(account, "AAPL", quantity="1", client_order_id=client_order_id)
    )
    assert placed.status is VenueOrderStatus.FILLED


# ---------------------------------------------------------- transient errors


async def test_503_places_nothing_and_a_retry_places(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="error_503", max_hits=1)
    request = order(account, "AAPL", quantity="2")
    with pytest.raises(VenueUnavailable, match="answered 503"):
        await alpaca.place_order(request)
    with pytest.raises(OrderNotFound):
        await alpaca.get_order(request.client_order_id)
    assert (await alpaca.place_order(request)).status is VenueOrderStatus.FILLED
    await only_order_of(admin, account, request.client_order_id)


async def test_faults_apply_to_lookups_and_cancels(
    alpaca: AlpacaAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    before = (await admin.stats()).requests
    resting = await alpaca.place_order(
        order(account, "MSFT", quantity="1", order_type=LIMIT, limit_price="1")
    )
    await admin.add_fault(kind="error_503", endpoint="get", max_hits=1)
    with pytest.raises(VenueUnavailable, match="503"):
        await alpaca.get_order(resting.client_order_id)
    await admin.add_fault(kind="fail_after_place", endpoint="cancel", max_hits=1)
    with pytest.raises(VenueUnavailable, match="503"):
        await alpaca.cancel_order(resting.client_order_id)  # applied, answer lost
    assert (await alpaca.cancel_order(resting.client_order_id)).status is (
        VenueOrderStatus.CANCELED
    )
    after = (await admin.stats()).requests
    assert after["place"] - before["place"] == 1
    assert after["cancel"] - before["cancel"] == 1  # the retry found it final: no DELETE
    assert after["get"] - before["get"] == 3


async def test_rate_limit_is_transient_and_says_when_to_return(
    alpaca: AlpacaAdapter, dialect: httpx.AsyncClient, account: str
) -> None:
    limit = {"requests_per_minute": 2, "key_id": account}
    (await dialect.put("/admin/alpaca/rate-limit", json=limit)).raise_for_status()
    await alpaca.positions()
    await alpaca.positions()
    with pytest.raises(VenueRateLimited) as limited:
        await alpaca.positions()
    assert isinstance(limited.value, VenueUnavailable)
    assert limited.value.retry_after is not None
    assert 0 < limited.value.retry_after <= 61


async def test_a_hang_times_out_without_blocking_the_event_loop(
    venue: VenueProcess, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="hang", delay_seconds="3", max_hits=1)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    request = order(account, "AAPL", quantity="1")
    async with AlpacaAdapter(
        account, SECRET, account=account, base_url=venue.base_url, timeout=0.5
    ) as adapter:
        task = asyncio.create_task(ticker())
        started = time.monotonic()
        with pytest.raises(VenueUnavailable, match="outcome is unknown"):
            await adapter.place_order(request)
        elapsed = time.monotonic() - started
        task.cancel()
        assert elapsed < 2.5
        assert ticks >= int(elapsed / 0.05) // 2  # the loop kept running meanwhile
        with pytest.raises(OrderNotFound):  # a hang does nothing at the venue
            await adapter.get_order(request.client_order_id)


async def test_calls_beyond_the_pool_wait_for_a_thread(
    venue: VenueProcess, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="latency", endpoint="get", delay_seconds="1", max_hits=1)
    async with AlpacaAdapter(
        account, SECRET, account=account, base_url=venue.base_url, timeout=0.5, max_concurrency=1
    ) as adapter:
        slow, queued = await asyncio.gather(
            adapter.get_order("slow-one"), adapter.get_order("queued-one"), return_exceptions=True
        )
        threads = [t for t in threading.enumerate() if t.name.startswith("alpaca")]
    assert isinstance(slow, VenueUnavailable) and "timed out" in str(slow)
    assert isinstance(queued, OrderNotFound)  # ran after the first freed its thread
    assert len(threads) == 1


async def test_a_timeout_after_landing_then_retry_finds_the_order(
    venue: VenueProcess, admin: PaperVenueAdmin, account: str
) -> None:
    await admin.add_fault(kind="latency", delay_seconds="1.2", max_hits=1)
    request = order(account, "AAPL", quantity="1")
    async with AlpacaAdapter(
        account, SECRET, account=account, base_url=venue.base_url, timeout=0.4
    ) as adapter:
        with pytest.raises(VenueUnavailable, match="timed out"):
            await adapter.place_order(request)
        await asyncio.sleep(1.2)  # the delayed placement lands after our timeout
        retried = await adapter.place_order(request)
    assert retried.status is VenueOrderStatus.FILLED
    await only_order_of(admin, account, request.client_order_id)


async def test_unreachable_venue_is_transient(account: str) -> None:
    async with AlpacaAdapter(
        account, SECRET, account=account, base_url="http://127.0.0.1:9", timeout=1.0
    ) as adapter:
        with pytest.raises(VenueUnavailable, match="ConnectionError"):
            await adapter.get_order("anything")


# ------------------------------------------------------- venue-check helpers


async def test_instrument_rules_account_status_and_clock(
    alpaca: AlpacaAdapter, dialect: httpx.AsyncClient, admin: PaperVenueAdmin, account: str
) -> None:
    symbol = new_symbol()
    await admin.set_prices({symbol: "10"})
    flags = {"fractionable": False, "tradable": True}
    (await dialect.put(f"/admin/alpaca/assets/{symbol}", json=flags)).raise_for_status()
    rules = await alpaca.instrument_rules(["AAPL", symbol, "ZZNOPE", "AAPL"])
    assert set(rules) == {"AAPL", symbol}
    assert (rules["AAPL"].tradable, rules["AAPL"].fractional) == (True, True)
    assert rules["AAPL"].quantity_step == Decimal("0.000000001")
    assert (rules[symbol].fractional, rules[symbol].quantity_step) == (False, Decimal(1))
    await alpaca.place_order(
        order(account, "MSFT", quantity="1", order_type=LIMIT, limit_price="5")
    )
    status = await alpaca.account_status()
    assert (status.account_number, status.can_trade) == (account, True)
    assert (status.cash, status.buying_power) == (START_CASH, START_CASH - Decimal(5))
    assert (await alpaca.market_clock()).is_open


# ------------------------------------------------------------------- keys


async def test_keys_are_checked_and_never_shown() -> None:
    keys = {ENV_API_KEY: "trading-key", ENV_ADMIN_KEY: "admin-key"}
    async with VenueProcess(env=keys) as venue:
        account = new_id("acct")
        async with PaperVenueAdmin(venue.base_url, admin_key="admin-key") as admin:
            await admin.fund_account(account, START_CASH)
        async with AlpacaAdapter(
            account, "not-the-key", account=account, base_url=venue.base_url
        ) as wrong:
            with pytest.raises(RuntimeError) as refused:
                await wrong.get_order("x")
            text = f"{refused.value} {refused.value!r} {wrong!r}"
            assert "APCA_API_SECRET_KEY" in text and "not-the-key" not in text
            # the SDK's error (its request, key headers and all) is not kept
            assert refused.value.__cause__ is None and refused.value.__context__ is None
        async with AlpacaAdapter(
            "no-such-account", "trading-key", account=account, base_url=venue.base_url
        ) as unknown:
            with pytest.raises(RuntimeError, match="refused our keys"):
                await unknown.positions()
        async with AlpacaAdapter(
            account, "trading-key", account=account, base_url=venue.base_url
        ) as right:
            placed = await right.place_order(order(account, "AAPL", quantity="1"))
            assert placed.status is VenueOrderStatus.FILLED
        async with httpx.AsyncClient(base_url=venue.base_url) as client:
            missing = await client.get("/v2/account")
            assert (missing.status_code, missing.json()) == (401, {"message": "unauthorized."})
            # The native API still wants its signatures.
            assert (await client.get("/orders", headers=alpaca_headers(account))).status_code == 401
            admin_only = await client.put(
                "/admin/alpaca/rate-limit",
                json={"requests_per_minute": None},
                headers=alpaca_headers(account, "trading-key"),
            )
            assert admin_only.status_code == 401
