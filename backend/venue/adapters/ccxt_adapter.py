"""ExchangeAdapter for crypto exchanges through the ``ccxt`` package (Binance spot first).

One ``ccxt.async_support`` exchange instance per adapter, used unmodified; its
markets are loaded lazily, under a lock, and again once an hour old. What the executor may rely on
is the exchange's entry in ``CCXT_CAPABILITIES``; an exchange without one is
refused (docs/VENUES.md, "Binance spot (ccxt)", says how to add one).

Configuration (arguments win over the environment):

====================================  ==========================================
``EXECBATCH_CCXT_API_KEY`` /          the exchange API key and secret; never
``EXECBATCH_CCXT_SECRET``             logged, never in ``repr``
``EXECBATCH_VENUE_SANDBOX=1``         ``set_sandbox_mode(True)``: the exchange's
                                      test network (Binance's spot testnet)
``EXECBATCH_CCXT_API_URL``            base URL that replaces the exchange's
                                      ``urls['api']`` entries (our paper venue's
                                      dialect, ``http://127.0.0.1:8700``); the
                                      other entries are removed, so nothing can
                                      reach the real exchange
``EXECBATCH_CCXT_TIMEOUT``            seconds per HTTP request (default 10)
``EXECBATCH_CCXT_ALLOW_LIVE=1``       ``from_env`` only: trade the exchange's
                                      production API (real money), which it
                                      refuses without this, the sandbox or a URL
====================================  ==========================================

Guarantees this adapter adds on top of ccxt:

* **Client order ids** (``exchange_client_order_id``): ours is sent as is when
  it fits the exchange's length and characters, otherwise as a deterministic
  derivation (the tail of the id with other characters as ``-``, then ``-`` and
  20 base32 characters of its SHA-256), recoverable from the batch alone.
* **At most one order per id** although Binance only keeps ids unique among
  open orders: ``place_order`` looks the id up *before* sending, and after an
  answer whose outcome is unknown (timeout, 5xx, -1007) it looks up again and
  sends once more only when the id is still unknown after the placement's
  landing bound (the ``recvWindow`` it sent plus Binance's 1 s clock
  tolerance) has passed. A send is recorded before it goes out, so a call
  cut off on the wire holds the next one back too; a retry from another
  process says when the earlier attempts ended (``earlier_sends_by``) and
  waits the bound from then.
* **No silent rounding**: a leg that breaks LOT_SIZE, PRICE_FILTER or the
  minimum notional is refused before anything is sent
  (``VenueRejection("INVALID_ORDER", ...)`` naming the rule and the venue's
  value), and ccxt's own ``amount_to_precision``/``price_to_precision`` must
  leave the values unchanged. Quantities and prices are Decimal end to end,
  read from the exchange's raw strings, never from ccxt's floats.
* **Errors** (``_translate``): InsufficientFunds / BadSymbol / InvalidOrder
  (-2010, -1121, filter failures) -> ``VenueRejection``; OrderNotFound
  (-2011, -2013) -> ``OrderNotFound`` (never a fence); RequestTimeout (-1007),
  rate limits (-1003, 429, 418), InvalidNonce (-1021), 5xx, NetworkError,
  ExchangeNotAvailable -> ``VenueUnavailable``; authentication errors ->
  ``RuntimeError`` naming the variables to check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import ssl
import time
import weakref
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

import aiohttp
import ccxt.async_support as ccxt_async  # type: ignore[import-untyped]
from ccxt.base import errors as ccxt_errors  # type: ignore[import-untyped]
from opentelemetry import propagate

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.security.keys import KeyConfigError
from execbatch.venue.port.adapter import (
    OrderConflict,
    OrderNotFound,
    VenueRejection,
    VenueUnavailable,
)
from execbatch.venue.port.capabilities import ClientIdScope, InstrumentRules, VenueCapabilities
from execbatch.venue.port.client_ids import venue_client_order_id
from execbatch.venue.port.orders import AccountOverview, OrderRequest, Position, VenueOrder

log = logging.getLogger("execbatch.venue.ccxt")

ENV_API_KEY = "EXECBATCH_CCXT_API_KEY"
ENV_SECRET = "EXECBATCH_CCXT_SECRET"
ENV_SANDBOX = "EXECBATCH_VENUE_SANDBOX"
ENV_API_URL = "EXECBATCH_CCXT_API_URL"
ENV_TIMEOUT = "EXECBATCH_CCXT_TIMEOUT"
ENV_ALLOW_LIVE = "EXECBATCH_CCXT_ALLOW_LIVE"
"""``from_env`` refuses the exchange's production API (real money) unless this is 1:
a worker must ask for the testnet (``EXECBATCH_VENUE_SANDBOX=1``), name another API
URL, or say it means production."""

DEFAULT_RECV_WINDOW_MS = 900
"""The ``recvWindow`` sent (Binance's own default is 5000). Its landing bound (+1 s,
1.9 s) is what a retried placement waits out inside its attempt before it may send,
and no more than the least gap before a killed worker's placement is re-run (the
worker refuses a longer one: ``worker.check_rerun_gap``). A request that takes
longer than the window is refused (-1021), not lost."""
BINANCE_CLOCK_TOLERANCE_SECONDS = 1.0
"""Binance accepts a ``timestamp`` up to 1000 ms ahead of its clock, so on our
clock a placement can land until ``timestamp + recvWindow + 1 s``."""

BINANCE_SPOT_CLIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{1,36}$"
"""What Binance spot accepts as ``newClientOrderId`` (its -1100 answer states
``^[a-zA-Z0-9-_]{1,36}$``; see docs/VENUES.md for the sources)."""

CLIENT_ID_HASH_CHARS = 20
"""Base32 characters of SHA-256 in a derived client order id: 100 bits."""

MARKETS_MAX_AGE_SECONDS = 3600.0
"""How long the markets (symbols and their filters: the rules a leg is checked
against, the precision it is sent with) are used before ``exchangeInfo`` is read
again. Binance announces filter changes ahead; a full read costs request weight 20
and parsing every spot market, so not per batch."""

MAX_SENDS = 3
"""Placement requests one ``place_order`` call sends at most (each after the
previous one provably did not land)."""

CCXT_CAPABILITIES: dict[str, VenueCapabilities] = {
    "binance": VenueCapabilities(
        venue="ccxt:binance",
        client_id_scope=ClientIdScope.OPEN_ORDERS,
        cancel_fences_unknown_id=False,
        lookup_by_client_id=True,
        status_unknown_answers=True,
        placement_landing_bound_seconds=DEFAULT_RECV_WINDOW_MS / 1000
        + BINANCE_CLOCK_TOLERANCE_SECONDS,
        max_client_order_id_length=36,
        client_order_id_pattern=BINANCE_SPOT_CLIENT_ID_PATTERN,
        fractional_quantities=True,
    ),
}
"""What each enabled ccxt exchange guarantees (docs/VENUES.md). Binance spot:
client ids unique among open orders only, a cancel of an unknown id answers
-2011 and records nothing, orders can be queried by client id, -1007 and 5xx
mean "execution status unknown", a placement cannot land after its
``recvWindow`` (5 s as sent by this adapter, + 1 s clock tolerance)."""

_BINANCE_CODE = re.compile(r'"code"\s*:\s*(-?\d+)')
_SIGNATURE = re.compile(r"signature=[0-9A-Za-z%]+")
_UNKNOWN_OUTCOME_CODES = frozenset({-1000, -1001, -1006, -1007, -1008})
"""Binance codes answered with HTTP 5xx: "execution status UNKNOWN"."""
_TRANSIENT_CODES = _UNKNOWN_OUTCOME_CODES | {-1003, -1015, -1021}
_DIVISION = Context(prec=60)
_QUANTUM = Decimal("1e-18")


# ------------------------------------------------------------------ profiles


@dataclass(frozen=True)
class _Profile:
    """How the adapter drives one exchange through ccxt (beside its capabilities)."""

    options: Mapping[str, Any]
    api_paths: Mapping[str, str]
    """``urls['api']`` entries to set from a base URL override: entry -> path."""
    quote_asset: str
    client_id_param: str = "newClientOrderId"
    lookup_param: str = "origClientOrderId"
    time_in_force: frozenset[TimeInForce] = field(
        default_factory=lambda: frozenset({TimeInForce.GTC, TimeInForce.IOC})
    )


_PROFILES: dict[str, _Profile] = {
    "binance": _Profile(
        options={
            "defaultType": "spot",
            # Spot only: exchangeInfo of /api/v3, no futures, margin or currencies
            # (those need sapi/fapi endpoints a spot key or our paper dialect lacks).
            "fetchMarkets": {"types": ["spot"]},
            "fetchMargins": False,
            "fetchCurrencies": False,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
            "quoteOrderQty": False,
        },
        api_paths={"public": "/api/v3", "private": "/api/v3", "v1": "/api/v1"},
        quote_asset="USDT",
    ),
}


def supported_exchanges() -> list[str]:
    return sorted(CCXT_CAPABILITIES)


# --------------------------------------------------------- client order ids


def exchange_client_order_id(
    client_order_id: str, *, max_length: int, pattern: str = BINANCE_SPOT_CLIENT_ID_PATTERN
) -> str:
    """The id sent to the exchange for ``client_order_id`` (``port.client_ids``)."""
    return venue_client_order_id(client_order_id, max_length=max_length, pattern=pattern)


# ----------------------------------------------------------- rules & checks


def _positive(text: object) -> Decimal | None:
    """A filter value as Decimal; Binance's ``"0.00000000"`` means "no limit"."""
    if text is None:
        return None
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value > 0 else None


