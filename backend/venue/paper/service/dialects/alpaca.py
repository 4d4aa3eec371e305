"""Alpaca's trading API v2, answered by the paper venue (docs/VENUES.md, "Alpaca").

The real ``alpaca-py`` SDK, pointed here with ``url_override``, trades on the
same engine and SQLite store as the native API. What this dialect implements,
and where each behaviour comes from, is tabled in docs/VENUES.md; in short:

* **Keys and accounts.** Every request carries ``APCA-API-KEY-ID`` and
  ``APCA-API-SECRET-KEY``. The key id *names the paper account* it trades
  (create and fund it with ``PUT /admin/accounts/{account}``; an unknown
  account is an unknown key). The secret must be one of the venue's trading
  or admin keys (``EXECBATCH_VENUE_API_KEY`` / ``EXECBATCH_VENUE_ADMIN_KEY``)
  when the venue has keys, and may be anything non-empty on an open
  (development) venue. A refused key gets ``401 {"message": "unauthorized."}``.
* **Shapes.** Alpaca's order, position, account, asset and clock objects,
  with quantities and prices as decimal strings; order ids are UUIDs (derived
  from the venue's sequence number, so they need no storage); errors are
  ``{"code": 40010001, "message": ...}`` with Alpaca's statuses (403 for
  insufficient buying power, 422 for invalid orders, 404, 429, 5xx).
* **Weaker semantics than ours.** A client order id that was used before is
  refused (``422 client_order_id must be unique``), never answered with the
  earlier order; a cancel names an existing order by its Alpaca id, so an
  unknown id is 404 and nothing is recorded (no fence); a placement the
  venue refuses (insufficient buying power, an injected ``reject``) leaves no
  order visible, as at Alpaca.
* **Rate limit.** 200 requests per minute per key by default (Alpaca's), with
  ``X-Ratelimit-Limit/Remaining/Reset`` on every answer and 429 past it.
* **Faults.** Placements, cancels and order look-ups go through the engine,
  so fault rules apply to them as ``place`` / ``cancel`` / ``get``, and
  ``/admin/stats`` counts them.

Test controls that Alpaca has no API for live under ``/admin/alpaca/`` (an
admin key is needed when the venue has keys): asset flags (tradable,
fractionable, shortable) and the rate limit. Which assets exist and their
increments are the venue's instruments (``PUT /admin/instruments``), the same
table the native API and the Binance dialect answer from. Like fault rules they are kept
in memory and reset by a restart.
"""

from __future__ import annotations

import hmac
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.security.venue_credentials import VenueCredentials
from execbatch.venue.paper.service.engine import VenueEngine
from execbatch.venue.paper.service.http import VenueHTTPError, json_response
from execbatch.venue.paper.service.matching import fmt_decimal
from execbatch.venue.paper.wire import FaultEndpoint, Instrument
from execbatch.venue.port.orders import CLIENT_ORDER_ID_PATTERN, OrderRequest, Position, VenueOrder

log = logging.getLogger("execbatch.venue.alpaca")

ALPACA_PATH_PREFIX = "/v2/"
KEY_ID_HEADER = "APCA-API-KEY-ID"
SECRET_KEY_HEADER = "APCA-API-SECRET-KEY"

MAX_CLIENT_ORDER_ID_LENGTH = 128
MAX_QTY_DECIMALS = 9
DEFAULT_REQUESTS_PER_MINUTE = 200
RATE_WINDOW_SECONDS = 60.0
LIST_LIMIT_DEFAULT = 50
LIST_LIMIT_MAX = 500

# Alpaca's error codes: the HTTP status followed by a sub-code.
CODE_MALFORMED = 40010000
CODE_INVALID = 40010001
CODE_FORBIDDEN = 40310000
CODE_NOT_FOUND = 40410000
CODE_UNPROCESSABLE = 42210000
CODE_RATE_LIMITED = 42910000

DUPLICATE_CLIENT_ORDER_ID = "client_order_id must be unique"
UNAUTHORIZED = "unauthorized."

_ORDER_ID_PREFIX = "a1bca000-0000-4000-8000-"
"""Alpaca order ids here are this prefix + the order's sequence number (12 hex digits)."""
_NAMESPACE = uuid.UUID("5f0e7c1e-3d1a-4c55-9a57-6a1b2c3d4e5f")
"""Namespace of the stable (uuid5) ids of accounts and assets."""

