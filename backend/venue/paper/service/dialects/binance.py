"""Binance spot's REST API (``/api/v3``), answered by the paper venue.

The real, unmodified ``ccxt`` (``ccxt.async_support.binance``), with its
``urls['api']`` entries pointed here, trades on the same engine and SQLite
store as the native API. docs/VENUES.md ("Binance spot (ccxt)") tables each
behaviour with its source; in short:

* **Keys and accounts.** Signed endpoints need ``X-MBX-APIKEY`` and an
  HMAC-SHA256 ``signature`` (hex, case-insensitive) of ``totalParams`` (the
  query string concatenated with the form body, the signature parameter left
  out) keyed with the key's secret, a millisecond ``timestamp`` and an
  optional ``recvWindow`` (default 5000, at most 60000). Each API key names
  one paper account: keys come from ``EXECBATCH_PAPER_BINANCE_KEYS``
  (``API_KEY:SECRET:ACCOUNT`` entries, comma separated) and from
  ``PUT /admin/binance/keys/{api_key}`` (body ``{"secret", "account"}``; kept
  in memory). Create and fund the account with ``PUT /admin/accounts/...``.
* **Instruments.** Paper symbols ``BASE/QUOTE`` (``BTC/USDT``) are Binance
  symbols ``BASEQUOTE`` (``BTCUSDT``), each with PRICE_FILTER, LOT_SIZE and
  NOTIONAL (or MIN_NOTIONAL) filters. They are the venue's instruments whose
  quote is USDT (the table ``GET /instruments`` and Alpaca's assets answer
  from: BTC/USDT and ETH/USDT by default); ``EXECBATCH_PAPER_BINANCE_INSTRUMENTS``
  names a JSON file (a list of ``BinanceInstrument`` objects) listed at start,
  and ``PUT /admin/binance/instruments`` lists or replaces one at run time. An
  instrument trades (``status`` TRADING) once the venue has a reference price
  for its paper symbol (``--price BTC/USDT=60000`` or ``PUT /admin/prices``);
  before that it is listed as BREAK and orders are refused "Market is
  closed.". The quote asset of every instrument is the account's cash
  (``CASH_ASSET``, USDT): ``GET /api/v3/account`` reports cash as USDT and each
  instrument's position as its base asset.
* **Client order ids** are unique among *open* orders only: the same
  ``newClientOrderId`` is accepted again once its order filled or was
  cancelled (the store's OPEN_ORDERS scope), and refused ``-2010 "Duplicate
  order sent."`` while it is open. A cancel or query of an unknown id answers
  ``-2011 "Unknown order sent."`` / ``-2013 "Order does not exist."`` and
  records nothing (no fence). A refused placement stores nothing.
* **Spot balances.** A BUY needs the quote (cash net of resting BUY limits),
  a SELL the base asset it sells (net of open SELLs): no short selling.
* **Errors** are ``{"code": -NNNN, "msg": "..."}`` with Binance's codes,
  messages and HTTP statuses; 429/418 carry ``Retry-After``.
* **Faults.** Placements, look-ups and cancels go through the engine, so fault
  rules apply to them as ``place`` / ``get`` / ``cancel`` and
  ``/admin/stats`` counts them: ``error_503`` and ``hang`` answer HTTP 503
  ``-1001`` (nothing done), ``fail_after_place`` HTTP 503 ``-1007`` "execution
  status unknown" (done).
* **Rate limit.** REQUEST_WEIGHT per minute per client IP (6000 by default);
  past it HTTP 429 ``-1003`` with ``Retry-After``, and after
  ``ban_after_429s`` more requests (when set) HTTP 418 for ``ban_seconds``.
  ``PUT /admin/binance/rate-limit`` configures it.

Test controls (keys, instruments, rate limit) live under ``/admin/binance/``
and need an admin key when the venue has keys; like fault rules they are
kept in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.dtos.types import PositiveDecimal, Symbol
from execbatch.venue.paper.service.engine import ResponseLost, VenueEngine
from execbatch.venue.paper.service.http import VenueHTTPError, json_response
from execbatch.venue.paper.service.matching import EXACT, fmt_decimal
from execbatch.venue.paper.service.store import Fill, PlaceResult
from execbatch.venue.paper.wire import FaultEndpoint, Instrument
from execbatch.venue.port.orders import CLIENT_ORDER_ID_PATTERN, OrderRequest, VenueOrder

log = logging.getLogger("execbatch.venue.binance")

BINANCE_PATH_PREFIX = "/api/v3/"
ADMIN_PREFIX = "/admin/binance"
API_KEY_HEADER = "X-MBX-APIKEY"
ENV_KEYS = "EXECBATCH_PAPER_BINANCE_KEYS"
ENV_INSTRUMENTS = "EXECBATCH_PAPER_BINANCE_INSTRUMENTS"
CASH_ASSET = "USDT"

DEFAULT_RECV_WINDOW_MS = 5000
MAX_RECV_WINDOW_MS = 60000
FUTURE_TOLERANCE_MS = 1000
DEFAULT_WEIGHT_PER_MINUTE = 6000
DEFAULT_BAN_SECONDS = 120

CLIENT_ID_RULE = "^[a-zA-Z0-9-_]{1,36}$"
"""Binance spot's rule for ``newClientOrderId``, as its -1100 answer states it
(docs/VENUES.md cites where it was measured; the USDⓈ-M futures docs allow
``.``, ``:`` and ``/`` too, spot does not)."""
_CLIENT_ID_RE = re.compile(r"^[a-zA-Z0-9_-]{1,36}$")
_OUR_CLIENT_ID_RE = re.compile(CLIENT_ORDER_ID_PATTERN)
DECIMAL_RULE = "^([0-9]{1,20})(\\.[0-9]{1,20})?$"
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INTEGER_RE = re.compile(r"^[0-9]{1,20}$")
_EIGHT_PLACES = Decimal("1e-8")

# Binance's messages, verbatim where clients match on them (ccxt maps
# "Account has insufficient balance for requested action." to InsufficientFunds).
MSG_INSUFFICIENT = "Account has insufficient balance for requested action."
MSG_DUPLICATE = "Duplicate order sent."
MSG_UNKNOWN_ORDER = "Unknown order sent."
MSG_NO_SUCH_ORDER = "Order does not exist."
MSG_BAD_SYMBOL = "Invalid symbol."
MSG_MARKET_CLOSED = "Market is closed."
MSG_INTERNAL = "Internal error; unable to process your request. Please try again."
MSG_TIMEOUT = (
    "Timeout waiting for response from backend server. Send status unknown;"
    " execution status unknown."
)

# Request weights (Binance's, rounded to what matters here).
_WEIGHTS = {
    "ping": 1,
    "time": 1,
    "exchangeInfo": 20,
    "ticker/price": 2,
    "order:POST": 1,
    "order:GET": 4,
    "order:DELETE": 1,
    "openOrders": 6,
    "openOrders:all": 80,
    "account": 20,
}


class BinanceError(Exception):
    """An error answer in Binance's shape: ``{"code": -NNNN, "msg": "..."}``."""

    def __init__(
        self, status: int, code: int, msg: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {msg}")
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = dict(headers or {})

    def response(self) -> Response:
        response = json_response({"code": self.code, "msg": self.msg}, status_code=self.status)
        response.headers.update(self.headers)
        return response


def _bad(code: int, msg: str) -> BinanceError:
    return BinanceError(400, code, msg)


def _mandatory(name: str) -> BinanceError:
    return _bad(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _illegal(name: str, rule: str) -> BinanceError:
    return _bad(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{rule}'.")


def _filter_failure(name: str) -> BinanceError:
    return _bad(-1013, f"Filter failure: {name}")


# --------------------------------------------------------------------- config


class BinanceInstrument(BaseModel):
    """One spot symbol the dialect lists, with its filters (exchangeInfo ``filters``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: Symbol = Field(description="The paper symbol, BASE/QUOTE: BTC/USDT.")
    tick_size: PositiveDecimal
    min_price: PositiveDecimal | None = None
    """Default: the tick size."""
    max_price: PositiveDecimal = Decimal("1000000")
    step_size: PositiveDecimal
    min_qty: PositiveDecimal | None = None
    """Default: the step size."""
    max_qty: PositiveDecimal = Decimal("9000")
    min_notional: Annotated[Decimal, Field(ge=0)] = Decimal("5")
    max_notional: PositiveDecimal | None = Decimal("9000000")
    notional_filter: Literal["NOTIONAL", "MIN_NOTIONAL"] = "NOTIONAL"

    @property
    def base_asset(self) -> str:
        return self.symbol.split("/", 1)[0]

    @property
    def quote_asset(self) -> str:
        return self.symbol.split("/", 1)[1]

    @property
    def binance_symbol(self) -> str:
        return self.base_asset + self.quote_asset

    @property
    def lowest_price(self) -> Decimal:
        return self.min_price if self.min_price is not None else self.tick_size

    @property
    def lowest_qty(self) -> Decimal:
        return self.min_qty if self.min_qty is not None else self.step_size

    def listing(self) -> Instrument:
        """The venue's instrument these filters state (the table every dialect reads)."""
        return Instrument(
            symbol=self.symbol,
            quantity_step=self.step_size,
            min_quantity=self.lowest_qty,
            max_quantity=self.max_qty,
            price_tick=self.tick_size,
            min_notional=self.min_notional or None,
        )

    @classmethod
    def of(cls, instrument: Instrument, extras: BinanceInstrument | None) -> BinanceInstrument:
        """The filters of a listed instrument: its rules, and what only Binance states
        (price bounds, maximum notional, the notional filter's name) as last registered
        through ``PUT /admin/binance/instruments``. A rule the venue does not state is
        Binance's widest (8 decimals, no minimum notional)."""
        step = instrument.quantity_step or _EIGHT_PLACES
        base = extras.model_dump() if extras is not None else {}
        base.update(
            symbol=instrument.symbol,
            tick_size=instrument.price_tick or _EIGHT_PLACES,
            step_size=step,
            min_qty=instrument.min_quantity or step,
            max_qty=instrument.max_quantity or cls.model_fields["max_qty"].default,
            min_notional=instrument.min_notional or Decimal(0),
        )
        return cls.model_validate(base)


def binance_symbol_of(symbol: str) -> str | None:
    """``BTC/USDT`` -> ``BTCUSDT``; ``None`` for a symbol the dialect cannot list
    (not BASE/USDT with letters and digits)."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base.isalnum() or quote != CASH_ASSET:
        return None
    return base + quote


def check_instrument(instrument: BinanceInstrument) -> BinanceInstrument:
    """Refuse an instrument the dialect cannot answer for (a ValueError)."""
    base, sep, quote = instrument.symbol.partition("/")
    if not sep or not base.isalnum() or not quote.isalnum():
        raise ValueError(f"{instrument.symbol!r}: expected BASE/QUOTE with letters and digits")
    if quote != CASH_ASSET:
        raise ValueError(
            f"{instrument.symbol!r}: the quote asset must be {CASH_ASSET}, the account's cash"
        )
    return instrument


_INSTRUMENT_LIST = TypeAdapter(list[BinanceInstrument])


class BinanceKey(BaseModel):
    """Body of ``PUT /admin/binance/keys/{api_key}``: the key's secret and its account."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: str = Field(min_length=8, max_length=256, repr=False)
    account: str = Field(min_length=1, max_length=64)


class RateLimitSpec(BaseModel):
    """Body of ``PUT /admin/binance/rate-limit``; resets every client's counters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request_weight_per_minute: int = Field(default=DEFAULT_WEIGHT_PER_MINUTE, ge=1)
    ban_after_429s: int | None = Field(default=None, ge=0)
    """Requests answered 429 before the next one bans the IP (418); None: never."""
    ban_seconds: int = Field(default=DEFAULT_BAN_SECONDS, ge=1, le=3 * 24 * 3600)


def parse_keys(text: str) -> dict[str, BinanceKey]:
    """``"KEY:SECRET:ACCOUNT,KEY2:SECRET2:ACCOUNT2"`` -> keys (ValueError when malformed)."""
    keys: dict[str, BinanceKey] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        parts = entry.split(":", 2)
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"{ENV_KEYS}: expected API_KEY:SECRET:ACCOUNT entries")
        keys[parts[0]] = BinanceKey(secret=parts[1], account=parts[2])
    return keys


def load_instruments(path: Path) -> list[BinanceInstrument]:
    """A JSON list of instruments (decimals as strings) from a file."""
    instruments = _INSTRUMENT_LIST.validate_json(path.read_bytes())
    return [check_instrument(instrument) for instrument in instruments]


@dataclass
class BinanceDialectState:
    """What the dialect holds in memory: keys, Binance-only filter fields, rate-limit
    counters. Which symbols it lists and their rules are the venue's instruments
    (``listing``: the engine's table), the same the native API and Alpaca answer from."""

    keys: dict[str, BinanceKey] = field(default_factory=dict)
    configured: list[BinanceInstrument] = field(default_factory=list)
    """Instruments from ``EXECBATCH_PAPER_BINANCE_INSTRUMENTS``, listed at start."""
    extras: dict[str, BinanceInstrument] = field(default_factory=dict)
    """By Binance symbol: the filters last registered through the dialect."""
    listing: Callable[[], Mapping[str, Instrument]] = field(default=lambda: {})
    limits: RateLimitSpec = field(default_factory=RateLimitSpec)
    windows: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Per client IP: (minute, weight used, requests answered 429 in it)."""
    banned_until: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BinanceDialectState:
        env = os.environ if environ is None else environ
        state = cls(keys=parse_keys(env.get(ENV_KEYS, "")))
        path = env.get(ENV_INSTRUMENTS, "").strip()
        if path:
            state.configured = load_instruments(Path(path))
            state.extras = {item.binance_symbol: item for item in state.configured}
        return state

    @property
    def instruments(self) -> dict[str, BinanceInstrument]:
        """Every listed BASE/USDT instrument, by Binance symbol, as its filters."""
        listed: dict[str, BinanceInstrument] = {}
        for symbol, instrument in self.listing().items():
            name = binance_symbol_of(symbol)
            if name is not None:
                listed[name] = BinanceInstrument.of(instrument, self.extras.get(name))
        return listed

    def instrument(self, binance_symbol: str | None) -> BinanceInstrument:
        if not binance_symbol:
            raise _mandatory("symbol")
        for symbol, instrument in self.listing().items():
            if binance_symbol_of(symbol) == binance_symbol:
                return BinanceInstrument.of(instrument, self.extras.get(binance_symbol))
        raise _bad(-1121, MSG_BAD_SYMBOL)

    def charge(self, client: str, weight: int, now: float) -> dict[str, str]:
        """Count a request's weight; raise the 429/418 answer when over the limit."""
        banned = self.banned_until.get(client, 0.0)
        if now < banned:
            raise BinanceError(
                418,
                -1003,
                f"Way too much request weight used; IP banned until {int(banned * 1000)}."
                " Please use WebSocket Streams for live updates to avoid bans.",
                {"Retry-After": str(max(1, math.ceil(banned - now)))},
            )
        minute = int(now // 60)
        seen, used, refused = self.windows.get(client, (minute, 0, 0))
        if seen != minute:
            used, refused = 0, 0
        used += weight
        limit = self.limits.request_weight_per_minute
        headers = {"X-MBX-USED-WEIGHT-1M": str(used)}
        if used <= limit:
            self.windows[client] = (minute, used, refused)
            return headers
        ban_after = self.limits.ban_after_429s
        if ban_after is not None and refused >= ban_after:
            until = now + self.limits.ban_seconds
            self.banned_until[client] = until
            self.windows[client] = (minute, used, 0)
            raise BinanceError(
                418,
                -1003,
                f"Way too much request weight used; IP banned until {int(until * 1000)}."
                " Please use WebSocket Streams for live updates to avoid bans.",
                {"Retry-After": str(self.limits.ban_seconds), **headers},
            )
        self.windows[client] = (minute, used, refused + 1)
        retry_after = max(1, math.ceil((minute + 1) * 60 - now))
        raise BinanceError(
            429,
            -1003,
            f"Too much request weight used; current limit is {limit} request weight per"
            " 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.",
            {"Retry-After": str(retry_after), **headers},
        )

    def configure_limits(self, spec: RateLimitSpec) -> None:
        self.limits = spec
        self.windows.clear()
        self.banned_until.clear()


# ----------------------------------------------------------------- rendering


def num(value: Decimal) -> str:
    """Binance's number strings: at least 8 decimal places, never cut (``"0.10000000"``)."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent >= -8:
        return fmt_decimal(value.quantize(_EIGHT_PLACES, context=EXACT))
    return fmt_decimal(value)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def now_ms() -> int:
    return int(time.time() * 1000)


def order_id(order: VenueOrder) -> int:
    """Binance's numeric ``orderId``: the venue's sequence number (``V0000000042`` -> 42)."""
    return int(order.venue_order_id[1:])


def binance_status(order: VenueOrder) -> str:
    """Ours -> Binance's. A MARKET or IOC remainder cancelled by the venue is EXPIRED."""
    if order.status is VenueOrderStatus.CANCELED and (
        order.order_type is OrderType.MARKET or order.time_in_force is TimeInForce.IOC
    ):
        return "EXPIRED"
    return order.status.value


def _quote_quantity(fills: list[Fill]) -> Decimal:
    total = Decimal(0)
    for fill in fills:
        total = EXACT.add(total, EXACT.multiply(fill.quantity, fill.price))
    return total


def render_order(
    order: VenueOrder, instrument: BinanceInstrument, fills: list[Fill]
) -> dict[str, object]:
    """An order as ``GET /api/v3/order`` and ``GET /api/v3/openOrders`` answer it."""
    return {
        "symbol": instrument.binance_symbol,
        "orderId": order_id(order),
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "price": num(order.limit_price or Decimal(0)),
        "origQty": num(order.quantity),
        "executedQty": num(order.filled_quantity),
        "cummulativeQuoteQty": num(_quote_quantity(fills)),
        "status": binance_status(order),
        "timeInForce": "IOC" if order.time_in_force is TimeInForce.IOC else "GTC",
        "type": order.order_type.value,
        "side": order.side.value,
        "stopPrice": num(Decimal(0)),
        "icebergQty": num(Decimal(0)),
        "time": millis(order.created_at),
        "updateTime": millis(order.updated_at),
        "isWorking": True,
        "workingTime": millis(order.created_at),
        "origQuoteOrderQty": num(Decimal(0)),
        "selfTradePreventionMode": "NONE",
    }


def render_placement(
    order: VenueOrder, instrument: BinanceInstrument, fills: list[Fill], response_type: str
) -> dict[str, object]:
    """``POST /api/v3/order``'s answer in its ACK, RESULT or FULL form."""
    ack: dict[str, object] = {
        "symbol": instrument.binance_symbol,
        "orderId": order_id(order),
        "orderListId": -1,
        "clientOrderId": order.client_order_id,
        "transactTime": millis(order.updated_at),
    }
    if response_type == "ACK":
        return ack
    full = render_order(order, instrument, fills)
    result: dict[str, object] = {
        **ack,
        **{
            key: full[key]
            for key in (
                "price",
                "origQty",
                "executedQty",
                "origQuoteOrderQty",
                "cummulativeQuoteQty",
                "status",
                "timeInForce",
                "type",
                "side",
                "workingTime",
                "selfTradePreventionMode",
            )
        },
    }
    if response_type == "FULL":
        result["fills"] = [
            {
                "price": num(fill.price),
                "qty": num(fill.quantity),
                "commission": num(Decimal(0)),
                "commissionAsset": instrument.quote_asset,
                "tradeId": fill.seq,
            }
            for fill in fills
        ]
    return result


def render_cancel(
    order: VenueOrder, instrument: BinanceInstrument, fills: list[Fill], cancel_id: str
) -> dict[str, object]:
    """``DELETE /api/v3/order``'s answer; ``clientOrderId`` is the cancel's own id."""
    full = render_order(order, instrument, fills)
    return {
        "symbol": instrument.binance_symbol,
        "origClientOrderId": order.client_order_id,
        "orderId": order_id(order),
        "orderListId": -1,
        "clientOrderId": cancel_id,
        "transactTime": millis(order.updated_at),
        **{
            key: full[key]
            for key in (
                "price",
                "origQty",
                "executedQty",
                "cummulativeQuoteQty",
                "status",
                "timeInForce",
                "type",
                "side",
                "selfTradePreventionMode",
            )
        },
    }


def render_symbol(instrument: BinanceInstrument, trading: bool) -> dict[str, object]:
    """One entry of ``exchangeInfo.symbols``."""
    notional: dict[str, object]
    if instrument.notional_filter == "NOTIONAL":
        notional = {
            "filterType": "NOTIONAL",
            "minNotional": num(instrument.min_notional),
            "applyMinToMarket": True,
            "maxNotional": num(instrument.max_notional or Decimal("9000000000")),
            "applyMaxToMarket": False,
            "avgPriceMins": 5,
        }
    else:
        notional = {
            "filterType": "MIN_NOTIONAL",
            "minNotional": num(instrument.min_notional),
            "applyToMarket": True,
            "avgPriceMins": 5,
        }
    precision = max(8, _places(instrument.step_size), _places(instrument.tick_size))
    return {
        "symbol": instrument.binance_symbol,
        "status": "TRADING" if trading else "BREAK",
        "baseAsset": instrument.base_asset,
        "baseAssetPrecision": precision,
        "quoteAsset": instrument.quote_asset,
        "quotePrecision": precision,
        "quoteAssetPrecision": precision,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": num(instrument.lowest_price),
                "maxPrice": num(instrument.max_price),
                "tickSize": num(instrument.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": num(instrument.lowest_qty),
                "maxQty": num(instrument.max_qty),
                "stepSize": num(instrument.step_size),
            },
            notional,
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def _places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


# ------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class _Signed:
    """A signed request that passed the checks: its account, parameters and window."""

    account: str
    params: dict[str, str]
    valid_until: float
    """Epoch seconds: ``timestamp + recvWindow``."""


def _parameters(query: str, body: str) -> dict[str, str]:
    """Query and body parameters; the query wins where both carry one (Binance's rule)."""
    params: dict[str, str] = {}
    for source in (body, query):
        seen: set[str] = set()
        for name, value in parse_qsl(source, keep_blank_values=True):
            if name in seen:
                raise _bad(-1101, "Duplicate values for a parameter detected.")
            seen.add(name)
            params[name] = value
    return params


def _without_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` with its ``signature=...`` component taken out, and that signature."""
    kept: list[str] = []
    signature: str | None = None
    for part in raw.split("&") if raw else []:
        if part.startswith("signature="):
            signature = part[len("signature=") :]
        else:
            kept.append(part)
    return "&".join(kept), signature


def _decimal(params: Mapping[str, str], name: str, *, required: bool) -> Decimal | None:
    text = params.get(name)
    if text is None or text == "":
        if required:
            raise _mandatory(name)
        return None
    if not _DECIMAL_RE.match(text):
        raise _illegal(name, DECIMAL_RULE)
    value = Decimal(text)
    if value <= 0:
        raise _bad(-1013, f"Invalid {name}.")
    if _places(value) > 18:
        raise _bad(-1111, f"Parameter '{name}' has too much precision.")
    return value


def _integer(params: Mapping[str, str], name: str) -> int | None:
    text = params.get(name)
    if text is None or text == "":
        return None
    if not _INTEGER_RE.match(text):
        raise _illegal(name, "^[0-9]{1,20}$")
    return int(text)


@dataclass(frozen=True)
class _Placement:
    """``POST /api/v3/order``'s parameters, validated (filters aside)."""

    instrument: BinanceInstrument
    order_type: OrderType
    side: OrderSide
    quantity: Decimal
    price: Decimal | None
    time_in_force: TimeInForce
    client_order_id: str
    response_type: str


def _check_filters(
    instrument: BinanceInstrument,
    order_type: OrderType,
    quantity: Decimal,
    price: Decimal | None,
    reference: Decimal | None,
) -> None:
    """Binance's symbol filters, in its order; a failure is ``-1013 Filter failure: X``."""
    with localcontext(EXACT):
        if price is not None and (
            price < instrument.lowest_price
            or price > instrument.max_price
            or (price - instrument.lowest_price) % instrument.tick_size != 0
        ):
            raise _filter_failure("PRICE_FILTER")
        if (
            quantity < instrument.lowest_qty
            or quantity > instrument.max_qty
            or (quantity - instrument.lowest_qty) % instrument.step_size != 0
        ):
            raise _filter_failure("LOT_SIZE")
        notional_price = price if order_type is OrderType.LIMIT else reference
        if notional_price is None:
            return
        notional = quantity * notional_price
        if notional < instrument.min_notional:
            raise _filter_failure(instrument.notional_filter)
        if (
            instrument.notional_filter == "NOTIONAL"
            and order_type is OrderType.LIMIT
            and instrument.max_notional is not None
            and notional > instrument.max_notional
        ):
            raise _filter_failure("NOTIONAL")


def parse_placement(state: BinanceDialectState, params: Mapping[str, str]) -> _Placement:
    """Validate ``POST /api/v3/order``'s parameters (all but the filters)."""
    instrument = state.instrument(params.get("symbol"))
    side_text = params.get("side")
    if not side_text:
        raise _mandatory("side")
    if side_text not in ("BUY", "SELL"):
        raise _bad(-1117, "Invalid side.")
    type_text = params.get("type")
    if not type_text:
        raise _mandatory("type")
    if type_text not in ("LIMIT", "MARKET"):
        raise _bad(-1116, "Invalid orderType.")
    order_type = OrderType(type_text)
    if params.get("quoteOrderQty"):
        raise _bad(-1013, "Quote order qty market orders are not support for this symbol.")
    quantity = _decimal(params, "quantity", required=True)
    assert quantity is not None
    price = _decimal(params, "price", required=order_type is OrderType.LIMIT)
    tif_text = params.get("timeInForce")
    if order_type is OrderType.MARKET:
        if price is not None:
            raise _bad(-1106, "Parameter 'price' sent when not required.")
        if tif_text:
            raise _bad(-1106, "Parameter 'timeInForce' sent when not required.")
        tif = TimeInForce.GTC
    else:
        if not tif_text:
            raise _mandatory("timeInForce")
        if tif_text not in ("GTC", "IOC"):
            raise _bad(-1115, "Invalid timeInForce.")
        tif = TimeInForce(tif_text)
    client_id = params.get("newClientOrderId") or ""
    if client_id == "":
        client_id = "paper" + uuid.uuid4().hex[:22]
    if not _CLIENT_ID_RE.match(client_id):
        raise _illegal("newClientOrderId", CLIENT_ID_RULE)
    if not _OUR_CLIENT_ID_RE.match(client_id):
        # Binance allows a leading '-' or '_'; the paper venue's ids start alphanumeric.
        raise _illegal("newClientOrderId", "^[a-zA-Z0-9][a-zA-Z0-9-_]{0,35}$")
    response_type = params.get("newOrderRespType") or "FULL"
    if response_type not in ("ACK", "RESULT", "FULL"):
        raise _bad(-1130, "Data sent for parameter 'newOrderRespType' is not valid.")
    return _Placement(
        instrument=instrument,
        order_type=order_type,
        side=OrderSide(side_text),
        quantity=quantity,
        price=price,
        time_in_force=tif,
        client_order_id=client_id,
        response_type=response_type,
    )


def _refusal(rejection: tuple[str, str]) -> BinanceError:
    """A store rejection (our code, message) in Binance's words."""
    error, message = rejection
    if error == "EXPIRED_WINDOW":
        # Checked again when the order reaches the matching engine (after any
        # injected latency), so a placement cannot land after its window.
        return _bad(-1021, "Timestamp for this request is outside of the recvWindow.")
    if error == "INSUFFICIENT_FUNDS":
        return _bad(-2010, MSG_INSUFFICIENT)
    if error == "UNKNOWN_SYMBOL":
        return _bad(-1121, MSG_BAD_SYMBOL)
    return _bad(-2010, message)


def _engine_failure(exc: VenueHTTPError) -> BinanceError:
    """A fault the engine raised: done-but-unanswered (-1007) or not done (-1001)."""
    if isinstance(exc, ResponseLost):
        return BinanceError(503, -1007, MSG_TIMEOUT)
    if exc.status_code >= 500:
        return BinanceError(503, -1001, MSG_INTERNAL)
    return _bad(-1000, exc.message)


# -------------------------------------------------------------------- router


def binance_router(engine: VenueEngine, state: BinanceDialectState | None = None) -> APIRouter:
    """Binance spot's ``/api/v3`` on ``engine``, plus its test controls under ``/admin/binance``.

    ``state`` defaults to ``BinanceDialectState.from_env()`` (keys and
    instruments from the environment).
    """
    dialect = state if state is not None else BinanceDialectState.from_env()
    dialect.listing = lambda: engine.instrument_table
    engine.start_instruments.extend(item.listing() for item in dialect.configured)
    router = APIRouter()

    async def handle(
        request: Request,
        weight: int,
        work: Callable[[], Awaitable[object]],
    ) -> Response:
        """Rate limit, run ``work`` and render its answer or Binance's error."""
        client = request.client.host if request.client else "?"
        headers: dict[str, str] = {}
        try:
            headers = dialect.charge(client, weight, time.time())
            payload = await work()
        except BinanceError as exc:
            exc.headers = {**headers, **exc.headers}
            return exc.response()
        response = json_response(payload)
        response.headers.update(headers)
        return response

    async def signed(request: Request) -> _Signed:
        """Check key, signature and timing (Binance's "SIGNED endpoint security")."""
        api_key = request.headers.get(API_KEY_HEADER)
        if not api_key:
            raise BinanceError(401, -2014, "API-key format invalid.")
        key = dialect.keys.get(api_key)
        if key is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        query = request.url.query
        body = (await request.body()).decode("utf-8", errors="replace")
        query_payload, query_signature = _without_signature(query)
        body_payload, body_signature = _without_signature(body)
        presented = query_signature or body_signature
        params = _parameters(query, body)
        params.pop("signature", None)
        if not presented:
            raise _mandatory("signature")
        expected = hmac.new(
            key.secret.encode(), (query_payload + body_payload).encode(), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(expected, presented.lower()):
            raise _bad(-1022, "Signature for this request is not valid.")
        timestamp = _integer(params, "timestamp")
        if timestamp is None:
            raise _mandatory("timestamp")
        recv_window = _integer(params, "recvWindow")
        if recv_window is None:
            recv_window = DEFAULT_RECV_WINDOW_MS
        if recv_window > MAX_RECV_WINDOW_MS:
            raise _bad(-1131, f"recvWindow must be less than {MAX_RECV_WINDOW_MS}")
        server_time = now_ms()
        if timestamp >= server_time + FUTURE_TOLERANCE_MS:
            raise _bad(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
        if server_time - timestamp > recv_window:
            raise _bad(-1021, "Timestamp for this request is outside of the recvWindow.")
        return _Signed(
            account=key.account, params=params, valid_until=(timestamp + recv_window) / 1000
        )

    def trades(instrument: BinanceInstrument, prices: Mapping[str, Decimal]) -> bool:
        """TRADING: listed as tradable and priced; else BREAK."""
        listed = engine.instrument_table.get(instrument.symbol)
        return listed is not None and listed.tradable and instrument.symbol in prices

    async def fills_of(orders: list[VenueOrder]) -> dict[str, list[Fill]]:
        return await engine.order_fills([order.venue_order_id for order in orders])

    def order_names(params: Mapping[str, str]) -> tuple[str | None, str | None]:
        """``(origClientOrderId, venue order id)`` of a query or cancel; one is needed."""
        client_id = params.get("origClientOrderId") or None
        numeric = _integer(params, "orderId")
        if client_id is None and numeric is None:
            raise _bad(
                -1102,
                "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!",
            )
        return client_id, (f"V{numeric:010d}" if numeric is not None else None)

    # ------------------------------------------------------------- general

    @router.get("/api/v3/ping")
    async def ping(request: Request) -> Response:
        async def work() -> object:
            return {}

        return await handle(request, _WEIGHTS["ping"], work)

    @router.get("/api/v3/time")
    async def server_time(request: Request) -> Response:
        async def work() -> object:
            return {"serverTime": now_ms()}

        return await handle(request, _WEIGHTS["time"], work)

    @router.get("/api/v3/exchangeInfo")
    async def exchange_info(request: Request) -> Response:
        async def work() -> object:
            prices = await engine.prices()
            wanted = _symbol_selection(
                request.query_params.get("symbol"), request.query_params.get("symbols")
            )
            listed = [
                instrument
                for binance_symbol, instrument in sorted(dialect.instruments.items())
                if wanted is None or binance_symbol in wanted
            ]
            if wanted is not None and len(listed) != len(wanted):
                raise _bad(-1121, MSG_BAD_SYMBOL)
            return {
                "timezone": "UTC",
                "serverTime": now_ms(),
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": dialect.limits.request_weight_per_minute,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": 100,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "DAY",
                        "intervalNum": 1,
                        "limit": 200000,
                    },
                ],
                "exchangeFilters": [],
                "symbols": [
                    render_symbol(instrument, trades(instrument, prices)) for instrument in listed
                ],
            }

        return await handle(request, _WEIGHTS["exchangeInfo"], work)

    @router.get("/api/v3/ticker/price")
    async def ticker_price(request: Request) -> Response:
        async def work() -> object:
            instrument = dialect.instrument(request.query_params.get("symbol"))
            price = (await engine.prices()).get(instrument.symbol)
            if price is None:
                raise _bad(-1121, MSG_BAD_SYMBOL)
            return {"symbol": instrument.binance_symbol, "price": num(price)}

        return await handle(request, _WEIGHTS["ticker/price"], work)

    # -------------------------------------------------------------- orders

    @router.post("/api/v3/order")
    async def place_order(request: Request) -> Response:
        async def work() -> object:
            engine.count_request(FaultEndpoint.PLACE)
            auth = await signed(request)
            try:
                placement = parse_placement(dialect, auth.params)
                instrument = placement.instrument
                prices = await engine.prices()
                reference = prices.get(instrument.symbol)
                if reference is None or not trades(instrument, prices):
                    raise _bad(-2010, MSG_MARKET_CLOSED)
                _check_filters(
                    instrument,
                    placement.order_type,
                    placement.quantity,
                    placement.price,
                    reference,
                )
                order_request = OrderRequest(
                    client_order_id=placement.client_order_id,
                    account=auth.account,
                    symbol=instrument.symbol,
                    side=placement.side,
                    order_type=placement.order_type,
                    quantity=placement.quantity,
                    limit_price=placement.price,
                    time_in_force=placement.time_in_force,
                )
            except (BinanceError, ValidationError) as exc:
                engine.count_invalid_placement()
                if isinstance(exc, ValidationError):
                    raise _bad(-1013, "Invalid order parameters.") from exc
                raise
            try:
                outcome = await engine.place_open_scope(
                    order_request, sells_need_holdings=True, not_after=auth.valid_until
                )
            except VenueHTTPError as exc:
                raise _engine_failure(exc) from exc
            if outcome.result is PlaceResult.DUPLICATE:
                raise _bad(-2010, MSG_DUPLICATE)
            if outcome.rejection is not None or outcome.order is None:
                raise _refusal(outcome.rejection or ("INVALID_ORDER", "rejected"))
            order = outcome.order
            fills = await fills_of([order])
            return render_placement(
                order, instrument, fills[order.venue_order_id], placement.response_type
            )

        return await handle(request, _WEIGHTS["order:POST"], work)

    @router.get("/api/v3/order")
    async def query_order(request: Request) -> Response:
        async def work() -> object:
            engine.count_request(FaultEndpoint.GET)
            auth = await signed(request)
            instrument = dialect.instrument(auth.params.get("symbol"))
            client_id, venue_order_id = order_names(auth.params)
            try:
                order = await engine.find_order(
                    auth.account,
                    instrument.symbol,
                    client_order_id=client_id,
                    venue_order_id=venue_order_id,
                )
            except VenueHTTPError as exc:
                raise _engine_failure(exc) from exc
            if order is None:
                raise _bad(-2013, MSG_NO_SUCH_ORDER)
            fills = await fills_of([order])
            return render_order(order, instrument, fills[order.venue_order_id])

        return await handle(request, _WEIGHTS["order:GET"], work)

    @router.delete("/api/v3/order")
    async def cancel_order(request: Request) -> Response:
        async def work() -> object:
            engine.count_request(FaultEndpoint.CANCEL)
            auth = await signed(request)
            instrument = dialect.instrument(auth.params.get("symbol"))
            client_id, venue_order_id = order_names(auth.params)
            cancel_id = auth.params.get("newClientOrderId") or "paper" + uuid.uuid4().hex[:22]
            if not _CLIENT_ID_RE.match(cancel_id):
                raise _illegal("newClientOrderId", CLIENT_ID_RULE)
            try:
                order = await engine.cancel_open(
                    auth.account,
                    instrument.symbol,
                    client_order_id=client_id,
                    venue_order_id=venue_order_id,
                )
            except VenueHTTPError as exc:
                raise _engine_failure(exc) from exc
            if order is None:
                raise _bad(-2011, MSG_UNKNOWN_ORDER)
            fills = await fills_of([order])
            return render_cancel(order, instrument, fills[order.venue_order_id], cancel_id)

        return await handle(request, _WEIGHTS["order:DELETE"], work)

    @router.get("/api/v3/openOrders")
    async def open_orders(request: Request) -> Response:
        symbol = request.query_params.get("symbol")
        weight = _WEIGHTS["openOrders" if symbol else "openOrders:all"]

        async def work() -> object:
            auth = await signed(request)
            instrument = dialect.instrument(symbol) if symbol else None
            orders = await engine.open_orders(
                auth.account, instrument.symbol if instrument else None
            )
            by_symbol = {item.symbol: item for item in dialect.instruments.values()}
            orders = [order for order in orders if order.symbol in by_symbol]
            fills = await fills_of(orders)
            return [
                render_order(order, by_symbol[order.symbol], fills[order.venue_order_id])
                for order in orders
            ]

        return await handle(request, weight, work)

    @router.get("/api/v3/account")
    async def account(request: Request) -> Response:
        async def work() -> object:
            auth = await signed(request)
            holdings = await engine.holdings(auth.account)
            if holdings is None:
                raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
            balances = [
                {
                    "asset": CASH_ASSET,
                    "free": num(EXACT.subtract(holdings.cash, holdings.reserved_cash)),
                    "locked": num(holdings.reserved_cash),
                }
            ]
            for instrument in sorted(dialect.instruments.values(), key=lambda i: i.symbol):
                held = holdings.positions.get(instrument.symbol, Decimal(0))
                locked = holdings.open_sells.get(instrument.symbol, Decimal(0))
                balances.append(
                    {
                        "asset": instrument.base_asset,
                        "free": num(EXACT.subtract(held, locked)),
                        "locked": num(locked),
                    }
                )
            if auth.params.get("omitZeroBalances") == "true":
                balances = [
                    entry
                    for entry in balances
                    if Decimal(str(entry["free"])) != 0 or Decimal(str(entry["locked"])) != 0
                ]
            return {
                "makerCommission": 0,
                "takerCommission": 0,
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": "0.00000000",
                    "taker": "0.00000000",
                    "buyer": "0.00000000",
                    "seller": "0.00000000",
                },
                "canTrade": True,
                "canWithdraw": False,
                "canDeposit": False,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": now_ms(),
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": int.from_bytes(hashlib.sha256(auth.account.encode()).digest()[:6], "big"),
            }

        return await handle(request, _WEIGHTS["account"], work)

    # ------------------------------------------------------- test controls

    @router.put(ADMIN_PREFIX + "/keys/{api_key}")
    async def put_key(api_key: str, spec: BinanceKey) -> Response:
        if not re.fullmatch(r"[A-Za-z0-9]{8,128}", api_key):
            raise VenueHTTPError(422, "INVALID_REQUEST", "api_key: 8 to 128 letters or digits")
        dialect.keys[api_key] = spec
        log.info("binance key registered account=%s", spec.account)
        return json_response({"api_key": api_key, "account": spec.account})

    @router.get(ADMIN_PREFIX + "/instruments")
    async def get_instruments() -> Response:
        return json_response(
            [instrument.model_dump() for instrument in dialect.instruments.values()]
        )

    @router.put(ADMIN_PREFIX + "/instruments")
    async def put_instrument(spec: BinanceInstrument) -> Response:
        try:
            check_instrument(spec)
        except ValueError as exc:
            raise VenueHTTPError(422, "INVALID_REQUEST", str(exc)) from exc
        dialect.extras[spec.binance_symbol] = spec
        await engine.set_instruments([spec.listing()])
        log.info("binance instrument set %s", engine.order_data_log.model(spec))
        return json_response(dialect.instrument(spec.binance_symbol).model_dump())

    @router.put(ADMIN_PREFIX + "/rate-limit")
    async def put_rate_limit(spec: RateLimitSpec) -> Response:
        dialect.configure_limits(spec)
        return json_response(spec.model_dump())

    return router


def _symbol_selection(symbol: str | None, symbols: str | None) -> set[str] | None:
    """``exchangeInfo``'s ``symbol=BTCUSDT`` or ``symbols=["BTCUSDT","ETHUSDT"]``."""
    if symbol:
        return {symbol}
    if symbols:
        try:
            names = json.loads(symbols)
        except ValueError:
            raise _bad(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
            raise _bad(-1100, "Illegal characters found in parameter 'symbols'.")
        return set(names)
    return None


__all__ = [
    "ADMIN_PREFIX",
    "BINANCE_PATH_PREFIX",
    "BinanceDialectState",
    "BinanceInstrument",
    "BinanceKey",
    "RateLimitSpec",
    "binance_router",
]
