"""The paper venue's Alpaca dialect over raw HTTP: Alpaca's shapes, statuses and bodies.

Plus the SDK's own ``submit_order`` (whose request models carry floats) and
the native API, unchanged beside the dialect.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from decimal import Decimal
from typing import Any

import httpx
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.requests import MarketOrderRequest

from execbatch.core.enums import VenueOrderStatus
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from tests.venue.alpaca.conftest import SECRET, alpaca_headers
from tests.venue.helpers import new_id, new_symbol, order

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Alpaca:
    """Raw requests with one account's Alpaca keys."""

    def __init__(self, client: httpx.AsyncClient, account: str) -> None:
        self.client = client
        self.headers = alpaca_headers(account)

    async def place(self, **body: Any) -> httpx.Response:
        fields = {"side": "buy", "type": "market", "time_in_force": "day", **body}
        return await self.client.post("/v2/orders", json=fields, headers=self.headers)

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.headers)

    async def delete(self, path: str) -> httpx.Response:
        return await self.client.delete(path, headers=self.headers)


def error_of(response: httpx.Response) -> tuple[int, int | None, str]:
    body = response.json()
    return response.status_code, body.get("code"), body["message"]


async def test_order_object_has_alpacas_shape(dialect: httpx.AsyncClient, account: str) -> None:
    alpaca = Alpaca(dialect, account)
    answer = await alpaca.place(symbol="AAPL", qty="2", client_order_id="shape-1")
    assert answer.status_code == 200
    body = answer.json()
    assert uuid.UUID(body["id"]) and uuid.UUID(body["asset_id"])
    assert {key: body[key] for key in ("client_order_id", "symbol", "asset_class")} == {
        "client_order_id": "shape-1",
        "symbol": "AAPL",
        "asset_class": "us_equity",
    }
    assert (body["qty"], body["filled_qty"], body["filled_avg_price"]) == ("2", "2", "190.00")
    assert (body["side"], body["type"], body["time_in_force"]) == ("buy", "market", "day")
    assert (body["status"], body["notional"], body["limit_price"]) == ("filled", None, None)
    for key in ("created_at", "updated_at", "submitted_at", "filled_at"):
        assert TIMESTAMP.match(body[key]), (key, body[key])
    assert body["canceled_at"] is None
    assert int(answer.headers["X-Ratelimit-Limit"]) == 200
    assert int(answer.headers["X-Ratelimit-Remaining"]) < 200
    by_id = await alpaca.get(f"/v2/orders/{body['id']}")
    by_cid = await alpaca.get("/v2/orders:by_client_order_id", client_order_id="shape-1")
    assert by_id.json() == by_cid.json() == body


async def test_status_names_through_an_orders_life(
    dialect: httpx.AsyncClient, admin: PaperVenueAdmin, account: str
) -> None:
    alpaca = Alpaca(dialect, account)
    symbol = new_symbol()
    await admin.set_prices({symbol: "10.00"})
    resting = (
        await alpaca.place(
            symbol=symbol, qty="3", type="limit", limit_price="9", time_in_force="gtc"
        )
    ).json()
    assert resting["status"] == "new"
    assert (resting["limit_price"], resting["filled_avg_price"]) == ("9", None)
    await admin.add_fault(kind="partial_fill", fraction="0.5", symbol=symbol, max_hits=1)
    partial = (
        await alpaca.place(
            symbol=symbol, qty="4", type="limit", limit_price="11", time_in_force="gtc"
        )
    ).json()
    assert (partial["status"], partial["filled_qty"]) == ("partially_filled", "2")
    open_ids = {o["id"] for o in (await alpaca.get("/v2/orders")).json()}
    assert open_ids == {resting["id"], partial["id"]}
    canceled = await alpaca.delete(f"/v2/orders/{resting['id']}")
    assert (canceled.status_code, canceled.content) == (204, b"")
    after = (await alpaca.get(f"/v2/orders/{resting['id']}")).json()
    assert after["status"] == "canceled" and TIMESTAMP.match(after["canceled_at"])
    closed = (await alpaca.get("/v2/orders", status="closed")).json()
    assert [o["id"] for o in closed] == [resting["id"]]
    every = (await alpaca.get("/v2/orders", status="all", direction="asc")).json()
    assert [o["id"] for o in every] == [resting["id"], partial["id"]]
    again = await alpaca.delete(f"/v2/orders/{resting['id']}")
    assert error_of(again) == (422, 42210000, "order is not cancelable")