_STATUS_NAMES: Mapping[VenueOrderStatus, str] = {
    VenueOrderStatus.NEW: "new",
    VenueOrderStatus.PARTIALLY_FILLED: "partially_filled",
    VenueOrderStatus.FILLED: "filled",
    VenueOrderStatus.CANCELED: "canceled",
    VenueOrderStatus.REJECTED: "rejected",
}
_SIDES = {"buy": OrderSide.BUY, "sell": OrderSide.SELL}
_TYPES = {"market": OrderType.MARKET, "limit": OrderType.LIMIT}
_UNSUPPORTED_TYPES = frozenset({"stop", "stop_limit", "trailing_stop"})
_TIFS = {"day": TimeInForce.DAY, "gtc": TimeInForce.GTC, "ioc": TimeInForce.IOC}
_UNSUPPORTED_TIFS = frozenset({"opg", "cls", "fok"})
_OPEN = frozenset({VenueOrderStatus.NEW, VenueOrderStatus.PARTIALLY_FILLED})


class AlpacaError(Exception):
    """An answer in Alpaca's error shape: ``{"code": ..., "message": ...}``.

    ``code`` is left out where Alpaca sends none (401, and 5xx which come
    from its gateway); ``fields`` add Alpaca's extra keys.
    """

    def __init__(self, status: int, message: str, code: int | None = None, **fields: str) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.code = code
        self.fields = fields

    def body(self) -> dict[str, object]:
        body: dict[str, object] = dict(self.fields)
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        return body


def _invalid(message: str) -> AlpacaError:
    return AlpacaError(422, message, CODE_INVALID)


def _unprocessable(message: str) -> AlpacaError:
    return AlpacaError(422, message, CODE_UNPROCESSABLE)


def _order_not_found(what: str) -> AlpacaError:
    return AlpacaError(404, f"order not found for {what}", CODE_NOT_FOUND)


# ----------------------------------------------------------------- admin models


class AlpacaAssetFlags(BaseModel):
    """Body of ``PUT /admin/alpaca/assets/{symbol}``: what ``/v2/assets`` says of a
    priced symbol, and what placements on it are held to."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tradable: bool = True
    fractionable: bool = True
    shortable: bool = True


class AlpacaRateLimit(BaseModel):
    """Body of ``PUT /admin/alpaca/rate-limit``: requests per minute for one key
    (``key_id``) or, without it, the default of every key; ``null`` = unlimited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_minute: Annotated[int, Field(ge=1)] | None
    key_id: str | None = None


DEFAULT_ASSET_FLAGS = AlpacaAssetFlags()


# ------------------------------------------------------------------ rate limit


@dataclass
class _Window:
    started: float
    count: int = 0


@dataclass(frozen=True)
class RateDecision:
    """One request's standing in its key's window (``limit`` None: unlimited)."""

    allowed: bool
    limit: int | None
    remaining: int
    reset_epoch: int

    def headers(self) -> dict[str, str]:
        if self.limit is None:
            return {}
        return {
            "X-Ratelimit-Limit": str(self.limit),
            "X-Ratelimit-Remaining": str(self.remaining),
            "X-Ratelimit-Reset": str(self.reset_epoch),
        }


class RateLimiter:
    """Fixed one-minute windows per key, as Alpaca's ``X-Ratelimit-Reset`` describes:
    the window opens with a key's first request and resets a minute later."""

    def __init__(self, default: int | None = DEFAULT_REQUESTS_PER_MINUTE) -> None:
        self.default = default
        self.per_key: dict[str, int | None] = {}
        self._windows: dict[str, _Window] = {}

    def configure(self, key_id: str | None, limit: int | None) -> None:
        if key_id is None:
            self.default = limit
        else:
            self.per_key[key_id] = limit
        self._windows.clear()

    def reset(self) -> None:
        self.default = DEFAULT_REQUESTS_PER_MINUTE
        self.per_key.clear()
        self._windows.clear()

    def hit(self, key_id: str, now: float) -> RateDecision:
        limit = self.per_key.get(key_id, self.default)
        window = self._windows.get(key_id)
        if window is None or now >= window.started + RATE_WINDOW_SECONDS:
            window = self._windows[key_id] = _Window(started=now)
        reset = math.ceil(window.started + RATE_WINDOW_SECONDS)
        if limit is None:
            return RateDecision(True, None, 0, reset)
        if window.count >= limit:
            return RateDecision(False, limit, 0, reset)
        window.count += 1
        return RateDecision(True, limit, limit - window.count, reset)


