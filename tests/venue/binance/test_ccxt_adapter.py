"""CcxtAdapter: real, unmodified ccxt (``ccxt.async_support.binance``) against the paper
venue's Binance dialect on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.security.keys import KeyConfigError
from execbatch.venue.adapters.ccxt_adapter import (
    CCXT_CAPABILITIES,
    CcxtAdapter,
    exchange_client_order_id,
)
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess, free_port
from execbatch.venue.port.adapter import (
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.capabilities import ClientIdScope
from execbatch.venue.port.orders import OrderRequest
from execbatch.worker import check_rerun_gap
from execbatch.workflows.activity_options import RERUN_GAP
from tests.venue.binance.conftest import RECV_WINDOW_MS
from tests.venue.binance.helpers import (
    BinanceSetup,
    RawBinance,
    new_base_asset,
    register_instrument,
    set_rate_limit,
)
from tests.venue.helpers import new_id


def _order(
    setup: BinanceSetup,
    quantity: str = "1.000",
    *,
    side: OrderSide = OrderSide.BUY,
    order_type: OrderType = OrderType.MARKET,
    limit_price: str | None = None,
    client_order_id: str | None = None,
    tif: TimeInForce = TimeInForce.GTC,
    symbol: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id or new_id("cx"),
        account=setup.account,
        symbol=symbol or setup.symbol,
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        limit_price=None if limit_price is None else Decimal(limit_price),
        time_in_force=tif,
    )


async def _venue_orders(admin: PaperVenueAdmin, setup: BinanceSetup, venue_id: str) -> int:
    orders = await admin.orders(setup.account)
    return sum(1 for order in orders if order.client_order_id == venue_id)


# ------------------------------------------------------------ configuration


def test_binance_capability_entry() -> None:
    entry = CCXT_CAPABILITIES["binance"]
    assert entry.venue == "ccxt:binance"
    assert entry.client_id_scope is ClientIdScope.OPEN_ORDERS
    assert entry.cancel_fences_unknown_id is False
    assert entry.lookup_by_client_id is True
    assert entry.status_unknown_answers is True
    assert entry.placement_landing_bound_seconds == 1.9  # recvWindow 0.9 s + 1 s clock tolerance
    assert entry.max_client_order_id_length == 36
    assert entry.client_order_id_pattern == r"^[A-Za-z0-9_-]{1,36}$"
    assert entry.fractional_quantities is True


def test_an_exchange_without_a_capability_entry_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'kraken' has no capability entry.*binance"):
        CcxtAdapter("kraken", environ={})


async def test_configuration_from_the_environment_never_shows_the_keys() -> None:
    adapter = CcxtAdapter(
        environ={
            "EXECBATCH_CCXT_API_KEY": "visible-key-must-not-leak",
            "EXECBATCH_CCXT_SECRET": "secret-must-not-leak",
            "EXECBATCH_VENUE_SANDBOX": "1",
        }
    )
    try:
        shown = repr(adapter)
        assert "must-not-leak" not in shown
        urls = adapter._exchange.urls["api"]
        assert urls["public"].startswith("https://testnet.binance.vision/")
        assert adapter._exchange.apiKey == "visible-key-must-not-leak"
    finally:
        await adapter.aclose()
    override = CcxtAdapter(environ={"EXECBATCH_CCXT_API_URL": "http://127.0.0.1:9/"})
    try:
        assert override._exchange.urls["api"] == {
            "public": "http://127.0.0.1:9/api/v3",
            "private": "http://127.0.0.1:9/api/v3",
            "v1": "http://127.0.0.1:9/api/v1",
        }
        assert override.capabilities.placement_landing_bound_seconds == 1.9
    finally:
        await override.aclose()
    with pytest.raises(ValueError, match="either"):
        CcxtAdapter(sandbox=True, api_urls="http://127.0.0.1:9", environ={})
    with pytest.raises(KeyConfigError, match="EXECBATCH_CCXT_SECRET") as missing:
        CcxtAdapter.from_env(environ={"EXECBATCH_CCXT_API_KEY": "key-must-not-leak"})
    assert "must-not-leak" not in str(missing.value)
    keys = {"EXECBATCH_CCXT_API_KEY": "k", "EXECBATCH_CCXT_SECRET": "s"}
    with pytest.raises(KeyConfigError, match=r"production API .*EXECBATCH_CCXT_ALLOW_LIVE=1"):
        CcxtAdapter.from_env(environ=keys)  # neither testnet, nor a URL, nor live asked for
    live = CcxtAdapter.from_env(environ={**keys, "EXECBATCH_CCXT_ALLOW_LIVE": "1"})
    try:
        assert live.endpoint == "https://api.binance.com/api/v3"
    finally:
        await live.aclose()
    keys["EXECBATCH_VENUE_SANDBOX"] = "1"
    timed = CcxtAdapter.from_env(environ={**keys, "EXECBATCH_CCXT_TIMEOUT": "2.5"})
    try:
        assert timed._exchange.timeout == 2500  # ccxt counts milliseconds
    finally:
        await timed.aclose()
    for bad in ("soon", "0"):
        with pytest.raises(KeyConfigError, match="EXECBATCH_CCXT_TIMEOUT"):
            CcxtAdapter.from_env(environ={**keys, "EXECBATCH_CCXT_TIMEOUT": bad})


def test_client_order_ids_are_sent_as_is_or_derived_deterministically() -> None:
    assert exchange_client_order_id("t-abc_1", max_length=36) == "t-abc_1"
    ours = placement_order_id("batch-d-42", "c1")  # batch-d-42:c1:place
    derived = exchange_client_order_id(ours, max_length=36)
    assert derived == exchange_client_order_id(ours, max_length=36)
    assert derived.startswith("d-42-c1-place-") and len(derived) <= 36
    assert derived != exchange_client_order_id("batch-d-42:c1:revert-1", max_length=36)
    long_id = "b-" + "x" * 250 + ":c9:place"
    assert exchange_client_order_id(long_id, max_length=36).startswith("c9-place-")


# ------------------------------------------------------------------ orders


async def test_market_order_fills_with_exact_decimals(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await admin.set_prices({binance.symbol: "100.01"})
    order = await ccxt_adapter.place_order(_order(binance, "0.123"))
    assert order.status is VenueOrderStatus.FILLED
    assert order.filled_quantity == Decimal("0.123")
    assert order.avg_fill_price == Decimal("100.01")
    assert order.quantity == Decimal("0.123")
    assert order.symbol == binance.symbol and order.account == binance.account
    positions = await ccxt_adapter.positions(binance.account)
    assert [(p.symbol, p.quantity) for p in positions] == [(binance.symbol, Decimal("0.123"))]
    cash = await admin.account(binance.account)
    assert cash.cash == Decimal("100000") - Decimal("0.123") * Decimal("100.01")


async def test_limit_order_rests_then_fills_on_a_price_move(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    request = _order(binance, "2.000", order_type=OrderType.LIMIT, limit_price="95.00")
    resting = await ccxt_adapter.place_order(request)
    assert resting.status is VenueOrderStatus.NEW
    assert resting.limit_price == Decimal("95")
    assert resting.time_in_force is TimeInForce.GTC
    await admin.set_prices({binance.symbol: "94.50"})
    filled = await ccxt_adapter.get_order(request.client_order_id)
    assert filled.status is VenueOrderStatus.FILLED
    assert filled.avg_fill_price == Decimal("94.50")
    assert filled.venue_order_id == resting.venue_order_id


async def test_partial_fill_then_cancel_keeps_what_filled(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await admin.add_fault(kind="partial_fill", fraction="0.4", symbol=binance.symbol, max_hits=2)
    request = _order(binance, "5.000", order_type=OrderType.LIMIT, limit_price="101.00")
    partial = await ccxt_adapter.place_order(request)
    assert partial.status is VenueOrderStatus.PARTIALLY_FILLED
    assert partial.filled_quantity == Decimal("2")
    canceled = await ccxt_adapter.cancel_order(request.client_order_id)
    assert canceled.status is VenueOrderStatus.CANCELED
    assert canceled.filled_quantity == Decimal("2")
    assert canceled.client_order_id == request.client_order_id
    # A MARKET remainder the venue cancels (Binance: EXPIRED) is CANCELED for us.
    market = await ccxt_adapter.place_order(_order(binance, "1.000"))
    assert market.status is VenueOrderStatus.CANCELED
    assert market.filled_quantity == Decimal("0.4")


async def test_cancel_of_an_unknown_id_fences_nothing(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    before = await admin.stats()
    client_order_id = new_id("unknown")
    await ccxt_adapter.place_order(_order(binance))  # the adapter knows the market now
    ccxt_adapter._symbols[client_order_id] = binance.symbol
    with pytest.raises(OrderNotFound):
        await ccxt_adapter.cancel_order(client_order_id)
    with pytest.raises(OrderNotFound):
        await ccxt_adapter.get_order(client_order_id)
    after = await admin.stats()
    assert after.fenced_orders == before.fenced_orders
    assert after.orders_total == before.orders_total + 1
    placed = await ccxt_adapter.place_order(_order(binance, client_order_id=client_order_id))
    assert placed.status is VenueOrderStatus.FILLED


async def test_cancel_of_a_filled_order_returns_it(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup
) -> None:
    request = _order(binance)
    filled = await ccxt_adapter.place_order(request)
    again = await ccxt_adapter.cancel_order(request.client_order_id)
    assert again.status is VenueOrderStatus.FILLED
    assert again.venue_order_id == filled.venue_order_id


async def test_same_id_with_other_content_is_a_conflict(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup
) -> None:
    request = _order(binance)
    await ccxt_adapter.place_order(request)
    with pytest.raises(OrderConflict, match="quantity"):
        await ccxt_adapter.place_order(request.model_copy(update={"quantity": Decimal("2")}))


# ------------------------------------------------------------------ errors


async def test_business_refusals_are_rejections(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    with pytest.raises(VenueRejection) as funds:
        await ccxt_adapter.place_order(
            _order(binance, "600.000", order_type=OrderType.LIMIT, limit_price="200.00")
        )
    assert funds.value.error == "INSUFFICIENT_FUNDS"
    with pytest.raises(VenueRejection) as short:
        await ccxt_adapter.place_order(_order(binance, side=OrderSide.SELL))
    assert short.value.error == "INSUFFICIENT_FUNDS"
    with pytest.raises(VenueRejection) as unknown:
        await ccxt_adapter.place_order(_order(binance, symbol="NOPE/USDT"))
    assert unknown.value.error == "UNKNOWN_SYMBOL"

    await admin.add_fault(kind="reject", error="UNKNOWN_SYMBOL", symbol=binance.symbol, max_hits=1)
    with pytest.raises(VenueRejection) as bad_symbol:  # -1121 from the venue
        await ccxt_adapter.place_order(_order(binance))
    assert bad_symbol.value.error == "UNKNOWN_SYMBOL"
    await admin.add_fault(
        kind="reject", error="INVALID_ORDER", message="no", symbol=binance.symbol, max_hits=1
    )
    with pytest.raises(VenueRejection) as invalid:  # -2010 from the venue
        await ccxt_adapter.place_order(_order(binance))
    assert invalid.value.error == "INVALID_ORDER"
    assert await admin.orders(binance.account) == []


@pytest.mark.parametrize(
    ("quantity", "order_type", "limit_price", "rule"),
    [
        ("0.0005", OrderType.MARKET, None, "below LOT_SIZE minQty 0.00100000"),
        ("1.0005", OrderType.MARKET, None, "not on LOT_SIZE stepSize 0.00100000"),
        ("1001.000", OrderType.MARKET, None, "above LOT_SIZE maxQty 1000.00000000"),
        ("0.050", OrderType.MARKET, None, "below NOTIONAL minNotional 10.00000000"),
        ("0.050", OrderType.LIMIT, "99.00", "below NOTIONAL minNotional 10.00000000"),
        ("1.000", OrderType.LIMIT, "99.005", "not on PRICE_FILTER tickSize 0.01000000"),
    ],
)
async def test_a_leg_breaking_a_venue_rule_is_refused_before_sending(
    ccxt_adapter: CcxtAdapter,
    binance: BinanceSetup,
    admin: PaperVenueAdmin,
    quantity: str,
    order_type: OrderType,
    limit_price: str | None,
    rule: str,
) -> None:
    await ccxt_adapter.instrument_rules([binance.symbol])  # markets loaded
    before = (await admin.stats()).requests["place"]
    request = _order(binance, quantity, order_type=order_type, limit_price=limit_price)
    with pytest.raises(VenueRejection) as refused:
        await ccxt_adapter.place_order(request)
    assert refused.value.error == "INVALID_ORDER"
    assert rule in refused.value.message
    assert (await admin.stats()).requests["place"] == before


async def test_venue_side_filter_failures_are_invalid_orders(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    """Rules that changed after the markets were loaded: the venue's -1013 is final too."""
    await ccxt_adapter.instrument_rules([binance.symbol])
    await register_instrument(admin, binance.symbol, step_size="0.01", min_notional="150")
    with pytest.raises(VenueRejection) as lot:  # ccxt: InvalidOrder (LOT_SIZE)
        await ccxt_adapter.place_order(_order(binance, "2.001"))
    assert lot.value.error == "INVALID_ORDER" and "LOT_SIZE" in lot.value.message
    with pytest.raises(VenueRejection) as notional:  # ccxt: BadRequest (-1013 NOTIONAL)
        await ccxt_adapter.place_order(
            _order(binance, "1.00", order_type=OrderType.LIMIT, limit_price="99.00")
        )
    assert notional.value.error == "INVALID_ORDER" and "NOTIONAL" in notional.value.message
    assert await admin.orders(binance.account) == []