def binance_rules(symbol: str, info: Mapping[str, Any]) -> InstrumentRules:
    """InstrumentRules from a Binance exchangeInfo symbol (its raw filter strings)."""
    filters = {str(item.get("filterType")): item for item in info.get("filters", [])}
    price = filters.get("PRICE_FILTER", {})
    lot = filters.get("LOT_SIZE", {})
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    return InstrumentRules(
        symbol=symbol,
        tradable=info.get("status") == "TRADING",
        quantity_step=_positive(lot.get("stepSize")),
        min_quantity=_positive(lot.get("minQty")),
        max_quantity=_positive(lot.get("maxQty")),
        price_tick=_positive(price.get("tickSize")),
        min_notional=_positive(notional.get("minNotional")),
        fractional=True,
    )


def _min_price(info: Mapping[str, Any]) -> Decimal | None:
    for item in info.get("filters", []):
        if item.get("filterType") == "PRICE_FILTER":
            return _positive(item.get("minPrice"))
    return None


def _notional_rule(info: Mapping[str, Any]) -> str:
    names = {str(item.get("filterType")) for item in info.get("filters", [])}
    return "NOTIONAL" if "NOTIONAL" in names else "MIN_NOTIONAL"


def _show(value: Decimal) -> str:
    return format(value, "f")


