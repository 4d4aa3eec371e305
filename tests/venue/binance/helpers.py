"""Helpers for the Binance dialect tests: set-up through the admin API, raw signed requests."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from execbatch.venue.adapters.paper import PaperVenueAdmin


@dataclass(frozen=True)
class BinanceSetup:
    """A fresh account with its own API key, and a fresh instrument priced at ``price``."""

    base_url: str
    account: str
    api_key: str
    secret: str
    symbol: str
    """Paper / ccxt symbol: ``TAB12CD34/USDT``."""
    market_id: str
    """Binance symbol: ``TAB12CD34USDT``."""
    price: Decimal


def new_key() -> tuple[str, str]:
    return "k" + uuid.uuid4().hex[:23], "s" + uuid.uuid4().hex


def new_base_asset() -> str:
    return "T" + uuid.uuid4().hex[:8].upper()


async def admin_put(admin: PaperVenueAdmin, path: str, body: Mapping[str, object]) -> Any:
    """PUT an admin body (through the admin client, so it is signed when keys are set)."""
    response = await admin._request("PUT", path, body=body)
    return response.json()


async def register_key(admin: PaperVenueAdmin, api_key: str, secret: str, account: str) -> None:
    await admin_put(admin, f"/admin/binance/keys/{api_key}", {"secret": secret, "account": account})


async def register_instrument(admin: PaperVenueAdmin, symbol: str, **filters: str) -> None:
    body: dict[str, object] = {
        "symbol": symbol,
        "tick_size": "0.01",
        "step_size": "0.001",
        "max_qty": "1000",
        "min_notional": "10",
    }
    body.update(filters)
    await admin_put(admin, "/admin/binance/instruments", body)


async def set_rate_limit(
    admin: PaperVenueAdmin,
    weight: int = 6000,
    ban_after_429s: int | None = None,
    ban_seconds: int = 120,
) -> None:
    await admin_put(
        admin,
        "/admin/binance/rate-limit",
        {
            "request_weight_per_minute": weight,
            "ban_after_429s": ban_after_429s,
            "ban_seconds": ban_seconds,
        },
    )


def signature(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class RawBinance:
    """Signed requests to the dialect as any Binance client sends them, without ccxt."""

    def __init__(self, setup: BinanceSetup, client: httpx.AsyncClient) -> None:
        self.setup = setup
        self.client = client

    async def public(self, path: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        return await self.client.get(f"{self.setup.base_url}{path}", params=params)

    async def signed(
        self,
        method: str,
        path: str,
        params: Mapping[str, str],
        *,
        timestamp: int | None = None,
        recv_window: int | None = None,
        secret: str | None = None,
        api_key: str | None = None,
        tamper: bool = False,
        in_body: bool | None = None,
    ) -> httpx.Response:
        """Sign ``params`` (plus timestamp and recvWindow) and send them.

        Parameters go in the body for POST (``in_body``), in the query string
        otherwise; ``tamper`` changes a parameter after signing.
        """
        values = dict(params)
        values["timestamp"] = str(timestamp if timestamp is not None else int(time.time() * 1000))
        if recv_window is not None:
            values["recvWindow"] = str(recv_window)
        payload = urlencode(values)
        sig = signature(secret or self.setup.secret, payload)
        if tamper:
            payload = payload.replace("timestamp=", "timestamp=1", 1)
        signed_payload = f"{payload}&signature={sig}"
        headers = {"X-MBX-APIKEY": api_key if api_key is not None else self.setup.api_key}
        body_mode = in_body if in_body is not None else method == "POST"
        url = f"{self.setup.base_url}{path}"
        if body_mode:
            headers["content-type"] = "application/x-www-form-urlencoded"
            return await self.client.request(method, url, content=signed_payload, headers=headers)
        return await self.client.request(method, f"{url}?{signed_payload}", headers=headers)

    async def place(self, **params: str) -> httpx.Response:
        values = {"symbol": self.setup.market_id, **params}
        return await self.signed("POST", "/api/v3/order", values)

    async def query(self, client_order_id: str) -> httpx.Response:
        return await self.signed(
            "GET",
            "/api/v3/order",
            {"symbol": self.setup.market_id, "origClientOrderId": client_order_id},
        )

    async def cancel(self, client_order_id: str) -> httpx.Response:
        return await self.signed(
            "DELETE",
            "/api/v3/order",
            {"symbol": self.setup.market_id, "origClientOrderId": client_order_id},
        )