@dataclass
class AlpacaDialectState:
    """What the dialect keeps beside the store (in memory, like fault rules)."""

    rate: RateLimiter = field(default_factory=RateLimiter)
    assets: dict[str, AlpacaAssetFlags] = field(default_factory=dict)

    def flags(self, symbol: str) -> AlpacaAssetFlags:
        return self.assets.get(symbol, DEFAULT_ASSET_FLAGS)


# ------------------------------------------------------------------- rendering


def order_uuid(venue_order_id: str) -> str:
    """The Alpaca order id of a venue order (``V0000000042`` -> ``a1bca000-...-00000000002a``)."""
    return f"{_ORDER_ID_PREFIX}{int(venue_order_id[1:]):012x}"


def venue_order_id_of(order_id: str) -> str | None:
    """The venue order id an Alpaca order id names; None if it names none of ours.

    Raises ValueError when ``order_id`` is not a UUID at all.
    """
    text = str(uuid.UUID(order_id))
    if not text.startswith(_ORDER_ID_PREFIX):
        return None
    return f"V{int(text[len(_ORDER_ID_PREFIX) :], 16):010d}"


def asset_uuid(symbol: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"asset:{symbol}"))


def account_uuid(account: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"account:{account}"))


def asset_class_of(symbol: str) -> str:
    return "crypto" if "/" in symbol else "us_equity"


def _timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``, as Alpaca writes them."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _money(value: Decimal) -> str:
    return fmt_decimal(value)


def _quantity(value: Decimal) -> str:
    """A quantity without trailing zeros (``"2"``, not the ``"2.0"`` of a half fill)."""
    return fmt_decimal(value.normalize()) if value else "0"


def render_order(order: VenueOrder) -> dict[str, object]:
    """An Alpaca order object (all amounts as decimal strings)."""
    updated = _timestamp(order.updated_at)
    status = order.status
    return {
        "id": order_uuid(order.venue_order_id),
        "client_order_id": order.client_order_id,
        "created_at": _timestamp(order.created_at),
        "updated_at": updated,
        "submitted_at": _timestamp(order.created_at),
        "filled_at": updated if status is VenueOrderStatus.FILLED else None,
        "expired_at": None,
        "canceled_at": updated if status is VenueOrderStatus.CANCELED else None,
        "failed_at": updated if status is VenueOrderStatus.REJECTED else None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": asset_uuid(order.symbol),
        "symbol": order.symbol,
        "asset_class": asset_class_of(order.symbol),
        "notional": None,
        "qty": _quantity(order.quantity),
        "filled_qty": _quantity(order.filled_quantity),
        "filled_avg_price": None if order.avg_fill_price is None else _money(order.avg_fill_price),
        "order_class": "",
        "order_type": order.order_type.value.lower(),
        "type": order.order_type.value.lower(),
        "side": order.side.value.lower(),
        "time_in_force": order.time_in_force.value.lower(),
        "limit_price": None if order.limit_price is None else _money(order.limit_price),
        "stop_price": None,
        "status": _STATUS_NAMES[status],
        "extended_hours": False,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "expires_at": None,
    }


def render_position(position: Position, price: Decimal | None) -> dict[str, object]:
    """An Alpaca position object; a short's ``qty`` is negative, as at Alpaca."""
    quantity = position.quantity
    avg = position.avg_price if position.avg_price is not None else Decimal(0)
    current = price if price is not None else avg
    market_value = quantity * current
    cost_basis = quantity * avg
    pnl = market_value - cost_basis
    pnl_pc = Decimal(0) if cost_basis == 0 else (pnl / abs(cost_basis)).quantize(Decimal("1e-10"))
    symbol = position.symbol
    crypto = asset_class_of(symbol) == "crypto"
    return {
        "asset_id": asset_uuid(symbol),
        "symbol": symbol,
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "asset_class": asset_class_of(symbol),
        "asset_marginable": not crypto,
        "avg_entry_price": _money(avg),
        "qty": _quantity(quantity),
        "side": "long" if quantity > 0 else "short",
        "market_value": _money(market_value),
        "cost_basis": _money(cost_basis),
        "unrealized_pl": _money(pnl),
        "unrealized_plpc": _money(pnl_pc),
        "unrealized_intraday_pl": _money(pnl),
        "unrealized_intraday_plpc": _money(pnl_pc),
        "current_price": _money(current),
        "lastday_price": _money(current),
        "change_today": "0",
        "qty_available": _quantity(quantity),
    }