def check_order(
    request: OrderRequest,
    rules: InstrumentRules,
    *,
    venue: str,
    reference_price: Decimal | None = None,
    notional_rule: str = "NOTIONAL",
    min_price: Decimal | None = None,
    time_in_force: Iterable[TimeInForce] = (TimeInForce.GTC, TimeInForce.IOC),
) -> None:
    """Refuse a leg that breaks one of the venue's rules, naming it and the venue's value.

    Binance's checks (docs "Filters": LOT_SIZE and PRICE_FILTER steps counted
    from minQty / ``min_price``; NOTIONAL at the limit price, or for a MARKET
    order at ``reference_price`` when known).
    Raises ``VenueRejection("INVALID_ORDER", ...)``; never rounds.
    """

    def refuse(message: str) -> VenueRejection:
        return VenueRejection("INVALID_ORDER", f"{request.symbol} at {venue}: {message}")

    if not rules.tradable:
        raise refuse("the market is not trading")
    if request.order_type is OrderType.LIMIT and request.time_in_force not in set(time_in_force):
        raise refuse(f"time in force {request.time_in_force.value} is not supported")
    quantity = request.quantity
    lowest = rules.min_quantity or Decimal(0)
    if rules.min_quantity is not None and quantity < rules.min_quantity:
        raise refuse(
            f"quantity {_show(quantity)} is below LOT_SIZE minQty {_show(rules.min_quantity)}"
        )
    if rules.max_quantity is not None and quantity > rules.max_quantity:
        raise refuse(
            f"quantity {_show(quantity)} is above LOT_SIZE maxQty {_show(rules.max_quantity)}"
        )
    if rules.quantity_step is not None and (quantity - lowest) % rules.quantity_step != 0:
        raise refuse(
            f"quantity {_show(quantity)} is not on LOT_SIZE stepSize"
            f" {_show(rules.quantity_step)} (from minQty {_show(lowest)})"
        )
    price = request.limit_price
    tick = rules.price_tick
    base = min_price or Decimal(0)
    if (
        request.order_type is OrderType.LIMIT
        and price is not None
        and tick is not None
        and (price - base) % tick != 0
    ):
        raise refuse(
            f"limit price {_show(price)} is not on PRICE_FILTER tickSize {_show(tick)}"
            f" (from minPrice {_show(base)})"
        )
    if min_price is not None and price is not None and price < min_price:
        raise refuse(
            f"limit price {_show(price)} is below PRICE_FILTER minPrice {_show(min_price)}"
        )
    at = price if request.order_type is OrderType.LIMIT else reference_price
    if rules.min_notional is not None and at is not None:
        value = quantity * at
        if value < rules.min_notional:
            raise refuse(
                f"notional {_show(value)} (quantity {_show(quantity)} x price {_show(at)})"
                f" is below {notional_rule} minNotional {_show(rules.min_notional)}"
            )


# ---------------------------------------------------------------- the adapter


@dataclass(frozen=True)
class _Market:
    symbol: str
    market_id: str
    info: Mapping[str, Any]


