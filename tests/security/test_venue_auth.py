"""The venue refuses unsigned or wrongly signed requests, and they change nothing.

Against a real venue process started with ``EXECBATCH_VENUE_API_KEY`` and
``EXECBATCH_VENUE_ADMIN_KEY`` in its environment.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from execbatch.security.signing import sign_headers
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.paper.wire import VenueStats
from execbatch.venue.port.orders import OrderRequest
from tests.security.stack import SecretSet


@pytest.fixture
async def admin(
    signed_venue: VenueProcess, secret_set: SecretSet
) -> AsyncIterator[PaperVenueAdmin]:
    async with PaperVenueAdmin(signed_venue.base_url, admin_key=secret_set.venue_admin_key) as a:
        yield a


@pytest.fixture
async def raw(signed_venue: VenueProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=signed_venue.base_url, timeout=5) as client:
        yield client


def order_body(order_id: str) -> bytes:
    return json.dumps(
        {
            "client_order_id": order_id,
            "account": "default",
            "symbol": "AAPL",
            "side": "BUY",
            "order_type": "MARKET",
            "quantity": "3",
        }
    ).encode()


def signed(
    key: str, method: str, target: str, body: bytes = b"", now: float | None = None
) -> dict[str, str]:
    headers = sign_headers(key, method, target.encode(), body, now=now)
    return {**headers, "content-type": "application/json"}


def comparable(stats: VenueStats) -> dict[str, object]:
    return stats.model_dump(exclude={"started_at"})


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "wrong key",
        "expired timestamp",
        "future timestamp",
        "tampered body",
        "admin endpoint with trading key",
    ],
)
async def test_refused_placement_changes_nothing(
    case: str, raw: httpx.AsyncClient, admin: PaperVenueAdmin, secret_set: SecretSet
) -> None:
    order_id = f"auth-{uuid.uuid4().hex[:12]}"
    body = order_body(order_id)
    before = comparable(await admin.stats())
    api = secret_set.venue_api_key
    target = "/orders"
    headers: dict[str, str] = {"content-type": "application/json"}
    if case == "wrong key":
        headers = signed("not-the-key-" + uuid.uuid4().hex, "POST", target, body)
    elif case == "expired timestamp":
        headers = signed(api, "POST", target, body, now=time.time() - 600)
    elif case == "future timestamp":
        headers = signed(api, "POST", target, body, now=time.time() + 600)
    elif case == "tampered body":
        headers = signed(api, "POST", target, order_body(order_id + "x"))
    elif case == "admin endpoint with trading key":
        target = "/admin/prices"
        body = json.dumps({"AAPL": "1.00"}).encode()
        headers = signed(api, "PUT", target, body)

    answer = await raw.request(
        "PUT" if target.startswith("/admin") else "POST", target, content=body, headers=headers
    )

    assert answer.status_code == 401
    assert answer.json()["error"] == "UNAUTHORIZED"
    assert api not in answer.text and secret_set.venue_admin_key not in answer.text
    assert comparable(await admin.stats()) == before
    assert [o for o in await admin.orders(account="default") if o.client_order_id == order_id] == []
    assert (await admin.prices())["AAPL"] != Decimal("1.00")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders"),
        ("GET", "/orders/x1"),
        ("POST", "/orders/x1/cancel"),
        ("GET", "/positions?account=default"),
        ("GET", "/accounts/default"),
        ("GET", "/admin/stats"),
        ("GET", "/admin/prices"),
        ("DELETE", "/admin/faults"),
        ("PUT", "/admin/accounts/mallory"),
        ("POST", "/admin/faults"),
    ],
)
async def test_every_endpoint_requires_a_signature(
    method: str, path: str, raw: httpx.AsyncClient
) -> None:
    answer = await raw.request(method, path, content=b"{}")
    assert answer.status_code == 401, answer.text


async def test_health_stays_open(raw: httpx.AsyncClient) -> None:
    assert (await raw.get("/health")).status_code == 200


async def test_signed_clients_work(
    signed_venue: VenueProcess, admin: PaperVenueAdmin, secret_set: SecretSet
) -> None:
    order_id = f"auth-ok-{uuid.uuid4().hex[:12]}"
    async with PaperVenueAdapter(signed_venue.base_url, api_key=secret_set.venue_api_key) as ad:
        placed = await ad.place_order(OrderRequest.model_validate_json(order_body(order_id)))
        assert placed.client_order_id == order_id
        assert (await ad.get_order(order_id)).client_order_id == order_id
        assert (await ad.cancel_order(order_id)).client_order_id == order_id
        await ad.positions()
    assert (await admin.order(order_id)).client_order_id == order_id
    # the admin key also works on trading endpoints; the trading key not on admin ones
    async with PaperVenueAdmin(signed_venue.base_url, admin_key=secret_set.venue_api_key) as bad:
        with pytest.raises(RuntimeError) as refused:
            await bad.stats()
    message = str(refused.value)
    assert "401" in message and "EXECBATCH_VENUE_ADMIN_KEY" in message
    assert secret_set.venue_api_key not in message


async def test_wrong_adapter_key_is_a_clear_error_without_the_key(
    signed_venue: VenueProcess,
) -> None:
    wrong = "wrong-" + uuid.uuid4().hex
    async with PaperVenueAdapter(signed_venue.base_url, api_key=wrong) as adapter:
        with pytest.raises(RuntimeError) as refused:
            await adapter.get_order("nope")
    assert "EXECBATCH_VENUE_API_KEY" in str(refused.value)
    assert wrong not in str(refused.value)


async def test_clients_read_the_same_environment_as_the_venue(
    signed_venue: VenueProcess, secret_set: SecretSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in secret_set.env().items():
        monkeypatch.setenv(name, value)
    async with PaperVenueAdapter(signed_venue.base_url) as adapter:
        assert await adapter.get_account() is not None
    async with PaperVenueAdmin(signed_venue.base_url) as admin_client:
        assert (await admin_client.stats()).orders_total >= 0


def test_refusals_are_logged_without_secrets(
    signed_venue: VenueProcess, secret_set: SecretSet
) -> None:
    log = signed_venue.log_text()
    assert "refused POST /orders" in log
    assert "UNAUTHENTICATED" not in log
    for value in secret_set.forms().values():
        assert value not in log


@pytest.mark.skipif(
    bool(os.environ.get("EXECBATCH_VENUE_API_KEY") or os.environ.get("EXECBATCH_VENUE_ADMIN_KEY")),
    reason="this test needs an environment without venue keys",
)
async def test_without_keys_the_venue_is_open_and_says_so_once() -> None:
    async with VenueProcess() as venue:
        async with httpx.AsyncClient(base_url=venue.base_url) as client:
            assert (await client.get("/admin/stats")).status_code == 200
            assert (await client.get("/orders")).status_code == 200
        assert venue.log_text().count("venue runs UNAUTHENTICATED (development only)") == 1


def test_half_configured_venue_refuses_to_start(secret_set: SecretSet) -> None:
    venue = VenueProcess(
        env={"EXECBATCH_VENUE_API_KEY": secret_set.venue_api_key}, startup_timeout=15
    )
    try:
        with pytest.raises(RuntimeError, match="half configured") as failed:
            venue.start()
        assert secret_set.venue_api_key not in str(failed.value)
    finally:
        venue.close()