def render_asset(
    instrument: Instrument, flags: AlpacaAssetFlags, *, priced: bool
) -> dict[str, object]:
    """Alpaca's asset object of a listed instrument: its flags, and its rules as
    Alpaca states them for crypto (``min_order_size``, ``min_trade_increment``,
    ``price_increment``; Alpaca's "Crypto Spot Trading" docs). It trades once priced."""
    symbol = instrument.symbol
    crypto = asset_class_of(symbol) == "crypto"
    asset: dict[str, object] = {
        "id": asset_uuid(symbol),
        "class": asset_class_of(symbol),
        "exchange": "CRYPTO" if crypto else "NASDAQ",
        "symbol": symbol,
        "name": symbol,
        "status": "active",
        "tradable": flags.tradable and instrument.tradable and priced,
        "marginable": not crypto,
        "maintenance_margin_requirement": 30,
        "shortable": flags.shortable and not crypto,
        "easy_to_borrow": flags.shortable and not crypto,
        "fractionable": flags.fractionable and instrument.fractionable,
        "attributes": [],
    }
    for name, value in (
        ("min_order_size", instrument.min_quantity),
        ("min_trade_increment", instrument.quantity_step),
        ("price_increment", instrument.price_tick),
    ):
        if value is not None:
            asset[name] = fmt_decimal(value)
    return asset


# ------------------------------------------------------------------- placement


@dataclass(frozen=True)
class _Placement:
    client_order_id: str
    symbol: str
    side: OrderSide
    order_type: OrderType
    quantity: Decimal
    limit_price: Decimal | None
    time_in_force: TimeInForce


def _decimal_field(body: Mapping[str, Any], name: str) -> Decimal | None:
    """A quantity or price, from a string or a JSON number read exactly (never a float)."""
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise _invalid(f"invalid {name}")
    try:
        parsed = Decimal(value.strip()) if isinstance(value, str) else Decimal(value)
    except InvalidOperation:
        raise _invalid(f"invalid {name}") from None
    if not parsed.is_finite():
        raise _invalid(f"invalid {name}")
    return parsed


