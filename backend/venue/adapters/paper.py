"""ExchangeAdapter for the paper venue, over a pooled keep-alive HTTP client.

The adapter's job is the error mapping the activities rely on for retry
classification (see ``base.py``):

=====================================  ======================================
venue answer                           raised
=====================================  ======================================
2xx                                    (the VenueOrder / Position list)
422 INSUFFICIENT_FUNDS/UNKNOWN_SYMBOL/ ``VenueRejection(error, message)``
INVALID_ORDER                          -- final
409 ORDER_CONFLICT                     ``OrderConflict`` -- final
404 ORDER_NOT_FOUND                    ``OrderNotFound``
5xx, 408, 429, timeout, connection     ``VenueUnavailable`` (cause chained)
error                                  -- transient, retry
any other 4xx                          ``RuntimeError`` with the body: a bug
                                       or misconfiguration, not the venue's
                                       mood, so it must not be retried as if
                                       transient nor passed off as a business
                                       rejection
=====================================  ======================================

``PaperVenueAdmin`` drives the venue's admin API (prices, accounts, fault
rules, statistics) for tests, demos and the testing kit.

Both sign every request (HMAC-SHA256, see ``execbatch.security.signing``) when
a key is configured: the adapter with ``EXECBATCH_VENUE_API_KEY``, the admin
client with ``EXECBATCH_VENUE_ADMIN_KEY``, read from the same environment as
the venue's, unless passed explicitly. No key: requests go unsigned, which an
open (development) venue accepts. A 401 raises ``RuntimeError`` naming the
variable to check, never the key.

This module must stay importable without the venue service (no FastAPI):
the worker imports it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import Enum
from types import TracebackType
from typing import Any, Self

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry import propagate
from pydantic import BaseModel, TypeAdapter

from execbatch.security.signing import sign_headers
from execbatch.security.venue_credentials import ENV_ADMIN_KEY, ENV_API_KEY, VenueCredentials
from execbatch.venue.paper.wire import (
    FaultRule,
    FaultRuleSpec,
    Instrument,
    InstrumentListing,
    VenueStats,
)
from execbatch.venue.port.adapter import (
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.capabilities import ClientIdScope, InstrumentRules, VenueCapabilities
from execbatch.venue.port.orders import (
    CLIENT_ORDER_ID_PATTERN,
    Account,
    AccountOverview,
    OrderRequest,
    Position,
    VenueOrder,
)

PAPER_CAPABILITIES = VenueCapabilities(
    venue="paper",
    client_id_scope=ClientIdScope.FOREVER,
    cancel_fences_unknown_id=True,
    lookup_by_client_id=True,
    status_unknown_answers=True,  # an HTTP timeout after the order landed
    placement_landing_bound_seconds=None,
    max_client_order_id_length=255,
    client_order_id_pattern=CLIENT_ORDER_ID_PATTERN,
    fractional_quantities=True,
)
"""Our paper venue: one order per client order id forever, and a cancel of an
unknown id fences it (docs/VENUE.md)."""

REJECTION_CODES = frozenset({"INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER"})
_TRANSIENT_4XX = frozenset({408, 429})

_ORDERS = TypeAdapter(list[VenueOrder])
_POSITIONS = TypeAdapter(list[Position])
_PRICES = TypeAdapter(dict[str, Decimal])
_FAULTS = TypeAdapter(list[FaultRule])
_LISTINGS = TypeAdapter(list[InstrumentListing])


def _wire(value: object) -> Any:
    """JSON-ready data; Decimals as fixed-point strings (``"0.00000001"``).

    Pydantic's JSON mode would write ``"1E-8"``: equally exact, but not what
    anyone reading a request log expects.
    """
    if isinstance(value, BaseModel):
        return _wire(value.model_dump(exclude_none=True))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): _wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(item) for item in value]
    return value


def _describe_body(response: httpx.Response) -> tuple[str, str]:
    """``(error, message)`` of an error answer, tolerating non-JSON bodies."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP_{response.status_code}", response.text[:500]
    if isinstance(body, dict):
        return str(body.get("error", f"HTTP_{response.status_code}")), str(body.get("message", ""))
    return f"HTTP_{response.status_code}", response.text[:500]