async def _inject_trace_context(
    _session: aiohttp.ClientSession,
    _context: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    """aiohttp's request-start signal: the current span's ``traceparent`` into the request
    (the venue call span of ``InstrumentedAdapter``, when one is recording)."""
    propagate.inject(params.headers)


def traced_session(cafile: str | None, verify: bool) -> aiohttp.ClientSession:
    """An aiohttp session whose every request carries the current W3C trace context.

    ccxt sends its HTTP through one aiohttp session and takes no per-request
    headers in its unified methods; aiohttp's ``TraceConfig`` request-start
    signal runs in the task making the request, so the span current there is
    the one injected (what OpenTelemetry's aiohttp-client instrumentation does,
    without patching aiohttp globally). TLS as ccxt sets it up: its CA file,
    or no verification when ``verify`` is off.
    """
    tracing = aiohttp.TraceConfig()
    tracing.on_request_start.append(_inject_trace_context)
    context = ssl.create_default_context(cafile=cafile) if verify else False
    connector = aiohttp.TCPConnector(ssl=context, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector, trace_configs=[tracing])


class CcxtAdapter:
    """ExchangeAdapter over one ccxt exchange (``ccxt.async_support``), unmodified.

    ``api_urls``: a base URL (``"http://127.0.0.1:8700"``, expanded to the
    exchange's API entries) or a mapping of ``urls['api']`` entries; it replaces
    the exchange's API URLs entirely. ``sandbox``: the exchange's test network.
    ``account``: the name the executor uses for this key's account (None:
    whatever name it uses); orders report it. ``symbols``: markets to search
    when an order placed by another process must be found (Binance can only
    query an order within its symbol; see ``_symbol_of``).
    """

    def __init__(
        self,
        exchange_id: str = "binance",
        sandbox: bool | None = None,
        api_urls: str | Mapping[str, str] | None = None,
        *,
        api_key: str | None = None,
        secret: str | None = None,
        account: str | None = None,
        timeout: float = 10.0,
        recv_window_ms: int = DEFAULT_RECV_WINDOW_MS,
        symbols: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        markets_max_age_seconds: float = MARKETS_MAX_AGE_SECONDS,
    ) -> None:
        capabilities = CCXT_CAPABILITIES.get(exchange_id)
        profile = _PROFILES.get(exchange_id)
        if capabilities is None or profile is None:
            raise ValueError(
                f"ccxt exchange {exchange_id!r} has no capability entry (enabled:"
                f" {', '.join(supported_exchanges())}); docs/VENUES.md says what to check"
                " and which entry to write before enabling one"
            )
        if not 0 < recv_window_ms <= 60000:
            raise ValueError("recv_window_ms must be in (0, 60000]")
        env = os.environ if environ is None else environ
        if sandbox is None:
            sandbox = env.get(ENV_SANDBOX, "").strip() == "1"
        if api_urls is None:
            api_urls = env.get(ENV_API_URL, "").strip() or None
        if sandbox and api_urls is not None:
            raise ValueError("choose either the exchange's sandbox or an API URL override")
        self.exchange_id = exchange_id
        self.account = account
        self.sandbox = sandbox
        """On the exchange's test network (``set_sandbox_mode``)."""
        self._profile = profile
        self._recv_window_ms = recv_window_ms
        self._capabilities = capabilities.model_copy(
            update={
                "placement_landing_bound_seconds": recv_window_ms / 1000
                + BINANCE_CLOCK_TOLERANCE_SECONDS
            }
        )
        exchange_class = getattr(ccxt_async, exchange_id)
        self._exchange: Any = exchange_class(
            {
                "apiKey": api_key if api_key is not None else env.get(ENV_API_KEY, ""),
                "secret": secret if secret is not None else env.get(ENV_SECRET, ""),
                "timeout": int(timeout * 1000),
                "enableRateLimit": True,
                "options": {**profile.options, "recvWindow": recv_window_ms},
            }
        )
        if sandbox:
            self._exchange.set_sandbox_mode(True)
        if api_urls is not None:
            self._exchange.urls["api"] = self._api_entries(api_urls)
        self._markets_lock = asyncio.Lock()
        self._markets: dict[str, _Market] | None = None
        self._markets_loaded_at = 0.0
        self._markets_max_age = markets_max_age_seconds
        self._symbols: dict[str, str] = {}
        self._hint_symbols = tuple(symbols)
        self._inflight: dict[str, float] = {}
        """Exchange client id -> monotonic time of its latest send whose outcome is not known."""
        self._placing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        """Exchange client id -> the lock of the placement call running for it (if any)."""

    @classmethod
    def from_env(
        cls,
        exchange_id: str = "binance",
        *,
        account: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> CcxtAdapter:
        """The adapter a worker builds (``EXECBATCH_VENUE=ccxt:<exchange>``).

        Keys, sandbox, URL override and HTTP timeout (``EXECBATCH_CCXT_TIMEOUT``,
        seconds) from the environment; missing keys are a ``KeyConfigError`` (a
        ValueError naming the variables, never values).
        """
        env = os.environ if environ is None else environ
        missing = [name for name in (ENV_API_KEY, ENV_SECRET) if not env.get(name, "").strip()]
        if missing:
            raise KeyConfigError(
                f"ccxt:{exchange_id} needs {' and '.join(missing)} (the exchange's API key"
                f" and secret; testnet keys with {ENV_SANDBOX}=1)"
            )
        sandbox = env.get(ENV_SANDBOX, "").strip() == "1"
        if not (sandbox or env.get(ENV_API_URL, "").strip() or _flag(env.get(ENV_ALLOW_LIVE))):
            raise KeyConfigError(
                f"ccxt:{exchange_id} would trade the exchange's production API (real money):"
                f" set {ENV_SANDBOX}=1 for its testnet, or {ENV_ALLOW_LIVE}=1 to trade live"
            )
        options: dict[str, Any] = {}
        raw_timeout = env.get(ENV_TIMEOUT, "").strip()
        if raw_timeout:
            try:
                options["timeout"] = float(raw_timeout)
            except ValueError:
                raise KeyConfigError(f"{ENV_TIMEOUT} must be a number of seconds") from None
            if options["timeout"] <= 0:
                raise KeyConfigError(f"{ENV_TIMEOUT} must be a positive number of seconds")
        return cls(exchange_id, account=account, environ=env, **options)

    def __repr__(self) -> str:
        return (
            f"CcxtAdapter(exchange_id={self.exchange_id!r}, account={self.account!r},"
            f" api={sorted(self._exchange.urls['api'])!r})"
        )

    def _api_entries(self, api_urls: str | Mapping[str, str]) -> dict[str, str]:
        if isinstance(api_urls, str):
            base = api_urls.rstrip("/")
            return {entry: base + path for entry, path in self._profile.api_paths.items()}
        return dict(api_urls)

    @property
    def endpoint(self) -> str:
        """The base URL of the private (trading) API this adapter sends to."""
        return str(self._exchange.urls["api"]["private"])

    # ------------------------------------------------------------ protocol

    @property
    def capabilities(self) -> VenueCapabilities:
        return self._capabilities

    def account_refusal(self, account: str) -> str | None:
        """An exchange API key trades its own account only: the one this adapter calls
        ``account`` (None: whatever name the executor uses, so any). At Binance a signed
        request names its key (``X-MBX-APIKEY``) and no account, and
        ``GET /api/v3/account`` answers the key's (spot API docs, "SIGNED endpoint
        security", "Account information")."""
        if self.account is None or account == self.account:
            return None
        return (
            f"the batch names account {account!r}, but the {self.exchange_id} API key in use"
            f" trades the account configured as {self.account!r} (EXECBATCH_VENUE_ACCOUNT)"
        )

    def venue_client_order_id(self, client_order_id: str) -> str:
        """The id this adapter sends for ours (see ``exchange_client_order_id``)."""
        return exchange_client_order_id(
            client_order_id,
            max_length=self._capabilities.max_client_order_id_length,
            pattern=self._capabilities.client_order_id_pattern,
        )

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        """Place at most one order for ``request.client_order_id`` (see the module docstring).

        ``earlier_sends_by`` (a retry): no send is made before the landing bound has
        passed since then, whichever process made the earlier attempts.
        """
        self._check_account(request.account)
        market = await self._market(request.symbol)
        reference = None
        rules = self._rules(market)
        if request.order_type is OrderType.MARKET and rules.min_notional is not None:
            reference = await self._reference_price(market)
        check_order(
            request,
            rules,
            venue=self.exchange_id,
            reference_price=reference,
            notional_rule=_notional_rule(market.info),
            min_price=_min_price(market.info),
            time_in_force=self._profile.time_in_force,
        )
        amount, price = self._exact_values(market, request)
        venue_id = self.venue_client_order_id(request.client_order_id)
        self._symbols[request.client_order_id] = market.symbol
        params: dict[str, str] = {self._profile.client_id_param: venue_id}
        if request.order_type is OrderType.LIMIT:
            params["timeInForce"] = request.time_in_force.value
        async with self._one_call_per_id(venue_id):
            if earlier_sends_by is not None:
                # A retry: an earlier attempt, maybe in another process, may have sent
                # this id until then, and that send can still land for the bound.
                self._note_send(venue_id, _monotonic_at(earlier_sends_by))
            return await self._place(request, market, venue_id, amount, price, params)

    async def _place(
        self,
        request: OrderRequest,
        market: _Market,
        venue_id: str,
        amount: str,
        price: str | None,
        params: dict[str, str],
    ) -> VenueOrder:
        for attempt in range(MAX_SENDS + 1):
            await self._await_landing_bound(venue_id)
            found = await self._lookup(venue_id, market)
            if found is not None:
                self._inflight.pop(venue_id, None)
                return self._matching(request, found)
            self._inflight.pop(venue_id, None)  # the earlier send can no longer land
            if attempt == MAX_SENDS:
                break
            # Our own timestamp (ccxt's sign() lets params override its nonce): the
            # landing bound then runs from the instant the request's window opens,
            # however long ccxt's rate limiter holds the request back.
            self._note_send(venue_id, time.monotonic())  # kept if this call is cancelled
            params["timestamp"] = str(int(time.time() * 1000))
            try:
                raw = await self._client.create_order(
                    market.symbol,
                    request.order_type.value.lower(),
                    request.side.value.lower(),
                    amount,
                    price,
                    params,
                )
            except ccxt_errors.BaseError as exc:
                if _is_duplicate(exc):
                    # An open order holds the id: it is ours, from an earlier attempt.
                    found = await self._lookup(venue_id, market)
                    if found is None:
                        raise VenueUnavailable(
                            f"{self.exchange_id} answered 'Duplicate order sent.' for"
                            f" {venue_id} but does not show the order yet"
                        ) from exc
                    self._inflight.pop(venue_id, None)
                    return self._matching(request, found)
                if not _outcome_unknown(exc):
                    self._inflight.pop(venue_id, None)  # refused: nothing of it can land
                    raise self._translate(exc, f"placing {request.client_order_id}") from exc
                log.warning(
                    "placement outcome unknown cid=%s venue_cid=%s: %s; looking it up",
                    request.client_order_id,
                    venue_id,
                    _clean(exc),
                )
                found = await self._lookup(venue_id, market)
                if found is not None:
                    self._inflight.pop(venue_id, None)
                    return self._matching(request, found)
                continue
            self._inflight.pop(venue_id, None)
            return self._venue_order(_info(raw), request.client_order_id, market, request.account)
        raise VenueUnavailable(
            f"placing {request.client_order_id} at {self.exchange_id}: {MAX_SENDS} attempts"
            " had unknown outcomes and none landed within its landing bound; safe to retry"
        )

    def _note_send(self, venue_id: str, sent_at: float) -> None:
        """Remember that a send of ``venue_id`` may land until ``sent_at`` + the bound.

        Recorded *before* the request goes out and cleared only once its outcome is
        known, so a call cancelled mid-send (its attempt timed out) leaves the record
        for the next call to wait out. The latest send counts.
        """
        earlier = self._inflight.get(venue_id)
        self._inflight[venue_id] = sent_at if earlier is None else max(earlier, sent_at)

    @contextlib.asynccontextmanager
    async def _one_call_per_id(self, venue_id: str) -> AsyncIterator[None]:
        """Placements of one id in this process run one after the other: an attempt
        that overlaps an earlier one waits for it, then sees its record."""
        lock = self._placing.get(venue_id)
        if lock is None:
            lock = self._placing[venue_id] = asyncio.Lock()
        async with lock:
            yield

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """``symbol`` known: looked up in that market alone (one GET /api/v3/order,
        weight 4), not searched (account weight 20, then open orders, weight 80: a
        REDUCING claim looks several orders up per decision)."""
        venue_id = self.venue_client_order_id(client_order_id)
        markets = await self._load_markets()
        if symbol is not None and symbol in markets:
            found = await self._lookup(venue_id, markets[symbol])
            if found is None:
                raise OrderNotFound(
                    f"{self.exchange_id} has no order with client order id {venue_id}"
                    f" ({client_order_id}) in {symbol}"
                )
            self._symbols[client_order_id] = symbol
            return self._venue_order(found, client_order_id, markets[symbol], self.account or "")
        market = await self._symbol_of(client_order_id, venue_id)
        found = await self._lookup(venue_id, market) if market is not None else None
        if market is None or found is None:
            raise OrderNotFound(
                f"{self.exchange_id} has no order with client order id {venue_id}"
                f" ({client_order_id})"
            )
        return self._venue_order(found, client_order_id, market, self.account or "")

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """Cancel the open remainder; an order already closed is returned as it is.

        An id the exchange does not know raises ``OrderNotFound`` and fences
        nothing (``capabilities.cancel_fences_unknown_id`` is False). ``symbol``
        known: that market alone; otherwise searched (``_symbol_of``), which
        cannot find a closed order of another process in a market whose asset is
        no longer held (a SELL that emptied it): a chaos run's settlement read such
        a filled leg as never placed and reported it filled 0.
        """
        venue_id = self.venue_client_order_id(client_order_id)
        markets = await self._load_markets()
        market = (
            markets[symbol]
            if symbol is not None and symbol in markets
            else await self._symbol_of(client_order_id, venue_id)
        )
        if market is None:
            raise OrderNotFound(f"{self.exchange_id} has no order {venue_id} ({client_order_id})")
        try:
            raw = await self._client.cancel_order(
                venue_id, market.symbol, {self._profile.lookup_param: venue_id}
            )
        except ccxt_errors.OrderNotFound as exc:
            # -2011: unknown, or not open any more (filled, cancelled, expired).
            found = await self._lookup(venue_id, market)
            if found is None:
                raise OrderNotFound(
                    f"{self.exchange_id} has no order {venue_id} ({client_order_id})"
                ) from exc
            return self._venue_order(found, client_order_id, market, self.account or "")
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, f"cancelling {client_order_id}") from exc
        return self._venue_order(_info(raw), client_order_id, market, self.account or "")

    async def positions(self, account: str | None = None) -> list[Position]:
        """Holdings as positions: each asset's total (free + locked) as ``ASSET/QUOTE``.

        Spot holdings are never negative; the quote asset itself (cash) and
        assets without an ``ASSET/QUOTE`` market are not positions.
        """
        self._check_account(account)
        markets = await self._load_markets()
        try:
            balance = await self._client.fetch_balance()
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, "fetching balances") from exc
        quote = self._profile.quote_asset
        positions: list[Position] = []
        for entry in _info(balance).get("balances", []):
            asset = str(entry.get("asset", ""))
            total = Decimal(str(entry.get("free", "0"))) + Decimal(str(entry.get("locked", "0")))
            symbol = f"{asset}/{quote}"
            if asset == quote or total == 0 or symbol not in markets:
                continue
            positions.append(Position(symbol=symbol, quantity=total))
        return sorted(positions, key=lambda position: position.symbol)

    async def account_overview(self) -> AccountOverview:
        """The exchange account behind the keys: its free quote balance as cash, and the
        exchange's clock (``fetch_time``)."""
        try:
            balance, millis = await asyncio.gather(
                self._client.fetch_balance(), self._client.fetch_time()
            )
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, "reading the account") from exc
        quote = self._profile.quote_asset
        info = _info(balance)
        free = next(
            (
                Decimal(str(entry.get("free", "0")))
                for entry in info.get("balances", [])
                if entry.get("asset") == quote
            ),
            None,
        )
        can_trade = bool(info.get("canTrade", True))
        return AccountOverview(
            account=self.account or self.exchange_id,
            can_trade=can_trade,
            status="ACTIVE" if can_trade else "TRADING DISABLED",
            cash=free,
            buying_power=free,
            venue_time=datetime.fromtimestamp(int(millis) / 1000, tz=UTC) if millis else None,
        )

    async def instrument_rules(self, symbols: Iterable[str]) -> dict[str, InstrumentRules]:
        """The venue's rules of each symbol; an unknown symbol is an UNKNOWN_SYMBOL rejection."""
        return {symbol: self._rules(await self._market(symbol)) for symbol in symbols}

    async def aclose(self) -> None:
        await self._exchange.close()

    @property
    def _client(self) -> Any:
        """The exchange, on an aiohttp session that sends the W3C ``traceparent``.

        The session is ours, made on first use (aiohttp needs a running loop),
        and handed to ccxt through its ``session`` attribute before ccxt would
        open one of its own; ccxt still owns its lifetime (``close()`` closes
        it). Its TLS settings are ccxt's (its CA file, its ``verify``).
        """
        exchange = self._exchange
        if exchange.session is None:
            exchange.session = traced_session(exchange.cafile, exchange.verify)
        return exchange

    async def __aenter__(self) -> CcxtAdapter:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------- markets

    async def _load_markets(self) -> dict[str, _Market]:
        async with self._markets_lock:
            asked = time.monotonic()
            stale = asked - self._markets_loaded_at >= self._markets_max_age
            if self._markets is None or stale:
                try:
                    loaded = await self._client.load_markets(reload=self._markets is not None)
                except ccxt_errors.BaseError as exc:
                    raise self._translate(exc, "loading markets") from exc
                self._markets = {
                    str(symbol): _Market(str(symbol), str(market["id"]), market["info"])
                    for symbol, market in loaded.items()
                    if market.get("spot")
                }
                self._markets_loaded_at = asked
            return self._markets

    async def _market(self, symbol: str) -> _Market:
        market = (await self._load_markets()).get(symbol)
        if market is None:
            raise VenueRejection(
                "UNKNOWN_SYMBOL", f"{symbol} is not a spot market of {self.exchange_id}"
            )
        return market

    def _rules(self, market: _Market) -> InstrumentRules:
        return binance_rules(market.symbol, market.info)

    async def _reference_price(self, market: _Market) -> Decimal | None:
        """The last price, for a MARKET order's notional check (raw string, exact)."""
        try:
            answer = await self._client.public_get_ticker_price({"symbol": market.market_id})
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, f"reading the price of {market.symbol}") from exc
        return _positive(answer.get("price")) if isinstance(answer, dict) else None

    def _exact_values(self, market: _Market, request: OrderRequest) -> tuple[str, str | None]:
        """Amount and price as ccxt will send them; refused if ccxt would change them."""
        amount = _show(request.quantity)
        try:
            sent_amount = self._exchange.amount_to_precision(market.symbol, amount)
            price = None
            sent_price = None
            if request.order_type is OrderType.LIMIT and request.limit_price is not None:
                price = _show(request.limit_price)
                sent_price = self._exchange.price_to_precision(market.symbol, price)
        except ccxt_errors.BaseError as exc:
            raise VenueRejection("INVALID_ORDER", _clean(exc)) from exc
        if Decimal(str(sent_amount)) != request.quantity:
            raise VenueRejection(
                "INVALID_ORDER",
                f"{market.symbol}: ccxt would send quantity {sent_amount} for {amount}",
            )
        if price is not None and Decimal(str(sent_price)) != request.limit_price:
            raise VenueRejection(
                "INVALID_ORDER", f"{market.symbol}: ccxt would send price {sent_price} for {price}"
            )
        return amount, price

    # ------------------------------------------------------------- lookups

    async def _lookup(self, venue_id: str, market: _Market) -> dict[str, Any] | None:
        """The exchange's latest order with this client id on ``market``; None if none."""
        try:
            raw = await self._client.fetch_order(
                venue_id, market.symbol, {self._profile.lookup_param: venue_id}
            )
        except ccxt_errors.OrderNotFound:
            return None
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, f"looking up {venue_id}") from exc
        return _info(raw)

    async def _await_landing_bound(self, venue_id: str) -> None:
        """Wait until an earlier placement of this id with an unknown outcome can no longer land."""
        sent_at = self._inflight.get(venue_id)
        if sent_at is None:
            return
        bound = self._capabilities.placement_landing_bound_seconds or 0.0
        remaining = sent_at + bound - time.monotonic()
        if remaining > 0:
            log.info(
                "waiting %.2fs for %s's landing bound before looking again", remaining, venue_id
            )
            await asyncio.sleep(remaining)

    async def _symbol_of(self, client_order_id: str, venue_id: str) -> _Market | None:
        """The market of an order, which Binance needs to find it.

        Known for orders this adapter placed or found. Otherwise searched, in
        order of cost: the ``symbols`` hint, the markets of assets held (an
        order that filled moved them; account weight 20), then all open orders
        (weight 80: ccxt's rate limiter spends ~4 s on it). An order of another
        process that closed without any fill, outside the hint, is not found.
        """
        markets = await self._load_markets()
        known = self._symbols.get(client_order_id)
        if known is not None and known in markets:
            return markets[known]
        searched: list[str] = []
        for symbol in self._hint_symbols:
            if symbol in markets and await self._found_in(venue_id, client_order_id, symbol):
                return markets[symbol]
            searched.append(symbol)
        try:
            balance = await self._client.fetch_balance()
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, f"searching the market of {venue_id}") from exc
        quote = self._profile.quote_asset
        for entry in _info(balance).get("balances", []):
            symbol = f"{entry.get('asset')}/{quote}"
            held = Decimal(str(entry.get("free", "0"))) + Decimal(str(entry.get("locked", "0")))
            if held == 0 or symbol not in markets or symbol in searched:
                continue
            if await self._found_in(venue_id, client_order_id, symbol):
                return markets[symbol]
        try:
            open_orders = await self._client.fetch_open_orders()
        except ccxt_errors.BaseError as exc:
            raise self._translate(exc, f"searching the market of {venue_id}") from exc
        for order in open_orders:
            symbol = str(order.get("symbol"))
            if _info(order).get("clientOrderId") == venue_id and symbol in markets:
                self._symbols[client_order_id] = symbol
                return markets[symbol]
        return None

    async def _found_in(self, venue_id: str, client_order_id: str, symbol: str) -> bool:
        markets = self._markets or {}
        if await self._lookup(venue_id, markets[symbol]) is None:
            return False
        self._symbols[client_order_id] = symbol
        return True

    # ----------------------------------------------------------- rendering

    def _matching(self, request: OrderRequest, info: Mapping[str, Any]) -> VenueOrder:
        """The found order, if it is the requested one; ``OrderConflict`` otherwise."""
        market = self._markets[request.symbol] if self._markets else None
        if market is None:
            raise RuntimeError("markets vanished")
        order = self._venue_order(info, request.client_order_id, market, request.account)
        differences = [
            name
            for name, ours, theirs in (
                ("side", request.side, order.side),
                ("order_type", request.order_type, order.order_type),
                ("quantity", request.quantity, order.quantity),
                (
                    "limit_price",
                    request.limit_price if request.order_type is OrderType.LIMIT else None,
                    order.limit_price,
                ),
            )
            if ours != theirs
        ]
        if differences:
            raise OrderConflict(
                f"client order id {request.client_order_id} is at {self.exchange_id} with a"
                f" different {', '.join(differences)}"
            )
        return order

    def _venue_order(
        self, info: Mapping[str, Any], client_order_id: str, market: _Market, account: str
    ) -> VenueOrder:
        """Our VenueOrder from Binance's raw order JSON (exact decimal strings)."""
        order_type = OrderType(str(info["type"]))
        quantity = Decimal(str(info["origQty"]))
        filled = Decimal(str(info.get("executedQty", "0")))
        quote = Decimal(str(info.get("cummulativeQuoteQty", "0")))
        average = None
        if filled > 0 and quote > 0:
            average = _DIVISION.divide(quote, filled)
            exponent = average.as_tuple().exponent
            if isinstance(exponent, int) and exponent < -18:
                average = average.quantize(_QUANTUM, context=_DIVISION)
        created = _moment(info, ("time", "workingTime", "transactTime"))
        updated = _moment(info, ("updateTime", "transactTime", "workingTime")) or created
        now = datetime.now(UTC)
        return VenueOrder(
            client_order_id=client_order_id,
            venue_order_id=str(info["orderId"]),
            account=account,
            symbol=market.symbol,
            side=OrderSide(str(info["side"])),
            order_type=order_type,
            quantity=quantity,
            limit_price=Decimal(str(info["price"])) if order_type is OrderType.LIMIT else None,
            time_in_force=(
                TimeInForce.IOC
                if str(info.get("timeInForce")) in ("IOC", "FOK")
                else TimeInForce.GTC
            ),
            status=_status(str(info["status"]), filled),
            filled_quantity=filled,
            avg_fill_price=average,
            created_at=created or now,
            updated_at=updated or now,
        )

    # --------------------------------------------------------------- errors

    def _check_account(self, account: str | None) -> None:
        """A question about another account than the key's is a final refusal."""
        refusal = self.account_refusal(account) if account is not None else None
        if refusal is not None:
            raise VenueRejection("INVALID_ORDER", refusal)

    def _translate(self, exc: Exception, what: str) -> Exception:
        """A ccxt error as the port's error (see the module docstring's table)."""
        message = f"{what} at {self.exchange_id}: {type(exc).__name__}: {_clean(exc)}"
        code = _code_of(exc)
        if isinstance(exc, ccxt_errors.OrderNotFound):
            return OrderNotFound(message)
        if isinstance(exc, ccxt_errors.InsufficientFunds):
            return VenueRejection("INSUFFICIENT_FUNDS", message)
        if isinstance(exc, ccxt_errors.BadSymbol):
            return VenueRejection("UNKNOWN_SYMBOL", message)
        if isinstance(exc, ccxt_errors.InvalidOrder | ccxt_errors.MarketClosed):
            return VenueRejection("INVALID_ORDER", message)
        if isinstance(exc, ccxt_errors.AuthenticationError):
            return RuntimeError(
                f"{message}; the exchange refused our credentials: check {ENV_API_KEY} and"
                f" {ENV_SECRET} (and {ENV_SANDBOX}: testnet keys differ from production keys)"
            )
        if isinstance(exc, ccxt_errors.OperationFailed):
            return VenueUnavailable(message)
        if code in (-2011, -2013):
            return OrderNotFound(message)
        if code in _TRANSIENT_CODES:
            return VenueUnavailable(message)
        if code == -1013 or "Filter failure" in message or code == -2010:
            return VenueRejection("INVALID_ORDER", message)
        return RuntimeError(message)