async def test_error_bodies_and_statuses(
    dialect: httpx.AsyncClient, admin: PaperVenueAdmin, account: str
) -> None:
    alpaca = Alpaca(dialect, account)
    await alpaca.place(symbol="AAPL", qty="1", client_order_id="taken")
    duplicate = await alpaca.place(symbol="AAPL", qty="1", client_order_id="taken")
    assert error_of(duplicate) == (422, 40010001, "client_order_id must be unique")
    unknown = await alpaca.place(symbol="ZZNOPE", qty="1")
    assert error_of(unknown) == (422, 42210000, 'asset "ZZNOPE" not found')
    await admin.fund_account(account, "10")
    poor = await alpaca.place(symbol="AAPL", qty="1", client_order_id="poor")
    assert error_of(poor) == (403, 40310000, "insufficient buying power")
    assert (
        await alpaca.get("/v2/orders:by_client_order_id", client_order_id="poor")
    ).status_code == 404
    cases = {
        (422, 40010001, "qty must be > 0"): {"symbol": "AAPL", "qty": "0"},
        (422, 40010001, "limit orders require a limit price"): {
            "symbol": "AAPL",
            "qty": "1",
            "type": "limit",
        },
        (422, 40010001, "invalid side"): {"symbol": "AAPL", "qty": "1", "side": "hold"},
        (422, 40010001, "client_order_id must be no more than 128 characters"): {
            "symbol": "AAPL",
            "qty": "1",
            "client_order_id": "x" * 129,
        },
        (422, 42210000, "fractional orders must be DAY orders"): {
            "symbol": "AAPL",
            "qty": "0.5",
            "time_in_force": "gtc",
        },
    }
    for expected, body in cases.items():
        assert error_of(await alpaca.place(**body)) == expected
    malformed = await dialect.post("/v2/orders", content=b"{not json", headers=alpaca.headers)
    assert error_of(malformed) == (400, 40010000, "request body format is invalid")
    missing = await alpaca.get(f"/v2/orders/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["code"] == 40410000
    assert error_of(await alpaca.get("/v2/orders/not-a-uuid")) == (
        422,
        40010001,
        "order_id is missing",
    )
    assert (await alpaca.get("/v2/assets/ZZNOPE")).json() == {
        "code": 40410000,
        "message": "asset not found for ZZNOPE",
    }
    nobody = await dialect.get("/v2/account", headers=alpaca_headers(new_id("nobody")))
    assert (nobody.status_code, nobody.json()) == (401, {"message": "unauthorized."})
    replace = await dialect.patch(f"/v2/orders/{uuid.uuid4()}", headers=alpaca.headers, json={})
    assert replace.status_code == 404 and "endpoint not found" in replace.json()["message"]


async def test_rate_limit_answers_429_with_reset(dialect: httpx.AsyncClient, account: str) -> None:
    alpaca = Alpaca(dialect, account)
    limit = {"requests_per_minute": 1, "key_id": account}
    (await dialect.put("/admin/alpaca/rate-limit", json=limit)).raise_for_status()
    first = await alpaca.get("/v2/account")
    assert (first.status_code, first.headers["X-Ratelimit-Remaining"]) == (200, "0")
    limited = await alpaca.get("/v2/account")
    assert error_of(limited) == (429, 42910000, "rate limit exceeded")
    assert limited.headers["X-Ratelimit-Reset"] == first.headers["X-Ratelimit-Reset"]
    other = Alpaca(dialect, new_id("other"))  # limits are per key: an unknown key is still 401
    assert (await other.get("/v2/account")).status_code == 401


async def test_unknown_cancel_is_404_and_records_nothing(
    dialect: httpx.AsyncClient, admin: PaperVenueAdmin, account: str
) -> None:
    alpaca = Alpaca(dialect, account)
    before = await admin.stats()
    answer = await alpaca.delete(f"/v2/orders/{uuid.uuid4()}")
    assert answer.status_code == 404 and answer.json()["code"] == 40410000
    after = await admin.stats()
    assert (after.orders_total, after.fenced_orders) == (before.orders_total, before.fenced_orders)
    assert await admin.orders(account) == []


async def test_another_accounts_orders_are_invisible(
    dialect: httpx.AsyncClient, admin: PaperVenueAdmin, account: str
) -> None:
    mine = (await Alpaca(dialect, account).place(symbol="AAPL", qty="1")).json()
    other = new_id("acct")
    await admin.fund_account(other, "1000")
    theirs = Alpaca(dialect, other)
    assert (await theirs.get(f"/v2/orders/{mine['id']}")).status_code == 404
    lookup = await theirs.get(
        "/v2/orders:by_client_order_id", client_order_id=mine["client_order_id"]
    )
    assert lookup.status_code == 404
    assert (await theirs.get("/v2/orders", status="all")).json() == []


async def test_json_numbers_are_read_exactly(dialect: httpx.AsyncClient, account: str) -> None:
    content = b'{"symbol":"AAPL","qty":0.1,"side":"buy","type":"market","time_in_force":"day"}'
    answer = await dialect.post("/v2/orders", content=content, headers=alpaca_headers(account))
    body = answer.json()
    assert (body["qty"], body["filled_qty"], body["status"]) == ("0.1", "0.1", "filled")
    assert uuid.UUID(body["client_order_id"])  # generated when none is sent, as at Alpaca


async def test_the_sdks_own_submit_order(venue: VenueProcess, account: str) -> None:
    """alpaca-py's ``submit_order`` as a user would call it (float fields on the wire)."""

    def submit() -> Any:
        client = TradingClient(account, SECRET, url_override=venue.base_url)
        request = MarketOrderRequest(
            symbol="AAPL",
            qty=0.023,
            side=AlpacaSide.BUY,
            time_in_force=AlpacaTimeInForce.DAY,
            client_order_id="sdk-1",
        )
        placed = client.submit_order(request)
        return placed, client.get_order_by_client_id("sdk-1"), client.get_account()

    placed, found, account_info = await asyncio.to_thread(submit)
    assert (placed.status, found.status) == (AlpacaStatus.FILLED, AlpacaStatus.FILLED)
    assert Decimal(found.filled_qty) == Decimal("0.023")
    assert Decimal(account_info.cash) == Decimal(1000000) - Decimal("0.023") * Decimal("190.00")


async def test_native_api_is_unchanged_beside_the_dialect(
    venue: VenueProcess, dialect: httpx.AsyncClient, account: str
) -> None:
    placed = (await Alpaca(dialect, account).place(symbol="AAPL", qty="1")).json()
    async with PaperVenueAdapter(venue.base_url, account=account) as native:
        seen = await native.get_order(placed["client_order_id"])
        assert (seen.status, seen.filled_quantity) == (VenueOrderStatus.FILLED, Decimal(1))
        # The native API keeps its own semantics: a re-send is answered, not refused...
        request = order(account, "MSFT", quantity="1")
        assert await native.place_order(request) == await native.place_order(request)
        # ...and a cancel of an unknown id fences it.
        fenced = await native.cancel_order(new_id("fence"))
        assert fenced.fenced and fenced.status is VenueOrderStatus.CANCELED
    # A tombstone is no Alpaca order, and its id is taken.
    alpaca = Alpaca(dialect, account)
    lookup = await alpaca.get(
        "/v2/orders:by_client_order_id", client_order_id=fenced.client_order_id
    )
    assert lookup.status_code == 404
    reuse = await alpaca.place(symbol="AAPL", qty="1", client_order_id=fenced.client_order_id)
    assert error_of(reuse) == (422, 40010001, "client_order_id must be unique")
