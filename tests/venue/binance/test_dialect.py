"""The Binance spot dialect over raw HTTP: signing, timing, shapes, errors and the
OPEN_ORDERS client id scope, without ccxt in between."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.dialects.binance import (
    ENV_INSTRUMENTS,
    ENV_KEYS,
    BinanceDialectState,
)
from tests.venue.binance.helpers import (
    BinanceSetup,
    RawBinance,
    register_instrument,
    set_rate_limit,
    signature,
)
from tests.venue.helpers import new_id, new_symbol


def _error(response: httpx.Response) -> tuple[int, int, str]:
    body = response.json()
    return response.status_code, body["code"], body["msg"]


async def _orders_with_id(admin: PaperVenueAdmin, account: str, client_order_id: str) -> int:
    return sum(
        1 for order in await admin.orders(account) if order.client_order_id == client_order_id
    )


# ------------------------------------------------------------------- public


async def test_public_endpoints_answer_binance_shapes(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    assert (await raw.public("/api/v3/ping")).json() == {}
    server_time = (await raw.public("/api/v3/time")).json()["serverTime"]
    assert abs(server_time - time.time() * 1000) < 5000

    unpriced = f"{new_symbol()[:9]}/USDT"
    await register_instrument(admin, unpriced, min_notional="5", notional_filter="MIN_NOTIONAL")
    info = (await raw.public("/api/v3/exchangeInfo")).json()
    symbols = {entry["symbol"]: entry for entry in info["symbols"]}
    ours = symbols[binance.market_id]
    assert ours["status"] == "TRADING"
    assert ours["baseAsset"] == binance.market_id.removesuffix("USDT")
    assert ours["quoteAsset"] == "USDT"
    assert ours["orderTypes"] == ["LIMIT", "MARKET"]
    filters = {item["filterType"]: item for item in ours["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"] == {
        "filterType": "LOT_SIZE",
        "minQty": "0.00100000",
        "maxQty": "1000.00000000",
        "stepSize": "0.00100000",
    }
    assert filters["NOTIONAL"]["minNotional"] == "10.00000000"
    other = symbols[unpriced.replace("/", "")]
    assert other["status"] == "BREAK"  # no reference price yet
    assert {item["filterType"] for item in other["filters"]} >= {"MIN_NOTIONAL"}

    one = (await raw.public("/api/v3/exchangeInfo", {"symbol": binance.market_id})).json()
    assert [entry["symbol"] for entry in one["symbols"]] == [binance.market_id]
    price = (await raw.public("/api/v3/ticker/price", {"symbol": binance.market_id})).json()
    assert price == {"symbol": binance.market_id, "price": "100.00000000"}


# ------------------------------------------------------------ signed security


async def test_signature_is_required_and_checked(raw: RawBinance, binance: BinanceSetup) -> None:
    params = {"symbol": binance.market_id}
    ok = await raw.signed("GET", "/api/v3/openOrders", params)
    assert ok.status_code == 200, ok.text
    assert ok.json() == []

    assert _error(await raw.signed("GET", "/api/v3/openOrders", params, tamper=True))[:2] == (
        400,
        -1022,
    )
    assert _error(
        await raw.signed("GET", "/api/v3/openOrders", params, secret="wrong-secret-123")
    ) == (400, -1022, "Signature for this request is not valid.")
    assert _error(await raw.signed("GET", "/api/v3/openOrders", params, api_key="")) == (
        401,
        -2014,
        "API-key format invalid.",
    )
    assert _error(
        await raw.signed("GET", "/api/v3/openOrders", params, api_key="unknownkey123")
    ) == (401, -2015, "Invalid API-key, IP, or permissions for action.")

    unsigned = await raw.client.get(
        f"{binance.base_url}/api/v3/openOrders",
        params={"symbol": binance.market_id, "timestamp": str(int(time.time() * 1000))},
        headers={"X-MBX-APIKEY": binance.api_key},
    )
    code = _error(unsigned)
    assert code[:2] == (400, -1102) and "'signature'" in code[2]


async def test_signature_is_not_case_sensitive(raw: RawBinance, binance: BinanceSetup) -> None:
    query = f"symbol={binance.market_id}&timestamp={int(time.time() * 1000)}"
    upper = signature(binance.secret, query).upper()
    answer = await raw.client.get(
        f"{binance.base_url}/api/v3/openOrders?{query}&signature={upper}",
        headers={"X-MBX-APIKEY": binance.api_key},
    )
    assert answer.status_code == 200, answer.text


async def test_mixed_query_and_body_sign_their_concatenation(
    raw: RawBinance, binance: BinanceSetup
) -> None:
    """Binance's "Example 3": totalParams = query string + body, no '&' between them."""
    query = f"symbol={binance.market_id}&side=BUY&type=LIMIT&timeInForce=GTC"
    body = f"quantity=0.200&price=99.00&newClientOrderId=mixed1&timestamp={int(time.time() * 1000)}"
    sig = signature(binance.secret, query + body)
    answer = await raw.client.post(
        f"{binance.base_url}/api/v3/order?{query}",
        content=f"{body}&signature={sig}",
        headers={
            "X-MBX-APIKEY": binance.api_key,
            "content-type": "application/x-www-form-urlencoded",
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "NEW"


async def test_timestamp_and_recv_window_are_enforced(
    raw: RawBinance, binance: BinanceSetup
) -> None:
    params = {"symbol": binance.market_id}
    now = int(time.time() * 1000)
    stale = await raw.signed("GET", "/api/v3/openOrders", params, timestamp=now - 6000)
    assert _error(stale) == (400, -1021, "Timestamp for this request is outside of the recvWindow.")
    ahead = await raw.signed("GET", "/api/v3/openOrders", params, timestamp=now + 5000)
    assert _error(ahead)[:2] == (400, -1021)
    assert "1000ms ahead" in _error(ahead)[2]
    wide = await raw.signed(
        "GET", "/api/v3/openOrders", params, timestamp=now - 30000, recv_window=60000
    )
    assert wide.status_code == 200, wide.text
    too_wide = await raw.signed("GET", "/api/v3/openOrders", params, recv_window=60001)
    assert _error(too_wide)[:2] == (400, -1131)
    narrow = await raw.signed(
        "GET", "/api/v3/openOrders", params, timestamp=now - 1500, recv_window=1000
    )
    assert _error(narrow)[:2] == (400, -1021)


async def test_a_placement_delayed_past_its_window_is_refused_at_commit(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    """recvWindow is checked again when the order would be committed, after any delay."""
    await admin.add_fault(kind="latency", delay_seconds="1.5", symbol=binance.symbol, max_hits=1)
    answer = await raw.signed(
        "POST",
        "/api/v3/order",
        {
            "symbol": binance.market_id,
            "side": "BUY",
            "type": "MARKET",
            "quantity": "1.000",
            "newClientOrderId": "late1",
        },
        recv_window=1000,
    )
    assert _error(answer)[:2] == (400, -1021)
    assert await _orders_with_id(admin, binance.account, "late1") == 0


# ----------------------------------------------------------- orders & shapes


async def test_market_order_full_response(raw: RawBinance, binance: BinanceSetup) -> None:
    answer = await raw.place(side="BUY", type="MARKET", quantity="0.123", newClientOrderId="m1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["symbol"] == binance.market_id
    assert body["clientOrderId"] == "m1"
    assert body["status"] == "FILLED"
    assert body["origQty"] == "0.12300000"
    assert body["executedQty"] == "0.12300000"
    assert body["cummulativeQuoteQty"] == "12.30000000"
    assert body["price"] == "0.00000000"
    assert body["type"] == "MARKET" and body["side"] == "BUY" and body["orderListId"] == -1
    assert isinstance(body["orderId"], int) and isinstance(body["transactTime"], int)
    assert [(fill["price"], fill["qty"]) for fill in body["fills"]] == [
        ("100.00000000", "0.12300000")
    ]
    ack = await raw.place(
        side="BUY", type="MARKET", quantity="0.200", newClientOrderId="m2", newOrderRespType="ACK"
    )
    assert set(ack.json()) == {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}


async def test_client_order_id_is_unique_among_open_orders_only(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    resting = await raw.place(
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="1.000",
        price="90.00",
        newClientOrderId="same-id",
    )
    assert resting.json()["status"] == "NEW"
    again = await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId="same-id")
    assert _error(again) == (400, -2010, "Duplicate order sent.")

    canceled = await raw.cancel("same-id")
    assert canceled.json()["status"] == "CANCELED"
    assert canceled.json()["origClientOrderId"] == "same-id"

    # Closed: the id is free again, twice over (a fill closes it at once).
    second = await raw.place(
        side="BUY", type="MARKET", quantity="1.000", newClientOrderId="same-id"
    )
    third = await raw.place(side="BUY", type="MARKET", quantity="2.000", newClientOrderId="same-id")
    assert second.status_code == third.status_code == 200
    ids = {resting.json()["orderId"], second.json()["orderId"], third.json()["orderId"]}
    assert len(ids) == 3
    assert await _orders_with_id(admin, binance.account, "same-id") == 3

    latest = (await raw.query("same-id")).json()
    assert latest["orderId"] == third.json()["orderId"]
    assert latest["origQty"] == "2.00000000"


async def test_unknown_cancel_answers_2011_and_records_nothing(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    before = await admin.stats()
    answer = await raw.cancel("never-placed")
    assert _error(answer) == (400, -2011, "Unknown order sent.")
    after = await admin.stats()
    assert after.orders_total == before.orders_total
    assert after.fenced_orders == before.fenced_orders
    assert after.requests["cancel"] == before.requests["cancel"] + 1
    # No fence: a placement with that id goes through.
    placed = await raw.place(
        side="BUY", type="MARKET", quantity="1.000", newClientOrderId="never-placed"
    )
    assert placed.json()["status"] == "FILLED"
    # Cancelling a closed order is "unknown" too (it is not open).
    assert _error(await raw.cancel("never-placed"))[:2] == (400, -2011)
    assert _error(await raw.query("not-there")) == (400, -2013, "Order does not exist.")


async def test_refusals_in_binance_words(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    def market(quantity: str, **extra: str) -> dict[str, str]:
        return {"side": "BUY", "type": "MARKET", "quantity": quantity, **extra}

    assert _error(await raw.place(**market("0.0005"))) == (400, -1013, "Filter failure: LOT_SIZE")
    assert _error(await raw.place(**market("1.0005"))) == (400, -1013, "Filter failure: LOT_SIZE")
    assert _error(await raw.place(**market("0.050"))) == (400, -1013, "Filter failure: NOTIONAL")
    limit = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "600.000"}
    assert _error(await raw.place(**limit, price="99.005")) == (
        400,
        -1013,
        "Filter failure: PRICE_FILTER",
    )
    assert _error(await raw.place(**market("2000.000"))) == (
        400,
        -1013,
        "Filter failure: LOT_SIZE",
    )
    assert _error(await raw.place(**limit, price="200.00")) == (
        400,
        -2010,
        "Account has insufficient balance for requested action.",
    )
    sell = await raw.place(side="SELL", type="MARKET", quantity="1.000")
    assert _error(sell) == (400, -2010, "Account has insufficient balance for requested action.")
    bad_id = await raw.place(**market("1.000", newClientOrderId="batch:c1:place"))
    assert _error(bad_id) == (
        400,
        -1100,
        "Illegal characters found in parameter 'newClientOrderId';"
        " legal range is '^[a-zA-Z0-9-_]{1,36}$'.",
    )
    too_long = await raw.place(**market("1.000", newClientOrderId="a" * 37))
    assert _error(too_long)[:2] == (400, -1100)
    unknown = await raw.signed(
        "POST",
        "/api/v3/order",
        {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
    )
    assert _error(unknown) == (400, -1121, "Invalid symbol.")
    assert _error(await raw.place(side="BUY", type="MARKET"))[:2] == (400, -1102)

    closed = f"{new_symbol()[:9]}/USDT"
    await register_instrument(admin, closed)
    closed_answer = await raw.signed(
        "POST",
        "/api/v3/order",
        {"symbol": closed.replace("/", ""), "side": "BUY", "type": "MARKET", "quantity": "1"},
    )
    assert _error(closed_answer) == (400, -2010, "Market is closed.")
    assert (await admin.orders(binance.account)) == []  # refusals store nothing


async def test_faults_apply_and_answer_in_binance_codes(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await admin.add_fault(kind="error_503", symbol=binance.symbol, max_hits=1)
    busy = await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId="f1")
    assert _error(busy) == (
        503,
        -1001,
        "Internal error; unable to process your request. Please try again.",
    )
    assert await _orders_with_id(admin, binance.account, "f1") == 0

    await admin.add_fault(kind="fail_after_place", symbol=binance.symbol, max_hits=1)
    lost = await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId="f2")
    status, code, message = _error(lost)
    assert (status, code) == (503, -1007)
    assert "execution status unknown" in message
    assert (await raw.query("f2")).json()["status"] == "FILLED"

    await admin.add_fault(kind="fail_after_place", endpoint="get", client_order_id_prefix="f2")
    assert _error(await raw.query("f2"))[:2] == (503, -1007)

    await admin.add_fault(kind="partial_fill", fraction="0.5", symbol=binance.symbol, max_hits=1)
    partial = (
        await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId="f3")
    ).json()
    assert partial["status"] == "EXPIRED"  # a MARKET remainder the venue cancelled
    assert partial["executedQty"] == "0.50000000"
    stats = await admin.stats()
    assert stats.faults_injected["error_503"] >= 1
    assert stats.faults_injected["fail_after_place"] >= 2


async def test_request_weight_limit_answers_429_then_418(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await set_rate_limit(admin, weight=2, ban_after_429s=1, ban_seconds=30)
    assert (await raw.public("/api/v3/ping")).status_code == 200
    assert (await raw.public("/api/v3/ping")).headers["X-MBX-USED-WEIGHT-1M"] == "2"
    limited = await raw.public("/api/v3/ping")
    assert _error(limited)[:2] == (429, -1003)
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    banned = await raw.public("/api/v3/ping")
    assert _error(banned)[:2] == (418, -1003)
    assert "banned until" in _error(banned)[2]
    assert int(banned.headers["Retry-After"]) == 30
    await set_rate_limit(admin)
    assert (await raw.public("/api/v3/ping")).status_code == 200


async def test_account_reports_spot_balances(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    await raw.place(side="BUY", type="MARKET", quantity="5.000")
    await raw.place(side="SELL", type="LIMIT", timeInForce="GTC", quantity="2.000", price="120.00")
    await raw.place(side="BUY", type="LIMIT", timeInForce="GTC", quantity="1.000", price="80.00")
    body = (await raw.signed("GET", "/api/v3/account", {"omitZeroBalances": "true"})).json()
    balances = {entry["asset"]: (entry["free"], entry["locked"]) for entry in body["balances"]}
    base = binance.market_id.removesuffix("USDT")
    assert balances[base] == ("3.00000000", "2.00000000")
    assert balances["USDT"] == ("99420.00000000", "80.00000000")  # 100000 - 500, 80 held
    assert body["accountType"] == "SPOT" and body["canTrade"] is True
    open_orders = (
        await raw.signed("GET", "/api/v3/openOrders", {"symbol": binance.market_id})
    ).json()
    assert sorted(order["side"] for order in open_orders) == ["BUY", "SELL"]


async def test_native_api_keeps_its_forever_scope_beside_dialect_orders(
    raw: RawBinance, binance: BinanceSetup, admin: PaperVenueAdmin
) -> None:
    for _ in range(2):
        placed = await raw.place(side="BUY", type="MARKET", quantity="1.000", newClientOrderId="n1")
        assert placed.status_code == 200
    before = await admin.stats()
    native = await admin.place_raw(
        {
            "client_order_id": "n1",
            "account": binance.account,
            "symbol": binance.symbol,
            "side": "BUY",
            "order_type": "MARKET",
            "quantity": "1.000",
        }
    )
    assert native.status_code == 200  # replayed: the latest order with that id
    assert native.json()["venue_order_id"] == f"V{placed.json()['orderId']:010d}"
    after = await admin.stats()
    assert after.orders_total == before.orders_total
    # The native cancel of an unknown id still fences it.
    fence_id = new_id("fence")
    async with httpx.AsyncClient() as client:
        fenced = await client.post(f"{binance.base_url}/orders/{fence_id}/cancel")
    assert fenced.json()["fenced"] is True
    assert Decimal(fenced.json()["quantity"]) == 0


def test_keys_and_instruments_from_the_environment(tmp_path: Path) -> None:
    listed = tmp_path / "instruments.json"
    listed.write_text(
        json.dumps([{"symbol": "SOL/USDT", "tick_size": "0.001", "step_size": "0.01"}]),
        encoding="utf-8",
    )
    state = BinanceDialectState.from_env(
        {ENV_KEYS: "key1:secret111:alice, key2:secret222:bob", ENV_INSTRUMENTS: str(listed)}
    )
    assert {key: spec.account for key, spec in state.keys.items()} == {
        "key1": "alice",
        "key2": "bob",
    }
    [configured] = state.configured  # listed in the venue's instruments at start
    assert (configured.binance_symbol, configured.lowest_qty) == ("SOLUSDT", Decimal("0.01"))
    assert configured.listing().min_quantity == Decimal("0.01")
    assert BinanceDialectState.from_env({}).configured == []  # the venue's own defaults
    with pytest.raises(ValueError, match="API_KEY:SECRET:ACCOUNT"):
        BinanceDialectState.from_env({ENV_KEYS: "key-without-secret"})
    listed.write_text(
        json.dumps([{"symbol": "SOL/EUR", "tick_size": "0.01", "step_size": "0.01"}]),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="quote asset must be USDT"):
        BinanceDialectState.from_env({ENV_INSTRUMENTS: str(listed)})