async def test_markets_older_than_their_max_age_are_read_again(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    """A filter changed at the venue: the default adapter (an hour) keeps the rules it
    read; one whose markets are older than its max age reads them again."""
    refreshing = _another_worker(binance, markets_max_age_seconds=0.2)
    try:
        for adapter in (ccxt_adapter, refreshing):
            rules = await adapter.instrument_rules([binance.symbol])
            assert rules[binance.symbol].quantity_step == Decimal("0.001")
        await register_instrument(admin, binance.symbol, step_size="0.01")
        await asyncio.sleep(0.3)
        kept = await ccxt_adapter.instrument_rules([binance.symbol])
        read_again = await refreshing.instrument_rules([binance.symbol])
    finally:
        await refreshing.aclose()
    assert kept[binance.symbol].quantity_step == Decimal("0.001")
    assert read_again[binance.symbol].quantity_step == Decimal("0.01")


async def test_a_cancel_whose_answer_was_lost_is_settled_by_a_retry(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    request = _order(binance, "1.000", order_type=OrderType.LIMIT, limit_price="90.00")
    await ccxt_adapter.place_order(request)
    await admin.add_fault(
        kind="fail_after_place", endpoint="cancel", client_order_id_prefix="cx", max_hits=1
    )
    with pytest.raises(VenueUnavailable, match="RequestTimeout"):  # -1007
        await ccxt_adapter.cancel_order(request.client_order_id)
    canceled = await ccxt_adapter.cancel_order(request.client_order_id)  # -2011, looked up
    assert canceled.status is VenueOrderStatus.CANCELED


async def test_instrument_rules_come_from_the_venue_filters(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    other = f"{new_base_asset()}/USDT"
    await register_instrument(
        admin,
        other,
        step_size="0.00000001",
        tick_size="0.00000001",
        min_notional="0.0001",
        notional_filter="MIN_NOTIONAL",
    )
    await admin.set_prices({other: "0.00001234"})
    rules = await ccxt_adapter.instrument_rules([binance.symbol, other])
    ours = rules[binance.symbol]
    assert ours.quantity_step == Decimal("0.001") and ours.min_quantity == Decimal("0.001")
    assert ours.max_quantity == Decimal("1000") and ours.price_tick == Decimal("0.01")
    assert ours.min_notional == Decimal("10") and ours.tradable
    assert rules[other].quantity_step == Decimal("0.00000001")
    assert rules[other].min_notional == Decimal("0.0001")
    with pytest.raises(VenueRejection, match="UNKNOWN_SYMBOL"):
        await ccxt_adapter.instrument_rules(["NOPE/USDT"])
    # Decimal exactness at eight places end to end.
    tiny = await ccxt_adapter.place_order(_order(binance, "12.345", symbol=other))
    assert tiny.filled_quantity == Decimal("12.345")
    assert tiny.avg_fill_price == Decimal("0.00001234")


async def test_unavailable_and_refused_requests_are_transient(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    request = _order(binance, "2.000", order_type=OrderType.LIMIT, limit_price="90.00")
    await ccxt_adapter.place_order(request)
    await admin.add_fault(kind="error_503", endpoint="get", client_order_id_prefix="cx", max_hits=1)
    with pytest.raises(VenueUnavailable, match=r"OperationFailed|ExchangeNotAvailable"):
        await ccxt_adapter.get_order(request.client_order_id)
    # -1021: our clock (as ccxt sees it) 10 s behind the venue's.
    ccxt_adapter._exchange.options["timeDifference"] = 10_000
    with pytest.raises(VenueUnavailable, match="InvalidNonce"):
        await ccxt_adapter.get_order(request.client_order_id)
    ccxt_adapter._exchange.options["timeDifference"] = 0
    # -1003 / 429, then 418.
    await set_rate_limit(admin, weight=1, ban_after_429s=1, ban_seconds=30)
    with pytest.raises(VenueUnavailable, match=r"DDoSProtection|RateLimitExceeded"):
        await ccxt_adapter.get_order(request.client_order_id)
    with pytest.raises(VenueUnavailable, match="418"):
        await ccxt_adapter.get_order(request.client_order_id)
    await set_rate_limit(admin)
    assert (await ccxt_adapter.get_order(request.client_order_id)).status is VenueOrderStatus.NEW


async def test_a_venue_that_is_down_is_unavailable(binance: BinanceSetup) -> None:
    adapter = CcxtAdapter(
        api_urls=f"http://127.0.0.1:{free_port('127.0.0.1')}",
        api_key=binance.api_key,
        secret=binance.secret,
        timeout=2.0,
        environ={},
    )
    try:
        with pytest.raises(VenueUnavailable, match="loading markets"):
            await adapter.place_order(_order(binance))
    finally:
        await adapter.aclose()


async def test_wrong_credentials_are_a_configuration_error(binance: BinanceSetup) -> None:
    adapter = CcxtAdapter(
        api_urls=binance.base_url, api_key=binance.api_key, secret="not-the-secret", environ={}
    )
    try:
        with pytest.raises(RuntimeError, match="EXECBATCH_CCXT_API_KEY") as refused:
            await adapter.positions()
        assert "not-the-secret" not in str(refused.value)
    finally:
        await adapter.aclose()


# ----------------------------------------------------- at most one order per id


async def test_a_lost_response_is_found_by_looking_the_id_up(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await admin.add_fault(kind="fail_after_place", symbol=binance.symbol, max_hits=1)
    request = _order(binance)
    started = time.monotonic()
    order = await ccxt_adapter.place_order(request)  # -1007, then found at once
    assert time.monotonic() - started < 1.0
    assert order.status is VenueOrderStatus.FILLED
    venue_id = ccxt_adapter.venue_client_order_id(request.client_order_id)
    assert await _venue_orders(admin, binance, venue_id) == 1
    assert (await admin.stats()).faults_injected["fail_after_place"] >= 1


async def test_retry_a_placement_after_its_order_filled_places_exactly_one_order(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin, raw: RawBinance
) -> None:
    request = _order(binance, client_order_id=placement_order_id(new_id("batch"), "c1"))
    first = await ccxt_adapter.place_order(request)
    assert first.status is VenueOrderStatus.FILLED
    for _ in range(3):  # an activity retry, a re-run worker, a duplicate delivery
        again = await ccxt_adapter.place_order(request)
        assert again.venue_order_id == first.venue_order_id
    fresh = CcxtAdapter(
        api_urls=binance.base_url,
        api_key=binance.api_key,
        secret=binance.secret,
        recv_window_ms=RECV_WINDOW_MS,
        environ={},
    )
    try:  # another process, no memory of the first
        assert (await fresh.place_order(request)).venue_order_id == first.venue_order_id
    finally:
        await fresh.aclose()
    venue_id = ccxt_adapter.venue_client_order_id(request.client_order_id)
    assert await _venue_orders(admin, binance, venue_id) == 1
    # Without the look-up Binance would have taken it: the id is free once filled.
    resent = await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId=venue_id)
    assert resent.status_code == 200
    assert await _venue_orders(admin, binance, venue_id) == 2


@pytest.mark.parametrize("delay", ["0.8", "1.3"])
async def test_a_timed_out_placement_still_in_flight_lands_once(
    binance: BinanceSetup, admin: PaperVenueAdmin, delay: str
) -> None:
    """0.8 s: it lands inside its 1 s window, after the client gave up at 0.5 s, and is
    found once the landing bound passed. 1.3 s: its window closed before it reached the
    matching engine (refused), so after the bound the adapter sends it again."""
    adapter = CcxtAdapter(
        api_urls=binance.base_url,
        api_key=binance.api_key,
        secret=binance.secret,
        timeout=0.5,
        recv_window_ms=RECV_WINDOW_MS,
        environ={},
    )
    try:
        await adapter.instrument_rules([binance.symbol])
        await admin.add_fault(
            kind="latency", delay_seconds=delay, symbol=binance.symbol, max_hits=1
        )
        request = _order(binance)
        started = time.monotonic()
        order = await adapter.place_order(request)  # timeout; found after the landing bound
        elapsed = time.monotonic() - started
    finally:
        await adapter.aclose()
    assert order.status is VenueOrderStatus.FILLED
    assert elapsed >= RECV_WINDOW_MS / 1000  # it waited for the bound before deciding
    venue_id = exchange_client_order_id(request.client_order_id, max_length=36)
    assert await _venue_orders(admin, binance, venue_id) == 1


def _another_worker(setup: BinanceSetup, **options: Any) -> CcxtAdapter:
    return CcxtAdapter(
        api_urls=setup.base_url,
        api_key=setup.api_key,
        secret=setup.secret,
        recv_window_ms=RECV_WINDOW_MS,
        environ={},
        **options,
    )


async def _cut_off_mid_send(adapter: CcxtAdapter, request: OrderRequest) -> datetime:
    """An attempt that times out while its placement is on the wire; when it ended."""
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.3):
            await adapter.place_order(request)
    return datetime.now(UTC)


async def _after_the_held_send(admin: PaperVenueAdmin, setup: BinanceSetup, venue_id: str) -> int:
    await asyncio.sleep(1.0)  # the send held 0.8 s on the wire has landed by now
    return await _venue_orders(admin, setup, venue_id)


@pytest.mark.parametrize("told", [True, False], ids=["told", "not-told"])
async def test_a_retry_on_another_worker_waits_out_the_earlier_attempts_send(
    binance: BinanceSetup, admin: PaperVenueAdmin, told: bool
) -> None:
    """The first attempt's send is held 0.8 s on the way (it lands inside its 1 s window)
    and the attempt is cut off at 0.3 s. Its retry runs on another worker, which has no
    record of that send. Told when the attempt ended, it looks the id up only after the
    landing bound and finds that order. Not told, it sends at once, its market order
    fills and frees the id, and the late send lands beside it: two orders for one id
    (what the chaos run on this dialect once found)."""
    first, second = _another_worker(binance), _another_worker(binance)
    try:
        for adapter in (first, second):
            await adapter.instrument_rules([binance.symbol])
        await admin.add_fault(
            kind="latency", delay_seconds="0.8", symbol=binance.symbol, max_hits=1
        )
        request = _order(binance)
        ended = await _cut_off_mid_send(first, request)
        order = await second.place_order(request, earlier_sends_by=ended if told else None)
    finally:
        await first.aclose()
        await second.aclose()
    assert order.status is VenueOrderStatus.FILLED
    venue_id = second.venue_client_order_id(request.client_order_id)
    assert await _after_the_held_send(admin, binance, venue_id) == (1 if told else 2)


async def test_a_retry_in_the_same_process_waits_out_a_send_cut_off_mid_flight(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    """The process keeps the record of a send from before it goes out, so an attempt
    cancelled on the wire (no error to record) still holds the next one back."""
    await ccxt_adapter.instrument_rules([binance.symbol])
    await admin.add_fault(kind="latency", delay_seconds="0.8", symbol=binance.symbol, max_hits=1)
    request = _order(binance)
    await _cut_off_mid_send(ccxt_adapter, request)
    assert (await ccxt_adapter.place_order(request)).status is VenueOrderStatus.FILLED
    venue_id = ccxt_adapter.venue_client_order_id(request.client_order_id)
    assert await _after_the_held_send(admin, binance, venue_id) == 1


async def test_a_503_that_did_nothing_is_sent_again_after_the_landing_bound(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await ccxt_adapter.instrument_rules([binance.symbol])
    await admin.add_fault(kind="error_503", symbol=binance.symbol, max_hits=1)
    request = _order(binance)
    started = time.monotonic()
    order = await ccxt_adapter.place_order(request)
    elapsed = time.monotonic() - started
    bound = ccxt_adapter.capabilities.placement_landing_bound_seconds
    assert bound == RECV_WINDOW_MS / 1000 + 1.0
    assert elapsed >= bound
    assert order.status is VenueOrderStatus.FILLED
    venue_id = ccxt_adapter.venue_client_order_id(request.client_order_id)
    assert await _venue_orders(admin, binance, venue_id) == 1


async def test_placements_that_keep_failing_stop_after_three_sends(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await ccxt_adapter.instrument_rules([binance.symbol])
    await admin.add_fault(kind="error_503", symbol=binance.symbol, max_hits=3)
    before = (await admin.stats()).requests["place"]
    request = _order(binance)
    started = time.monotonic()
    with pytest.raises(VenueUnavailable, match="safe to retry"):
        await ccxt_adapter.place_order(request)
    bound = ccxt_adapter.capabilities.placement_landing_bound_seconds or 0
    assert time.monotonic() - started >= 3 * bound  # each send waited out before the next
    assert (await admin.stats()).requests["place"] == before + 3
    assert (await ccxt_adapter.place_order(request)).status is VenueOrderStatus.FILLED
    venue_id = ccxt_adapter.venue_client_order_id(request.client_order_id)
    assert await _venue_orders(admin, binance, venue_id) == 1


# ------------------------------------------------------------ id round trip


async def test_a_shortened_id_round_trips_through_lookups(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    batch = new_id("batch-with-a-rather-long-name")
    filled_request = _order(binance, client_order_id=placement_order_id(batch, "c1"))
    resting_request = _order(
        binance,
        "1.000",
        order_type=OrderType.LIMIT,
        limit_price="80.00",
        client_order_id=placement_order_id(batch, "c2"),
    )
    filled = await ccxt_adapter.place_order(filled_request)
    resting = await ccxt_adapter.place_order(resting_request)
    venue_ids = {order.client_order_id for order in await admin.orders(binance.account)}
    expected = {
        exchange_client_order_id(filled_request.client_order_id, max_length=36),
        exchange_client_order_id(resting_request.client_order_id, max_length=36),
    }
    assert venue_ids == expected
    assert all(":" not in venue_id and len(venue_id) <= 36 for venue_id in venue_ids)
    assert filled.client_order_id == filled_request.client_order_id

    # Another process finds both from our ids alone (open orders, then holdings).
    fresh = CcxtAdapter(
        api_urls=binance.base_url, api_key=binance.api_key, secret=binance.secret, environ={}
    )
    try:
        found = await fresh.get_order(filled_request.client_order_id)
        assert found.venue_order_id == filled.venue_order_id
        assert found.client_order_id == filled_request.client_order_id
        canceled = await fresh.cancel_order(resting_request.client_order_id)
        assert canceled.status is VenueOrderStatus.CANCELED
        assert canceled.venue_order_id == resting.venue_order_id
        with pytest.raises(OrderNotFound):
            await fresh.get_order(placement_order_id(batch, "c3"))
    finally:
        await fresh.aclose()


async def test_the_adapter_works_against_a_venue_with_keys_set(tmp_path: object) -> None:
    """With the venue's own keys configured, /api/v3 still answers Binance's HMAC."""
    env = {
        "EXECBATCH_VENUE_API_KEY": "trading-secret-123",
        "EXECBATCH_VENUE_ADMIN_KEY": "admin-secret-456",
        "EXECBATCH_PAPER_BINANCE_KEYS": "envkey12345:envsecret12345:default",
        "EXECBATCH_PAPER_BINANCE_INSTRUMENTS": "",
    }
    async with VenueProcess(env=env, extra_args=["--price", "BTC/USDT=60000"]) as venue:
        adapter = CcxtAdapter(
            api_urls=venue.base_url, api_key="envkey12345", secret="envsecret12345", environ={}
        )
        try:
            order = await adapter.place_order(
                OrderRequest(
                    client_order_id="keys-1",
                    account="default",
                    symbol="BTC/USDT",
                    side=OrderSide.BUY,
                    order_type=OrderType.MARKET,
                    quantity=Decimal("0.01"),
                )
            )
            assert order.status is VenueOrderStatus.FILLED
            assert order.avg_fill_price == Decimal("60000")
        finally:
            await adapter.aclose()


# ------------------------------------------------- the re-run gap (worker.py)


def test_a_worker_refuses_a_receive_window_its_rerun_gap_cannot_cover() -> None:
    """A placement lost with a killed worker is re-run, told nothing, at least
    ``RERUN_GAP`` (1.9 s) after that worker's last send: the default window's landing
    bound fits it, Binance's own default (5 s, bound 6 s) does not."""
    env = {"EXECBATCH_CCXT_API_URL": "http://127.0.0.1:9/"}
    assert RERUN_GAP.total_seconds() == 1.9
    check_rerun_gap(CCXT_CAPABILITIES["binance"])
    check_rerun_gap(PaperVenueAdapter("http://127.0.0.1:9").capabilities)  # ids kept for ever
    with pytest.raises(ValueError, match="recv_window_ms") as refused:
        check_rerun_gap(CcxtAdapter(recv_window_ms=5000, environ=env).capabilities)
    assert "6 s after it is sent" in str(refused.value)


async def test_a_look_up_given_the_symbol_reads_that_market_alone(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup
) -> None:
    """Another process (a REDUCING claim's decision) looks an order up with its symbol:
    one GET /api/v3/order in that market, never the search through balances (weight 20)
    and all open orders (weight 80) it makes without one."""
    placed = await ccxt_adapter.place_order(_order(binance))
    fresh = CcxtAdapter(
        api_urls=binance.base_url, api_key=binance.api_key, secret=binance.secret, environ={}
    )

    async def no_search(*_args: object, **_kwargs: object) -> object:
        raise AssertionError("searched the markets although the symbol was given")

    try:
        await fresh._load_markets()
        fresh._client.fetch_balance = no_search  # type: ignore[method-assign]
        fresh._client.fetch_open_orders = no_search  # type: ignore[method-assign]
        found = await fresh.get_order(placed.client_order_id, symbol=binance.symbol)
        assert found.venue_order_id == placed.venue_order_id
        assert found.filled_quantity == placed.filled_quantity
        with pytest.raises(OrderNotFound):
            await fresh.get_order(new_id("never"), symbol=binance.symbol)
    finally:
        await fresh.aclose()


async def test_a_closed_sale_that_emptied_its_asset_is_found_when_its_symbol_is_given(
    ccxt_adapter: CcxtAdapter, binance: BinanceSetup
) -> None:
    """A settlement on another worker cancels (or looks up) a leg whose SELL filled and
    left none of the asset: the search by balances cannot find its market, so without
    the symbol the order reads as never placed (a chaos run reported such a leg filled
    0); with the symbol (the command's, which settlement passes) it is the filled order."""
    await ccxt_adapter.place_order(_order(binance, "2.000"))
    sale = await ccxt_adapter.place_order(_order(binance, "2.000", side=OrderSide.SELL))
    assert sale.status is VenueOrderStatus.FILLED
    # Each from a fresh adapter: another worker, which never placed the order.
    async with _fresh_adapter(binance) as fresh:
        with pytest.raises(OrderNotFound):
            await fresh.cancel_order(sale.client_order_id)
        cancelled = await fresh.cancel_order(sale.client_order_id, symbol=binance.symbol)
    assert cancelled.status is VenueOrderStatus.FILLED
    assert cancelled.filled_quantity == Decimal("2.000")
    async with _fresh_adapter(binance) as again:
        with pytest.raises(OrderNotFound):
            await again.get_order(sale.client_order_id)
        found = await again.get_order(sale.client_order_id, symbol=binance.symbol)
    assert found.filled_quantity == Decimal("2.000")


@contextlib.asynccontextmanager
async def _fresh_adapter(binance: BinanceSetup) -> AsyncIterator[CcxtAdapter]:
    adapter = CcxtAdapter(
        api_urls=binance.base_url, api_key=binance.api_key, secret=binance.secret, environ={}
    )
    try:
        yield adapter
    finally:
        await adapter.aclose()