# ------------------------------------------------------------------- helpers


def _monotonic_at(instant: datetime) -> float:
    """``time.monotonic()``'s reading at the wall-clock ``instant`` (aware)."""
    return time.monotonic() - (time.time() - instant.timestamp())


def _flag(raw: str | None) -> bool:
    """An opt-in variable's value (as ``EXECBATCH_ALPACA_ALLOW_LIVE`` reads it)."""
    return (raw or "").strip().lower() in ("1", "true", "yes")


def _info(raw: Any) -> dict[str, Any]:
    """The exchange's own JSON behind a ccxt structure."""
    if isinstance(raw, dict):
        info = raw.get("info", raw)
        if isinstance(info, dict):
            return info
    return {}


def _code_of(exc: Exception) -> int | None:
    match = _BINANCE_CODE.search(str(exc))
    return int(match.group(1)) if match else None


def _clean(exc: Exception) -> str:
    """An error's text without request signatures."""
    return _SIGNATURE.sub("signature=***", str(exc))[:1000]


def _is_duplicate(exc: Exception) -> bool:
    return isinstance(exc, ccxt_errors.DuplicateOrderId) or "Duplicate order sent" in str(exc)


def _outcome_unknown(exc: Exception) -> bool:
    """Whether a failed placement may still have been carried out.

    Timeouts, dropped connections, HTTP 5xx and Binance's 5xx codes (-1007
    "execution status unknown", -1000, -1001, -1006, -1008) may have been;
    rate-limit refusals (429/418, -1003) and -1021 were refused up front.
    """
    if isinstance(
        exc,
        ccxt_errors.RateLimitExceeded | ccxt_errors.DDoSProtection | ccxt_errors.InvalidNonce,
    ):
        return False
    if isinstance(exc, ccxt_errors.OperationFailed):
        return True
    return _code_of(exc) in _UNKNOWN_OUTCOME_CODES