class _AiohttpTransport(AiohttpTransport):
    """httpx-aiohttp's transport, with connection failures named as httpx names them.

    Its exception table maps every ``aiohttp.ClientConnectionError`` that is not a
    more specific entry to ``httpx.ConnectTimeout``, so a refused connection or a
    server that hung up would read "timed out". Both are transient either way
    (``VenueUnavailable``); the message must still say what happened.
    """

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectTimeout as exc:
            cause = exc.__cause__
            if isinstance(cause, aiohttp.ServerTimeoutError) or not isinstance(
                cause, aiohttp.ClientConnectionError
            ):
                raise
            if isinstance(cause, aiohttp.ClientConnectorError):
                raise httpx.ConnectError(str(cause), request=request) from cause
            raise httpx.RemoteProtocolError(str(cause), request=request) from cause


class _VenueHTTP:
    """Shared transport: one pooled client, uniform error mapping."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float,
        client: httpx.AsyncClient | None,
        max_connections: int,
        signing_key: str | None = None,
        key_variable: str = ENV_API_KEY,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._signing_key = signing_key
        self._key_variable = key_variable
        self._owns_client = client is None
        # httpx's API over aiohttp's connection pool and C parser: the same requests,
        # responses and exceptions (the transport maps aiohttp's onto httpx's), at a
        # third of the client CPU per request and a fifth of the p99 with 64 in flight
        # (``python -m bench.http_clients``, docs/BENCHMARK.md).
        self._client = client or httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout),
            transport=_AiohttpTransport(
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_connections
                )
            ),
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; returns a 2xx answer or raises the mapped error."""
        url = f"{self.base_url}{path}"
        what = f"{method} {url}"
        content = None if body is None else json.dumps(_wire(body)).encode()
        headers = {"content-type": "application/json"} if content is not None else None
        try:
            response = await self._send(
                method, url, content=content, params=params, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise VenueUnavailable(
                f"{what} timed out ({type(exc).__name__}, timeout {self.timeout}s)"
            ) from exc
        except httpx.TransportError as exc:
            raise VenueUnavailable(f"{what} failed: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return response
        status = response.status_code
        error, message = _describe_body(response)
        if status >= 500 or status in _TRANSIENT_4XX:
            raise VenueUnavailable(f"{what} answered {status} {error}: {message}")
        if status == 422 and error in REJECTION_CODES:
            raise VenueRejection(error, message)
        if status == 409:
            raise OrderConflict(f"{what}: {message}")
        if status == 404 and error == "ORDER_NOT_FOUND":
            raise OrderNotFound(message)
        if status == 401:
            raise RuntimeError(
                f"{what} answered 401: the venue refused our credentials ({message}); "
                f"check {self._key_variable} (the venue's and ours must match)"
            )
        raise RuntimeError(f"{what} answered unexpected {status}: {response.text[:1000]}")

    async def _send(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Build, sign (when we hold a key) and send one request, no error mapping.

        The signature covers the exact bytes sent: the encoded path and query
        of the built request and its body.
        """
        request = self._client.build_request(
            method, url, content=content, params=params, headers=headers
        )
        # W3C traceparent of the current span (the venue call's), so the venue
        # continues the batch's trace; nothing is added when no span is recording.
        propagate.inject(request.headers)
        if self._signing_key is not None:
            request.headers.update(
                sign_headers(self._signing_key, method, request.url.raw_path, request.content)
            )
        return await self._client.send(request)

    async def aclose(self) -> None:
        """Close the pooled connections (not a client that was passed in)."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class PaperVenueAdapter(_VenueHTTP):
    """ExchangeAdapter over the paper venue's HTTP API.

    ``account`` is used where the protocol does not name one (``positions()``
    without argument, and as the ``?account=`` hint of a cancel); placements
    carry their own account in the ``OrderRequest``. Pass ``client`` to share
    a pool; it is then not closed by ``aclose()``.
    """

    def __init__(
        self,
        base_url: str,
        account: str = "default",
        timeout: float = 5.0,
        client: httpx.AsyncClient | None = None,
        max_connections: int = 100,
        api_key: str | None = None,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            client=client,
            max_connections=max_connections,
            signing_key=api_key or VenueCredentials.from_env().api_signing_key,
            key_variable=ENV_API_KEY,
        )
        self.account = account

    @property
    def capabilities(self) -> VenueCapabilities:
        return PAPER_CAPABILITIES

    def account_refusal(self, account: str) -> str | None:
        """None: the paper venue trades every funded account through one adapter (a
        placement for an account it does not hold is refused by the venue)."""
        return None

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        """Place idempotently: a retry with the same ``client_order_id`` returns
        the order already placed (or a cancel tombstone, status CANCELED).

        ``earlier_sends_by`` needs no wait here: the paper venue keeps an id for
        ever, so a late earlier send finds the order and places nothing."""
        response = await self._request("POST", "/orders", body=request)
        return VenueOrder.model_validate_json(response.content)

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        # The paper venue finds an order by client id alone.
        response = await self._request("GET", f"/orders/{client_order_id}")
        return VenueOrder.model_validate_json(response.content)

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """Cancel (idempotent); an unknown id is fenced with a CANCELED tombstone."""
        response = await self._request(
            "POST", f"/orders/{client_order_id}/cancel", params={"account": self.account}
        )
        return VenueOrder.model_validate_json(response.content)

    async def instrument_rules(self, symbols: Iterable[str]) -> dict[str, InstrumentRules]:
        """The rules the venue lists for each symbol (``GET /instruments``): lot size,
        minimum and maximum quantity, tick size, minimum notional; a symbol it lists
        but has no price for is not tradable; one it does not list is absent.

        The whole table is read, never ``?symbols=``: symbols stay out of URLs, which
        access logs and traces record (docs/SECURITY.md)."""
        wanted = set(symbols)
        if not wanted:
            return {}
        response = await self._request("GET", "/instruments")
        return {
            listing.symbol: listing.rules(priced=listing.trading)
            for listing in _LISTINGS.validate_json(response.content)
            if listing.symbol in wanted
        }

    async def reference_prices(self, symbols: Iterable[str]) -> dict[str, Decimal]:
        """The paper venue's reference prices (what a market order fills at)."""
        response = await self._request("GET", "/prices")
        prices = _PRICES.validate_json(response.content)
        return {symbol: prices[symbol] for symbol in symbols if symbol in prices}

    async def positions(self, account: str | None = None) -> list[Position]:
        response = await self._request(
            "GET", "/positions", params={"account": account or self.account}
        )
        return _POSITIONS.validate_json(response.content)

    async def account_overview(self) -> AccountOverview:
        """The paper account: it trades while it exists; its cash is its buying power."""
        response = await self._request("GET", f"/accounts/{self.account}")
        account = Account.model_validate_json(response.content)
        served = response.headers.get("date")
        return AccountOverview(
            account=account.account,
            can_trade=True,
            status="ACTIVE",
            cash=account.cash,
            buying_power=account.cash,
            venue_time=parsedate_to_datetime(served) if served else None,
            clock_resolution_seconds=1.0,
        )

    async def get_account(self, account: str | None = None) -> Account:
        response = await self._request("GET", f"/accounts/{account or self.account}")
        return Account.model_validate_json(response.content)


class PaperVenueAdmin(_VenueHTTP):
    """The paper venue's admin API, for tests, demos and the testing kit."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 10.0,
        client: httpx.AsyncClient | None = None,
        admin_key: str | None = None,
    ) -> None:
        super().__init__(
            base_url,
            timeout=timeout,
            client=client,
            max_connections=10,
            signing_key=admin_key or VenueCredentials.from_env().admin_signing_key,
            key_variable=ENV_ADMIN_KEY,
        )

    async def health(self) -> dict[str, Any]:
        response = await self._request("GET", "/health")
        body: dict[str, Any] = response.json()
        return body

    async def prices(self) -> dict[str, Decimal]:
        response = await self._request("GET", "/admin/prices")
        return _PRICES.validate_json(response.content)

    async def set_prices(self, prices: Mapping[str, Decimal | str]) -> dict[str, Decimal]:
        """Set reference prices (resting limits that become marketable fill);
        returns all prices."""
        body = {symbol: Decimal(price) for symbol, price in prices.items()}
        response = await self._request("PUT", "/admin/prices", body=body)
        return _PRICES.validate_json(response.content)

    async def instruments(self) -> list[InstrumentListing]:
        """Every instrument the venue lists, with its rules and whether it trades."""
        response = await self._request("GET", "/admin/instruments")
        return _LISTINGS.validate_json(response.content)

    async def set_instruments(
        self, instruments: Iterable[Instrument | Mapping[str, object]]
    ) -> list[InstrumentListing]:
        """List instruments or replace their rules (``{"symbol": "AAPL",
        "quantity_step": "1", ...}`` or ``Instrument``); returns every listing."""
        body = [
            item if isinstance(item, Instrument) else Instrument.model_validate(item)
            for item in instruments
        ]
        response = await self._request("PUT", "/admin/instruments", body=body)
        return _LISTINGS.validate_json(response.content)

    async def fund_account(self, account: str, cash: Decimal | str) -> Account:
        """Create the account or set its cash to exactly ``cash``."""
        response = await self._request(
            "PUT", f"/admin/accounts/{account}", body={"cash": Decimal(cash)}
        )
        return Account.model_validate_json(response.content)

    async def account(self, account: str) -> Account:
        response = await self._request("GET", f"/accounts/{account}")
        return Account.model_validate_json(response.content)

    async def add_fault(self, spec: FaultRuleSpec | None = None, **fields: Any) -> FaultRule:
        """Add a fault rule, given as a spec or as its fields
        (``add_fault(kind="error_503", max_hits=1)``)."""
        rule = spec if spec is not None else FaultRuleSpec.model_validate(fields)
        response = await self._request("POST", "/admin/faults", body=rule)
        return FaultRule.model_validate_json(response.content)

    async def faults(self) -> list[FaultRule]:
        response = await self._request("GET", "/admin/faults")
        return _FAULTS.validate_json(response.content)

    async def delete_fault(self, rule_id: int) -> None:
        await self._request("DELETE", f"/admin/faults/{rule_id}")

    async def clear_faults(self) -> int:
        """Remove every fault rule; returns how many there were."""
        response = await self._request("DELETE", "/admin/faults")
        removed: int = response.json()["removed"]
        return removed

    async def stats(self) -> VenueStats:
        response = await self._request("GET", "/admin/stats")
        return VenueStats.model_validate_json(response.content)

    async def orders(
        self, account: str | None = None, symbol: str | None = None
    ) -> list[VenueOrder]:
        """Orders, oldest first, optionally of one account and/or symbol."""
        params = {key: value for key, value in (("account", account), ("symbol", symbol)) if value}
        response = await self._request("GET", "/orders", params=params)
        return _ORDERS.validate_json(response.content)

    async def order(self, client_order_id: str) -> VenueOrder:
        response = await self._request("GET", f"/orders/{client_order_id}")
        return VenueOrder.model_validate_json(response.content)

    async def positions(self, account: str) -> list[Position]:
        response = await self._request("GET", "/positions", params={"account": account})
        return _POSITIONS.validate_json(response.content)

    async def place_raw(self, body: Mapping[str, object]) -> httpx.Response:
        """POST /orders with an arbitrary body and return the raw answer
        (no error mapping): for tests of the venue's validation."""
        content = json.dumps(_wire(body)).encode()
        return await self._send(
            "POST",
            f"{self.base_url}/orders",
            content=content,
            headers={"content-type": "application/json"},
        )


__all__ = ["REJECTION_CODES", "PaperVenueAdapter", "PaperVenueAdmin"]