def decimal_places(value: Decimal) -> int:
    """Significant decimal places: ``"1.50"`` has 1, ``"10.000"`` has 0."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def parse_placement(body: Mapping[str, Any]) -> _Placement:
    """Alpaca's ``POST /v2/orders`` fields, checked in Alpaca's words."""
    symbol = body.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise _invalid("symbol is required")
    if body.get("notional") is not None:
        raise _invalid("notional orders are not supported by the paper venue; send qty")
    quantity = _decimal_field(body, "qty")
    if quantity is None:
        raise _invalid("qty or notional is required")
    if quantity <= 0:
        raise _invalid("qty must be > 0")
    if decimal_places(quantity) > MAX_QTY_DECIMALS:
        raise _invalid(f"qty must have at most {MAX_QTY_DECIMALS} decimal places")
    side = _SIDES.get(str(body.get("side")))
    if side is None:
        raise _invalid("invalid side")
    kind = str(body.get("type", body.get("order_type")))
    if kind in _UNSUPPORTED_TYPES:
        raise _invalid(f"{kind} orders are not supported by the paper venue")
    order_type = _TYPES.get(kind)
    if order_type is None:
        raise _invalid("invalid order type")
    tif_name = str(body.get("time_in_force"))
    if tif_name in _UNSUPPORTED_TIFS:
        raise _invalid(f"time_in_force {tif_name} is not supported by the paper venue")
    time_in_force = _TIFS.get(tif_name)
    if time_in_force is None:
        raise _invalid("invalid time_in_force")
    limit_price = _decimal_field(body, "limit_price")
    if order_type is OrderType.LIMIT and limit_price is None:
        raise _invalid("limit orders require a limit price")
    if order_type is OrderType.MARKET and limit_price is not None:
        raise _invalid("market orders take no limit price")
    if limit_price is not None and limit_price <= 0:
        raise _invalid("limit price must be > 0")
    order_class = body.get("order_class")
    if order_class not in (None, "", "simple"):
        raise _invalid(f"order class {order_class} is not supported by the paper venue")
    if body.get("extended_hours") is True:
        raise _invalid("extended hours orders are not supported by the paper venue")
    client_order_id = body.get("client_order_id")
    if client_order_id is None or client_order_id == "":
        client_order_id = str(uuid.uuid4())  # Alpaca generates one when none is sent
    if not isinstance(client_order_id, str):
        raise _invalid("invalid client_order_id")
    if len(client_order_id) > MAX_CLIENT_ORDER_ID_LENGTH:
        raise _invalid(
            f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID_LENGTH} characters"
        )
    if not re.fullmatch(CLIENT_ORDER_ID_PATTERN, client_order_id):
        raise _invalid(
            "client_order_id: the paper venue accepts letters, digits and '.', '_', ':', '-'"
            " (starting with a letter or digit)"
        )
    return _Placement(
        client_order_id=client_order_id,
        symbol=symbol.strip(),
        side=side,
        order_type=order_type,
        quantity=quantity,
        limit_price=limit_price,
        time_in_force=time_in_force,
    )


def _placement_refusal(exc: VenueHTTPError, symbol: str) -> AlpacaError:
    """The engine's answer to a placement, as Alpaca words it."""
    if exc.status_code == 409:
        return _invalid(DUPLICATE_CLIENT_ORDER_ID)
    if exc.status_code == 422 and exc.error == "INSUFFICIENT_FUNDS":
        return AlpacaError(403, "insufficient buying power", CODE_FORBIDDEN)
    if exc.status_code == 422 and exc.error == "UNKNOWN_SYMBOL":
        return _unprocessable(f'asset "{symbol}" not found')
    if exc.status_code == 422:
        return _invalid(exc.message)
    return _engine_error(exc)


def _engine_error(exc: VenueHTTPError) -> AlpacaError:
    """Any other engine answer: 404s in Alpaca's words, 5xx as a bare message."""
    if exc.status_code == 404:
        return AlpacaError(404, exc.message, CODE_NOT_FOUND)
    if exc.status_code >= 500:
        return AlpacaError(exc.status_code, exc.message)
    return AlpacaError(exc.status_code, exc.message, exc.status_code * 100_000)


def _visible(order: VenueOrder) -> bool:
    """Orders Alpaca would show: not a refused placement (Alpaca creates none for
    it) and not a native cancel tombstone."""
    return not order.fenced and order.status is not VenueOrderStatus.REJECTED


async def _read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object; numbers are read as Decimal, never float."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"null", parse_float=Decimal)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise AlpacaError(400, "request body format is invalid", CODE_MALFORMED)
    return body


def _describe(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()
    )


# ---------------------------------------------------------------------- router