def _status(status: str, filled: Decimal) -> VenueOrderStatus:
    """Binance's order status as ours; EXPIRED (a MARKET/IOC remainder) is CANCELED."""
    if status in ("NEW", "PENDING_NEW"):
        return VenueOrderStatus.NEW
    if status == "PARTIALLY_FILLED":
        return VenueOrderStatus.PARTIALLY_FILLED
    if status == "FILLED":
        return VenueOrderStatus.FILLED
    if status in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"):
        return VenueOrderStatus.CANCELED
    if status == "REJECTED":
        return VenueOrderStatus.REJECTED
    if status == "PENDING_CANCEL":
        return VenueOrderStatus.PARTIALLY_FILLED if filled > 0 else VenueOrderStatus.NEW
    raise RuntimeError(f"unknown order status {status!r}")


def _moment(info: Mapping[str, Any], keys: Iterable[str]) -> datetime | None:
    for key in keys:
        value = info.get(key)
        if isinstance(value, int | str) and str(value).isdigit() and int(value) > 0:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    return None


__all__ = [
    "CCXT_CAPABILITIES",
    "ENV_ALLOW_LIVE",
    "ENV_API_KEY",
    "ENV_API_URL",
    "ENV_SANDBOX",
    "ENV_SECRET",
    "ENV_TIMEOUT",
    "CcxtAdapter",
    "binance_rules",
    "check_order",
    "exchange_client_order_id",
    "supported_exchanges",
]