def alpaca_router(
    engine: VenueEngine,
    credentials: VenueCredentials,
    state: AlpacaDialectState | None = None,
) -> APIRouter:
    """Alpaca's trading API v2 on ``engine``; mount with ``app.include_router``."""
    dialect = state or AlpacaDialectState()
    router = APIRouter(tags=["alpaca"])
    accepted = tuple(key.encode() for key in credentials.api_keys + credentials.admin_keys)

    def secret_accepted(secret: str) -> bool:
        if not credentials.enabled:
            return True
        given = secret.encode()
        # every key compared, in constant time each, so timing tells nothing
        return sum(hmac.compare_digest(given, key) for key in accepted) > 0

    async def account_of(request: Request) -> str:
        key_id = request.headers.get(KEY_ID_HEADER)
        secret = request.headers.get(SECRET_KEY_HEADER)
        refused = not key_id or not secret or not secret_accepted(secret)
        if not refused and key_id is not None:
            try:
                await engine.account(key_id)
            except VenueHTTPError:
                refused = True
        if refused or key_id is None:
            client = request.client.host if request.client else "?"
            log.warning(
                "refused Alpaca request %s %s from %s: key id %r with %s",
                request.method,
                engine.order_data_log.path(request.url.path),
                client,
                key_id,
                "no secret" if not secret else "a secret not accepted or an unknown account",
            )
            raise AlpacaError(401, UNAUTHORIZED)
        return key_id

    async def handle(
        request: Request,
        endpoint: FaultEndpoint | None,
        work: Callable[[str], Awaitable[Response]],
    ) -> Response:
        """Authenticate, rate-limit, count, run ``work``; answer errors in Alpaca's shape."""
        headers: dict[str, str] = {}
        try:
            account = await account_of(request)
            decision = dialect.rate.hit(account, time.time())
            headers = decision.headers()
            if not decision.allowed:
                raise AlpacaError(429, "rate limit exceeded", CODE_RATE_LIMITED)
            if endpoint is not None:
                engine.count_request(endpoint)
            response = await work(account)
        except AlpacaError as exc:
            response = json_response(exc.body(), status_code=exc.status)
        except VenueHTTPError as exc:
            error = _engine_error(exc)
            response = json_response(error.body(), status_code=error.status)
        response.headers.update(headers)
        return response

    async def resolve(account: str, order_id: str) -> VenueOrder:
        """The visible order of ``account`` that an Alpaca order id names."""
        try:
            venue_order_id = venue_order_id_of(order_id)
        except ValueError:
            raise _invalid("order_id is missing") from None
        if venue_order_id is not None:
            for order in await engine.list_orders(account, None):
                if order.venue_order_id == venue_order_id and _visible(order):
                    return order
        raise _order_not_found(order_id)

    async def by_client_order_id(account: str, client_order_id: str) -> VenueOrder:
        """The engine's get (fault rules ``get`` apply), held to Alpaca's visibility."""
        try:
            order = await engine.get(client_order_id)
        except VenueHTTPError as exc:
            if exc.status_code == 404:
                raise _order_not_found(client_order_id) from None
            raise
        if order.account != account or not _visible(order):
            raise _order_not_found(client_order_id)
        return order

    async def check_asset(placement: _Placement, account: str) -> None:
        """Alpaca's asset rules, before the order reaches the engine."""
        symbol = placement.symbol
        instrument = engine.instrument_table.get(symbol)
        if instrument is None or symbol not in await engine.prices():
            raise _unprocessable(f'asset "{symbol}" not found')
        flags = dialect.flags(symbol)
        if not (flags.tradable and instrument.tradable):
            raise _unprocessable(f'asset "{symbol}" is not tradable')
        quantity = placement.quantity
        fractional = quantity != quantity.to_integral_value()
        if fractional and not (flags.fractionable and instrument.fractionable):
            raise AlpacaError(403, f'asset "{symbol}" is not fractionable', CODE_FORBIDDEN)
        equity = asset_class_of(symbol) == "us_equity"
        if fractional and equity and placement.time_in_force is not TimeInForce.DAY:
            raise _unprocessable("fractional orders must be DAY orders")
        if placement.side is OrderSide.SELL and (fractional or not flags.shortable or not equity):
            held = sum(
                (p.quantity for p in await engine.positions(account) if p.symbol == symbol),
                Decimal(0),
            )
            if quantity > max(held, Decimal(0)):
                if fractional:
                    raise _unprocessable("fractional orders cannot be sold short")
                raise _unprocessable(f'asset "{symbol}" cannot be sold short')

    # ------------------------------------------------------------------ orders

    @router.post("/v2/orders")
    async def place_order(request: Request) -> Response:
        async def work(account: str) -> Response:
            placement = parse_placement(await _read_json(request))
            await check_asset(placement, account)
            try:
                order_request = OrderRequest(
                    client_order_id=placement.client_order_id,
                    account=account,
                    symbol=placement.symbol,
                    side=placement.side,
                    order_type=placement.order_type,
                    quantity=placement.quantity,
                    limit_price=placement.limit_price,
                    time_in_force=placement.time_in_force,
                )
            except ValidationError as exc:
                raise _invalid(_describe(exc)) from None
            try:
                status, order = await engine.place(order_request)
            except VenueHTTPError as exc:
                refusal = _placement_refusal(exc, placement.symbol)
                log.info(
                    "alpaca placement refused account=%s cid=%s status=%s message=%s",
                    account,
                    placement.client_order_id,
                    refusal.status,
                    engine.order_data_log.text(refusal.message),
                )
                raise refusal from None
            if status != 201:
                # The id is taken (this order replayed, or a tombstone): Alpaca
                # refuses the re-send instead of answering with the earlier order.
                raise _invalid(DUPLICATE_CLIENT_ORDER_ID)
            return json_response(render_order(order))

        return await handle(request, FaultEndpoint.PLACE, work)

    @router.get("/v2/orders:by_client_order_id")
    async def get_order_by_client_order_id(request: Request) -> Response:
        async def work(account: str) -> Response:
            client_order_id = request.query_params.get("client_order_id")
            if not client_order_id:
                raise _invalid("client_order_id is missing")
            return json_response(render_order(await by_client_order_id(account, client_order_id)))

        return await handle(request, FaultEndpoint.GET, work)

    @router.get("/v2/orders")
    async def list_orders(request: Request) -> Response:
        async def work(account: str) -> Response:
            params = request.query_params
            status = params.get("status", "open")
            if status not in ("open", "closed", "all"):
                raise _invalid("invalid status")
            try:
                limit = int(params.get("limit", LIST_LIMIT_DEFAULT))
            except ValueError:
                raise _invalid("invalid limit") from None
            if not 1 <= limit <= LIST_LIMIT_MAX:
                raise _invalid(f"limit must be between 1 and {LIST_LIMIT_MAX}")
            direction = params.get("direction", "desc")
            if direction not in ("asc", "desc"):
                raise _invalid("invalid direction")
            symbols = {s for s in params.get("symbols", "").split(",") if s}
            side = params.get("side")
            after = _query_time(params.get("after"), "after")
            until = _query_time(params.get("until"), "until")
            orders = [
                order
                for order in await engine.list_orders(account, None)
                if _visible(order)
                and (status == "all" or (order.status in _OPEN) == (status == "open"))
                and (not symbols or order.symbol in symbols)
                and (side is None or order.side.value.lower() == side)
                and (after is None or order.created_at > after)
                and (until is None or order.created_at < until)
            ]
            if direction == "desc":
                orders.reverse()
            return json_response([render_order(order) for order in orders[:limit]])

        return await handle(request, None, work)

    @router.get("/v2/orders/{order_id}")
    async def get_order(request: Request, order_id: str) -> Response:
        async def work(account: str) -> Response:
            order = await resolve(account, order_id)
            fresh = await by_client_order_id(account, order.client_order_id)
            current = fresh if fresh.venue_order_id == order.venue_order_id else order
            return json_response(render_order(current))

        return await handle(request, FaultEndpoint.GET, work)

    @router.delete("/v2/orders/{order_id}")
    async def cancel_order(request: Request, order_id: str) -> Response:
        async def work(account: str) -> Response:
            order = await resolve(account, order_id)
            if order.status.is_terminal:
                raise _unprocessable("order is not cancelable")
            await engine.cancel(order.client_order_id, account)
            return Response(status_code=204)

        return await handle(request, FaultEndpoint.CANCEL, work)

    # ------------------------------------------------- positions, account, ...

    @router.get("/v2/positions")
    async def positions(request: Request) -> Response:
        async def work(account: str) -> Response:
            prices = await engine.prices()
            held = [p for p in await engine.positions(account) if p.quantity != 0]
            return json_response([render_position(p, prices.get(p.symbol)) for p in held])

        return await handle(request, None, work)

    @router.get("/v2/account")
    async def account(request: Request) -> Response:
        async def work(account: str) -> Response:
            cash = (await engine.account(account)).cash
            prices = await engine.prices()
            long_value = short_value = Decimal(0)
            for position in await engine.positions(account):
                value = position.quantity * prices.get(position.symbol, Decimal(0))
                if value > 0:
                    long_value += value
                else:
                    short_value += value
            held = sum(
                (
                    (order.quantity - order.filled_quantity) * order.limit_price
                    for order in await engine.list_orders(account, None)
                    if order.status in _OPEN
                    and order.side is OrderSide.BUY
                    and order.limit_price is not None
                ),
                Decimal(0),
            )
            equity = cash + long_value + short_value
            buying_power = cash - held
            return json_response(
                {
                    "id": account_uuid(account),
                    "account_number": account,
                    "status": "ACTIVE",
                    "crypto_status": "ACTIVE",
                    "currency": "USD",
                    "buying_power": _money(buying_power),
                    "regt_buying_power": _money(buying_power),
                    "non_marginable_buying_power": _money(buying_power),
                    "cash": _money(cash),
                    "accrued_fees": "0",
                    "pending_transfer_in": "0",
                    "pending_transfer_out": "0",
                    "portfolio_value": _money(equity),
                    "trading_blocked": False,
                    "transfers_blocked": False,
                    "account_blocked": False,
                    "trade_suspended_by_user": False,
                    "multiplier": "1",
                    "shorting_enabled": True,
                    "equity": _money(equity),
                    "last_equity": _money(equity),
                    "long_market_value": _money(long_value),
                    "short_market_value": _money(short_value),
                    "initial_margin": "0",
                    "maintenance_margin": "0",
                    "last_maintenance_margin": "0",
                    "sma": "0",
                    "options_buying_power": "0",
                    "options_approved_level": 0,
                    "options_trading_level": 0,
                }
            )

        return await handle(request, None, work)

    @router.get("/v2/assets/{symbol:path}")
    async def asset(request: Request, symbol: str) -> Response:
        async def work(_: str) -> Response:
            instrument = engine.instrument_table.get(symbol)
            if instrument is None:
                raise AlpacaError(404, f"asset not found for {symbol}", CODE_NOT_FOUND)
            priced = symbol in await engine.prices()
            return json_response(render_asset(instrument, dialect.flags(symbol), priced=priced))

        return await handle(request, None, work)

    @router.get("/v2/clock")
    async def clock(request: Request) -> Response:
        async def work(_: str) -> Response:
            # The paper venue never closes (DAY behaves as GTC): always open.
            now = datetime.now(UTC)
            later = _timestamp(now + timedelta(days=1))
            return json_response(
                {
                    "timestamp": _timestamp(now),
                    "is_open": True,
                    "next_open": later,
                    "next_close": later,
                }
            )

        return await handle(request, None, work)

    @router.api_route(
        "/v2/{rest:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        include_in_schema=False,
    )
    async def not_implemented(request: Request, rest: str) -> Response:
        async def work(_: str) -> Response:
            raise AlpacaError(
                404,
                f"endpoint not found (the paper venue does not answer /v2/{rest})",
                CODE_NOT_FOUND,
            )

        return await handle(request, None, work)

    # -------------------------------------------------- test controls (admin)

    @router.get("/admin/alpaca")
    async def dialect_state() -> Response:
        return json_response(
            {
                "assets": {symbol: flags for symbol, flags in dialect.assets.items()},
                "rate_limit": {
                    "default": dialect.rate.default,
                    "per_key": dict(dialect.rate.per_key),
                },
            }
        )

    @router.put("/admin/alpaca/assets/{symbol:path}", response_model=AlpacaAssetFlags)
    async def set_asset_flags(symbol: str, flags: Annotated[AlpacaAssetFlags, Body()]) -> Response:
        dialect.assets[symbol] = flags
        log.info(
            "alpaca asset flags symbol=%s %s",
            engine.order_data_log.symbol(symbol),
            flags.model_dump_json(),
        )
        return json_response(flags)

    @router.delete("/admin/alpaca/assets")
    async def clear_asset_flags() -> Response:
        removed = len(dialect.assets)
        dialect.assets.clear()
        return json_response({"removed": removed})

    @router.put("/admin/alpaca/rate-limit", response_model=AlpacaRateLimit)
    async def set_rate_limit(limit: Annotated[AlpacaRateLimit, Body()]) -> Response:
        dialect.rate.configure(limit.key_id, limit.requests_per_minute)
        log.info("alpaca rate limit %s", limit.model_dump_json())
        return json_response(limit)

    @router.delete("/admin/alpaca/rate-limit")
    async def reset_rate_limit() -> Response:
        dialect.rate.reset()
        return json_response({"requests_per_minute": dialect.rate.default})

    return router


def _query_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise _invalid(f"invalid {name}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


__all__ = [
    "ALPACA_PATH_PREFIX",
    "DUPLICATE_CLIENT_ORDER_ID",
    "KEY_ID_HEADER",
    "SECRET_KEY_HEADER",
    "AlpacaAssetFlags",
    "AlpacaDialectState",
    "AlpacaError",
    "AlpacaRateLimit",
    "RateLimiter",
    "alpaca_router",
    "order_uuid",
    "parse_placement",
    "render_order",
    "venue_order_id_of",
]
