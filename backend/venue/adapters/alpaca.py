"""ExchangeAdapter for Alpaca, on the official, unmodified ``alpaca-py`` SDK.

The SDK's ``TradingClient`` is synchronous (``requests``). Every call runs in
a bounded thread pool (``max_concurrency`` threads, each with its own client
and session, a semaphore in front), so the event loop never blocks, and under
two deadlines: the HTTP timeout of each request (the SDK sets none; a
transport adapter on its session does) and a total deadline for the call,
queueing included.

Error mapping (what the activities' retry classification relies on, as for
the paper venue's adapter):

=====================================  ======================================
Alpaca's answer                        raised
=====================================  ======================================
2xx                                    the VenueOrder / Position list / ...
403 insufficient buying power or qty   ``VenueRejection("INSUFFICIENT_FUNDS")``
422/403 asset not found, not tradable  ``VenueRejection("UNKNOWN_SYMBOL")``
other 422/403 business refusals        ``VenueRejection("INVALID_ORDER")``
(qty, fractional, market hours, ...)   -- all final
422 client_order_id must be unique     looked up by client order id: the
                                       same order is returned (a retry),
                                       another raises ``OrderConflict``
404 on an order look-up                ``OrderNotFound``
429                                    ``VenueRateLimited`` (a
                                       ``VenueUnavailable``) with
                                       ``retry_after`` from ``Retry-After``
                                       or ``X-Ratelimit-Reset``
5xx, 408, timeouts, connection errors  ``VenueUnavailable`` -- transient
401, 403 forbidden (keys)              ``RuntimeError`` naming the variables
                                       to check, never their values
other 4xx                              ``RuntimeError`` with the body
=====================================  ======================================

Alpaca's semantics are weaker than the paper venue's (``ALPACA_CAPABILITIES``,
docs/VENUES.md): a re-sent placement is refused rather than answered, which
``place_order`` turns back into an idempotent placement by looking the order
up; a cancel of an unknown id raises ``OrderNotFound`` and fences nothing.

Keys come from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY`` (``from_env``);
``EXECBATCH_ALPACA_URL`` overrides the endpoint (default: Alpaca's paper
endpoint; the live one needs ``EXECBATCH_ALPACA_ALLOW_LIVE=1``). Keys are
never logged nor put in an exception; the SDK's own errors (which hold the
request, headers and all) are not chained onto ours.

Importing this module imports the SDK (and pandas with it): import it only
when Alpaca is the venue (``execbatch.venue.adapters.factory`` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import json
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import requests
from alpaca.common.enums import BaseURL
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide as AlpacaSide
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from alpaca.trading.enums import OrderType as AlpacaType
from alpaca.trading.enums import PositionSide as AlpacaPositionSide
from alpaca.trading.enums import TimeInForce as AlpacaTimeInForce
from alpaca.trading.models import Asset as AlpacaAsset
from alpaca.trading.models import Clock as AlpacaClockModel
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest
from alpaca.trading.requests import OrderRequest as AlpacaOrderRequest
from opentelemetry import propagate
from pydantic import BaseModel, ConfigDict, ValidationError

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

T = TypeVar("T")

ENV_KEY_ID = "APCA_API_KEY_ID"
ENV_SECRET_KEY = "APCA_API_SECRET_KEY"
ENV_URL = "EXECBATCH_ALPACA_URL"
ENV_ALLOW_LIVE = "EXECBATCH_ALPACA_ALLOW_LIVE"
ENV_TIMEOUT = "EXECBATCH_ALPACA_TIMEOUT"

PAPER_URL = BaseURL.TRADING_PAPER.value
LIVE_HOST = urlsplit(BaseURL.TRADING_LIVE.value).hostname

MAX_CLIENT_ORDER_ID_LENGTH = 128
ALPACA_CLIENT_ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$"
"""Our ids' alphabet (``CLIENT_ORDER_ID_PATTERN``) within Alpaca's 128 characters."""

FRACTIONAL_STEP = Decimal("0.000000001")
"""Alpaca takes quantities with up to 9 decimal places (alpaca-py ``Order.qty``)."""

CANCEL_POLL_SECONDS = 0.2

ALPACA_CAPABILITIES = VenueCapabilities(
    venue="alpaca",
    client_id_scope=ClientIdScope.FOREVER,
    cancel_fences_unknown_id=False,
    lookup_by_client_id=True,
    status_unknown_answers=True,
    placement_landing_bound_seconds=None,
    max_client_order_id_length=MAX_CLIENT_ORDER_ID_LENGTH,
    client_order_id_pattern=ALPACA_CLIENT_ORDER_ID_PATTERN,
    fractional_quantities=True,
)
"""Alpaca: a client order id is never reusable, even after its order was
cancelled (alpaca-py issue #260), but a re-send is refused ("client_order_id
must be unique"), not answered, so the adapter looks the order up; a cancel
needs an existing order (no fence); a timeout leaves the outcome unknown;
fractional quantities per asset (``instrument_rules``: ``fractionable``), in
DAY orders only. See docs/VENUES.md, "Alpaca"."""

_SIDES_OUT = {OrderSide.BUY: AlpacaSide.BUY, OrderSide.SELL: AlpacaSide.SELL}
_SIDES_IN = {AlpacaSide.BUY: OrderSide.BUY, AlpacaSide.SELL: OrderSide.SELL}
_TYPES_IN = {AlpacaType.MARKET: OrderType.MARKET, AlpacaType.LIMIT: OrderType.LIMIT}
_TIFS_OUT = {
    TimeInForce.GTC: AlpacaTimeInForce.GTC,
    TimeInForce.DAY: AlpacaTimeInForce.DAY,
    TimeInForce.IOC: AlpacaTimeInForce.IOC,
}
_TIFS_IN = {value: key for key, value in _TIFS_OUT.items()}

_CANCELED_STATUSES = frozenset({AlpacaStatus.CANCELED, AlpacaStatus.EXPIRED, AlpacaStatus.REPLACED})
"""Final without (further) fills: an expired DAY order, a replaced one."""

_AUTH_MESSAGES = ("unauthorized", "forbidden", "not authorized", "access key")


class VenueRateLimited(VenueUnavailable):
    """429: transient, and the venue said when to come back (seconds, or None)."""

    def __init__(self, message: str, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AlpacaAccountStatus(BaseModel):
    """What a ``venue-check`` needs to know of the account behind the keys."""

    model_config = ConfigDict(frozen=True)

    account_number: str
    status: str
    currency: str | None
    cash: Decimal | None
    buying_power: Decimal | None
    equity: Decimal | None
    trading_blocked: bool
    account_blocked: bool
    trade_suspended_by_user: bool
    shorting_enabled: bool | None

    @property
    def can_trade(self) -> bool:
        return self.status == "ACTIVE" and not (
            self.trading_blocked or self.account_blocked or self.trade_suspended_by_user
        )


class AlpacaClock(BaseModel):
    model_config = ConfigDict(frozen=True)

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime


class _AssetNotFound(Exception):
    pass


# ------------------------------------------------------------ pure helpers


def exact_decimal(value: str | float | int | Decimal | None) -> Decimal | None:
    """A Decimal from what the SDK hands over, exactly.

    Alpaca sends amounts as strings and the SDK keeps them so; they are read
    from their digits. Should a float arrive after all (the SDK's fields are
    ``str | float``), its shortest round-trip text is read, which is the
    number as written on the wire whenever it had up to 15 significant digits,
    never ``Decimal(float)``'s binary expansion.
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise RuntimeError(f"Alpaca sent a boolean where an amount belongs: {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        raise RuntimeError(f"Alpaca sent an amount that is not a number: {value!r}") from None
    if not parsed.is_finite():
        raise RuntimeError(f"Alpaca sent an amount that is not finite: {value!r}")
    return parsed


def _required(value: str | float | int | None, name: str, order_id: str) -> Decimal:
    parsed = exact_decimal(value)
    if parsed is None:
        raise RuntimeError(f"Alpaca order {order_id} has no {name}")
    return parsed


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """How long a 429 asks us to wait: ``Retry-After`` (seconds or an HTTP date)
    if sent, else until ``X-Ratelimit-Reset`` (epoch seconds, Alpaca's header);
    None when neither says."""
    now = time.time() if now is None else now
    lowered = {key.lower(): value for key, value in headers.items()}
    retry_after = lowered.get("retry-after", "").strip()
    if retry_after:
        try:
            return max(0.0, float(retry_after))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(retry_after)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                when = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
                return max(0.0, when.timestamp() - now)
    reset = lowered.get("x-ratelimit-reset", "").strip()
    if reset:
        try:
            return max(0.0, float(reset) - now)
        except ValueError:
            return None
    return None


def _error_body(text: str) -> tuple[int | None, str]:
    """``(code, message)`` of an Alpaca error answer, tolerating non-JSON bodies."""
    try:
        body = json.loads(text)
    except ValueError:
        return None, text.strip()[:500]
    if not isinstance(body, dict):
        return None, text.strip()[:500]
    code = body.get("code")
    message = body.get("message", "")
    return (code if isinstance(code, int) else None), str(message)


def classify_refusal(status: int, code: int | None, message: str) -> VenueRejection | None:
    """Our rejection code for a business refusal (403/422); None when the answer
    is not one (a 403 about our keys)."""
    text = message.lower()
    if status == 403 and code != 40310000 and any(word in text for word in _AUTH_MESSAGES):
        return None
    if "insufficient" in text or "buying power" in text:
        return VenueRejection("INSUFFICIENT_FUNDS", message)
    about_asset = "asset" in text or "symbol" in text
    if (
        about_asset and ("not found" in text or "not tradable" in text or "not active" in text)
    ) or ("could not find" in text):
        return VenueRejection("UNKNOWN_SYMBOL", message)
    return VenueRejection("INVALID_ORDER", message)


def venue_status(order: AlpacaOrder, quantity: Decimal, filled: Decimal) -> VenueOrderStatus:
    """Alpaca's status onto ours.

    filled -> FILLED; canceled, expired, replaced -> CANCELED (final, whatever
    filled is kept); rejected -> REJECTED; every other status (new, accepted,
    pending_new, pending_cancel, done_for_day, held, ...) is still open:
    PARTIALLY_FILLED once something filled, else NEW.
    """
    status = order.status
    if status is AlpacaStatus.FILLED or (status is AlpacaStatus.CALCULATED and filled >= quantity):
        return VenueOrderStatus.FILLED
    if status in _CANCELED_STATUSES:
        return VenueOrderStatus.CANCELED
    if status is AlpacaStatus.REJECTED:
        return VenueOrderStatus.REJECTED
    return VenueOrderStatus.PARTIALLY_FILLED if filled > 0 else VenueOrderStatus.NEW


def time_in_force_sent(request: OrderRequest) -> TimeInForce:
    """The time in force sent to Alpaca for ``request``.

    Alpaca takes a fractional equity order only as a DAY order. A fractional
    MARKET order asked as GTC (the executor's default, and every revert of a
    partial fill) is sent as DAY: a market order executes at once in the
    session, so DAY and GTC mean the same for it, while GTC would be refused
    ("fractional orders must be DAY orders") and leave the leg unreverted.
    Crypto symbols (``BTC/USD``) keep GTC, which Alpaca takes for crypto (DAY it
    does not). Everything else is sent as asked; a fractional GTC *limit*
    order is refused by Alpaca, as it should be (the two differ for a limit).
    """
    if (
        request.order_type is OrderType.MARKET
        and request.time_in_force is TimeInForce.GTC
        and request.quantity != request.quantity.to_integral_value()
        and "/" not in request.symbol
    ):
        return TimeInForce.DAY
    return request.time_in_force


def order_differences(request: OrderRequest, order: VenueOrder) -> tuple[str, ...]:
    """Fields where a re-sent placement differs from the order Alpaca holds
    (Decimals by value: ``10`` and ``10.0`` are the same order; the time in force
    as sent, ``time_in_force_sent``)."""
    pairs: list[tuple[str, object, object]] = [
        ("symbol", request.symbol, order.symbol),
        ("side", request.side, order.side),
        ("order_type", request.order_type, order.order_type),
        ("quantity", request.quantity, order.quantity),
        ("limit_price", request.limit_price, order.limit_price),
        ("time_in_force", time_in_force_sent(request), order.time_in_force),
    ]
    return tuple(name for name, new, old in pairs if new != old)


class _TimeoutAdapter(requests.adapters.HTTPAdapter):
    """Gives every request of the SDK's session a timeout (the SDK passes none), and
    the W3C ``traceparent`` of the current span.

    The transport adapter sees every prepared request of the SDK's session, so
    the trace context goes in here, with the SDK untouched. ``AlpacaAdapter._call``
    runs each SDK call in a copy of the caller's context, so the span current
    here is the caller's venue call span.
    """

    def __init__(self, timeout: float, pool_size: int) -> None:
        super().__init__(pool_connections=1, pool_maxsize=pool_size)
        self._timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        propagate.inject(request.headers)
        return super().send(
            request,
            stream=stream,
            timeout=self._timeout if timeout is None else timeout,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def _configure_sdk(client: TradingClient, timeout: float) -> Any:
    """Timeouts on the SDK's session, and the SDK's own 429 retry loop off.

    Both are instance settings of the unmodified SDK, which has no public
    knob for them (``TradingClient`` passes no retry options to
    ``RESTClient``, whose loop would sleep 3 s up to 3 times on a 429 or 504
    ignoring the venue's reset time). Checked, so that an SDK release that
    renames them fails here rather than silently hanging without timeouts.
    """
    session = getattr(client, "_session", None)
    if not isinstance(session, requests.Session) or not isinstance(
        getattr(client, "_retry", None), int
    ):
        raise RuntimeError(
            "this alpaca-py release does not keep its requests session in "
            "TradingClient._session / its retry count in _retry; the Alpaca adapter "
            "supports alpaca-py 0.44 (see pyproject.toml)"
        )
    adapter = _TimeoutAdapter(timeout, pool_size=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    client._retry = 0  # Temporal's retry policy decides, with the venue's own Retry-After
    return session


# ------------------------------------------------------------------ adapter


class AlpacaAdapter:
    """ExchangeAdapter over Alpaca's trading API (``TradingClient`` of alpaca-py).

    ``account`` is the name the executor uses for the Alpaca account the keys
    trade (Alpaca keys trade exactly one account): placements must name it,
    and reported orders carry it.
    """

    def __init__(
        self,
        key_id: str,
        secret_key: str,
        *,
        account: str = "default",
        base_url: str | None = None,
        allow_live: bool = False,
        timeout: float = 10.0,
        max_concurrency: int = 8,
        cancel_settle_seconds: float = 5.0,
    ) -> None:
        if not key_id or not secret_key:
            raise KeyConfigError(
                f"Alpaca needs a key id and a secret ({ENV_KEY_ID}, {ENV_SECRET_KEY})"
            )
        if timeout <= 0 or max_concurrency < 1 or cancel_settle_seconds < 0:
            raise ValueError(
                "timeout must be > 0, max_concurrency >= 1, cancel_settle_seconds >= 0"
            )
        url = (base_url or PAPER_URL).rstrip("/")
        if urlsplit(url).hostname == LIVE_HOST and not allow_live:
            raise KeyConfigError(
                f"{url} is Alpaca's live endpoint (real money);"
                f" set {ENV_ALLOW_LIVE}=1 to trade there"
            )
        self.account = account
        self.base_url = url
        self.timeout = timeout
        self._cancel_settle_seconds = cancel_settle_seconds
        self._deadline = 2 * timeout + 1.0  # connect + read, plus queueing for a thread
        self._credentials = (key_id, secret_key)
        self._local = threading.local()
        self._sessions: list[Any] = []
        self._sessions_lock = threading.Lock()
        # One client (and requests session) per pool thread: requests does not
        # promise that a session is safe to share between threads. Building one
        # here checks the SDK's configuration before any call.
        _configure_sdk(self._new_client(), timeout).close()
        self._executor = ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="alpaca"
        )
        self._slots = asyncio.Semaphore(max_concurrency)
        self._closed = False

    def _new_client(self) -> TradingClient:
        key_id, secret_key = self._credentials
        return TradingClient(
            api_key=key_id, secret_key=secret_key, paper=True, url_override=self.base_url
        )

    def _sdk(self) -> TradingClient:
        """This pool thread's client (created on its first call)."""
        client: TradingClient | None = getattr(self._local, "client", None)
        if client is None:
            client = self._new_client()
            session = _configure_sdk(client, self.timeout)
            with self._sessions_lock:
                self._sessions.append(session)
            self._local.client = client
        return client

    @classmethod
    def from_env(
        cls,
        account: str = "default",
        environ: Mapping[str, str] | None = None,
        **options: Any,
    ) -> AlpacaAdapter:
        """Keys from ``APCA_API_KEY_ID`` / ``APCA_API_SECRET_KEY``; endpoint from
        ``EXECBATCH_ALPACA_URL`` (default: Alpaca's paper endpoint); the HTTP
        timeout from ``EXECBATCH_ALPACA_TIMEOUT`` (seconds)."""
        env = os.environ if environ is None else environ
        key_id = env.get(ENV_KEY_ID, "").strip()
        secret_key = env.get(ENV_SECRET_KEY, "").strip()
        missing = [
            name
            for name, value in ((ENV_KEY_ID, key_id), (ENV_SECRET_KEY, secret_key))
            if not value
        ]
        if missing:
            raise KeyConfigError(
                f"EXECBATCH_VENUE=alpaca needs {' and '.join(missing)} set to your Alpaca API "
                "key id and secret (paper keys for the paper endpoint)"
            )
        options.setdefault("base_url", env.get(ENV_URL, "").strip() or None)
        options.setdefault(
            "allow_live", env.get(ENV_ALLOW_LIVE, "").strip().lower() in ("1", "true", "yes")
        )
        raw_timeout = env.get(ENV_TIMEOUT, "").strip()
        if raw_timeout and "timeout" not in options:
            try:
                options["timeout"] = float(raw_timeout)
            except ValueError:
                raise KeyConfigError(f"{ENV_TIMEOUT} must be a number of seconds") from None
        return cls(key_id, secret_key, account=account, **options)

    def __repr__(self) -> str:
        return f"AlpacaAdapter(account={self.account!r}, base_url={self.base_url!r})"

    @property
    def capabilities(self) -> VenueCapabilities:
        return ALPACA_CAPABILITIES

    def account_refusal(self, account: str) -> str | None:
        """Alpaca keys trade exactly one account, the one this adapter calls ``account``:
        every private call is authenticated by the key pair alone and names no account
        (``GET /v2/account`` has no account parameter; Alpaca API v2 docs,
        "Authentication"; paper and live accounts have keys of their own, "Paper
        Trading")."""
        if account == self.account:
            return None
        return (
            f"the batch names account {account!r}, but the Alpaca keys in use trade the"
            f" account configured as {self.account!r} (EXECBATCH_VENUE_ACCOUNT)"
        )

    @staticmethod
    def venue_client_order_id(client_order_id: str) -> str:
        """The id sent to Alpaca for ours: itself when it fits 128 characters, else a
        deterministic derivation (``execbatch.venue.port.client_ids``)."""
        return venue_client_order_id(
            client_order_id,
            max_length=MAX_CLIENT_ORDER_ID_LENGTH,
            pattern=ALPACA_CLIENT_ORDER_ID_PATTERN,
        )

    # ---------------------------------------------------------------- orders

    async def place_order(
        self, request: OrderRequest, *, earlier_sends_by: datetime | None = None
    ) -> VenueOrder:
        """Place; a re-send of a placed order returns it (Alpaca refuses the
        re-send, so the order is looked up and compared), another order under
        the same client order id raises ``OrderConflict``. ``earlier_sends_by`` needs
        no wait: Alpaca refuses a used client order id for ever (``client_id_scope``)."""
        self._check_request(request)
        fields = self._order_fields(request)
        cid = request.client_order_id
        what = f"POST /v2/orders (client_order_id {cid!r})"
        try:
            raw = await self._call(what, lambda: self._sdk().post("/orders", fields))
        except _ClientIdTaken:
            return await self._replayed(request)
        if not isinstance(raw, dict):
            raise RuntimeError(f"{what}: Alpaca answered {type(raw).__name__}, not an order")
        return self._venue_order(self._model(what, lambda: AlpacaOrder(**raw)), cid)

    async def get_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        # Alpaca finds an order by client id alone (GET /v2/orders:by_client_order_id).
        return self._venue_order(await self._by_client_id(client_order_id), client_order_id)

    async def cancel_order(self, client_order_id: str, *, symbol: str | None = None) -> VenueOrder:
        """Cancel the open remainder and return the final state; idempotent.

        Alpaca cancels by its own order id, so the order is looked up first:
        an unknown client order id raises ``OrderNotFound`` and nothing is
        recorded (no fence: a placement still in flight can land later).
        """
        order = await self._by_client_id(client_order_id)
        current = self._venue_order(order, client_order_id)
        if current.status.is_terminal:
            return current
        order_id = str(order.id)
        # A 422 ("not cancelable") means it reached a final state meanwhile: read it back.
        with contextlib.suppress(VenueRejection):
            await self._call(
                f"DELETE /v2/orders/{order_id} (client_order_id {client_order_id!r})",
                lambda: self._sdk().cancel_order_by_id(order_id),
                not_found=OrderNotFound,
            )
        return await self._settled(order_id, client_order_id)

    async def positions(self, account: str | None = None) -> list[Position]:
        self._check_account(account)
        raw = await self._call("GET /v2/positions", lambda: self._sdk().get_all_positions())
        if not isinstance(raw, list):
            raise RuntimeError("GET /v2/positions: Alpaca answered no list")
        return [self._position(item) for item in raw if isinstance(item, AlpacaPosition)]

    # ------------------------------------------------------- venue-check aids

    async def instrument_rules(self, symbols: Iterable[str]) -> dict[str, InstrumentRules]:
        """Rules of each symbol from ``/v2/assets`` (tradable, fractionable, and
        the increments Alpaca states, for crypto); symbols Alpaca does not know
        are absent from the result."""
        wanted = list(dict.fromkeys(symbols))
        found = await asyncio.gather(*(self._asset(symbol) for symbol in wanted))
        return {symbol: rules for symbol, rules in zip(wanted, found, strict=True) if rules}

    async def account_status(self) -> AlpacaAccountStatus:
        raw = await self._call("GET /v2/account", lambda: self._sdk().get_account())
        if not isinstance(raw, TradeAccount):
            raise RuntimeError("GET /v2/account: Alpaca answered no account")
        return AlpacaAccountStatus(
            account_number=raw.account_number,
            status=raw.status.value,
            currency=raw.currency,
            cash=exact_decimal(raw.cash),
            buying_power=exact_decimal(raw.buying_power),
            equity=exact_decimal(raw.equity),
            trading_blocked=bool(raw.trading_blocked),
            account_blocked=bool(raw.account_blocked),
            trade_suspended_by_user=bool(raw.trade_suspended_by_user),
            shorting_enabled=raw.shorting_enabled,
        )

    async def account_overview(self) -> AccountOverview:
        status, clock = await asyncio.gather(self.account_status(), self.market_clock())
        return AccountOverview(
            account=self.account,
            can_trade=status.can_trade,
            status=status.status,
            cash=status.cash,
            buying_power=status.buying_power,
            venue_time=clock.timestamp,
        )

    async def market_clock(self) -> AlpacaClock:
        raw = await self._call("GET /v2/clock", lambda: self._sdk().get_clock())
        if not isinstance(raw, AlpacaClockModel):
            raise RuntimeError("GET /v2/clock: Alpaca answered no clock")
        return AlpacaClock(
            timestamp=raw.timestamp,
            is_open=raw.is_open,
            next_open=raw.next_open,
            next_close=raw.next_close,
        )

    # ------------------------------------------------------------- lifecycle

    async def aclose(self) -> None:
        """Stop taking calls and release the pool (threads still waiting on an
        answer end with their own HTTP timeout)."""
        if self._closed:
            return
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._sessions_lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -------------------------------------------------------------- internals

    def _check_account(self, account: str | None) -> None:
        """A question about another account than the keys' is a final refusal."""
        refusal = self.account_refusal(account) if account is not None else None
        if refusal is not None:
            raise VenueRejection("INVALID_ORDER", refusal)

    def _check_request(self, request: OrderRequest) -> None:
        """Refusals Alpaca would give, or that no key can satisfy, before sending."""
        if request.account != self.account:
            raise VenueRejection(
                "INVALID_ORDER",
                f"the order names account {request.account!r}, but the Alpaca keys in use trade"
                f" the account configured as {self.account!r}",
            )

    def _order_fields(self, request: OrderRequest) -> dict[str, Any]:
        """The request body, validated by the SDK's own request model, with
        quantity and limit price sent as exact decimal strings.

        The SDK's request models type ``qty`` and ``limit_price`` as float; the
        API takes decimal strings (and Alpaca's answers carry them so), so the
        exact text replaces the float before anything is sent.
        """
        common: dict[str, Any] = {
            "symbol": request.symbol,
            "qty": request.quantity,
            "side": _SIDES_OUT[request.side],
            "time_in_force": _TIFS_OUT[time_in_force_sent(request)],
            "client_order_id": self.venue_client_order_id(request.client_order_id),
        }
        model: AlpacaOrderRequest
        if request.order_type is OrderType.LIMIT:
            model = LimitOrderRequest(**common, limit_price=request.limit_price)
        else:
            model = MarketOrderRequest(**common)
        fields: dict[str, Any] = model.to_request_fields()
        fields["qty"] = format(request.quantity, "f")
        if request.limit_price is not None:
            fields["limit_price"] = format(request.limit_price, "f")
        return fields

    async def _replayed(self, request: OrderRequest) -> VenueOrder:
        """Alpaca refused the id as used: the order under it is ours (a retry
        whose first answer was lost) or a conflict."""
        cid = request.client_order_id
        try:
            existing = self._venue_order(await self._by_client_id(cid), cid)
        except OrderNotFound:
            raise OrderConflict(
                f"Alpaca refused client_order_id {cid!r} as already used, but shows no order"
                " under it to compare with"
            ) from None
        differences = order_differences(request, existing)
        if differences:
            raise OrderConflict(
                f"client_order_id {cid!r} is already used at Alpaca by an order with a"
                f" different {', '.join(differences)}"
            )
        return existing

    async def _by_client_id(self, client_order_id: str) -> AlpacaOrder:
        raw = await self._call(
            f"GET /v2/orders:by_client_order_id ({client_order_id!r})",
            lambda: self._sdk().get_order_by_client_id(self.venue_client_order_id(client_order_id)),
            not_found=OrderNotFound,
        )
        if not isinstance(raw, AlpacaOrder):
            raise RuntimeError(f"Alpaca answered no order for {client_order_id!r}")
        return raw

    async def _settled(self, order_id: str, client_order_id: str) -> VenueOrder:
        """Read a cancelled order back until Alpaca reports it final (a cancel is
        asynchronous there: pending_cancel first)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._cancel_settle_seconds
        while True:
            raw = await self._call(
                f"GET /v2/orders/{order_id} (client_order_id {client_order_id!r})",
                lambda: self._sdk().get_order_by_id(order_id),
                not_found=OrderNotFound,
            )
            if not isinstance(raw, AlpacaOrder):
                raise RuntimeError(f"Alpaca answered no order for {order_id}")
            current = self._venue_order(raw, client_order_id)
            if current.status.is_terminal:
                return current
            if loop.time() >= deadline:
                raise VenueUnavailable(
                    f"cancel of {client_order_id!r} was requested, but after"
                    f" {self._cancel_settle_seconds:g}s Alpaca still reports it"
                    f" {raw.status.value}; retry"
                )
            await asyncio.sleep(CANCEL_POLL_SECONDS)

    async def _asset(self, symbol: str) -> InstrumentRules | None:
        try:
            raw = await self._call(
                f"GET /v2/assets/{symbol}",
                lambda: self._sdk().get_asset(symbol),
                not_found=_AssetNotFound,
            )
        except _AssetNotFound:
            return None
        if not isinstance(raw, AlpacaAsset):
            raise RuntimeError(f"GET /v2/assets/{symbol}: Alpaca answered no asset")
        step = exact_decimal(raw.min_trade_increment)
        if step is None:
            step = FRACTIONAL_STEP if raw.fractionable else Decimal(1)
        return InstrumentRules(
            symbol=symbol,
            tradable=raw.tradable and raw.status.value == "active",
            quantity_step=step,
            min_quantity=exact_decimal(raw.min_order_size),
            price_tick=exact_decimal(raw.price_increment),
            fractional=raw.fractionable,
        )

    def _venue_order(self, order: AlpacaOrder, ours: str | None = None) -> VenueOrder:
        """Alpaca's order as a VenueOrder, under our client order id ``ours`` (the id
        asked for) when the one Alpaca holds is its derived, shorter form."""
        order_id = str(order.id)
        if order.symbol is None or order.side is None or order.type is None:
            raise RuntimeError(
                f"Alpaca order {order_id} is a multi-leg order; this adapter places simple ones"
            )
        side = _SIDES_IN.get(order.side)
        order_type = _TYPES_IN.get(order.type)
        time_in_force = _TIFS_IN.get(order.time_in_force)
        if order_type is None or side is None or time_in_force is None:
            raise RuntimeError(
                f"Alpaca order {order_id} ({order.type.value}, {order.time_in_force.value}) is not"
                " a market or limit day/gtc/ioc order, which is all this adapter places"
            )
        quantity = _required(order.qty, "qty (a notional order?)", order_id)
        filled = exact_decimal(order.filled_qty) or Decimal(0)
        status = venue_status(order, quantity, filled)
        avg = exact_decimal(order.filled_avg_price) if filled > 0 else None
        rejected = status is VenueOrderStatus.REJECTED
        return VenueOrder(
            client_order_id=ours or order.client_order_id,
            venue_order_id=order_id,
            account=self.account,
            symbol=order.symbol,
            side=side,
            order_type=order_type,
            quantity=quantity,
            limit_price=exact_decimal(order.limit_price),
            time_in_force=time_in_force,
            status=status,
            filled_quantity=filled,
            avg_fill_price=avg,
            reject_error="INVALID_ORDER" if rejected else None,
            reject_message="Alpaca rejected the order (status rejected)" if rejected else None,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )

    @staticmethod
    def _position(position: AlpacaPosition) -> Position:
        quantity = exact_decimal(position.qty) or Decimal(0)
        if position.side is AlpacaPositionSide.SHORT and quantity > 0:
            quantity = -quantity
        return Position(
            symbol=position.symbol,
            quantity=quantity,
            avg_price=exact_decimal(position.avg_entry_price) if quantity != 0 else None,
        )

    @staticmethod
    def _model(what: str, build: Callable[[], T]) -> T:
        try:
            return build()
        except ValidationError as exc:
            raise RuntimeError(f"{what}: Alpaca's answer does not parse: {exc}") from None

    async def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        not_found: Callable[[str], Exception] | None = None,
    ) -> T:
        """Run one SDK call on the pool, within the deadline; map its errors."""
        if self._closed:
            raise RuntimeError("the Alpaca adapter is closed")
        loop = asyncio.get_running_loop()
        deadline = asyncio.timeout(self._deadline)
        sent = False
        error: Exception
        try:
            async with deadline:
                await self._slots.acquire()
                try:
                    # in the caller's context: its current span reaches the thread
                    # (for the traceparent header, _TimeoutAdapter.send)
                    future = loop.run_in_executor(
                        self._executor, contextvars.copy_context().run, fn
                    )
                except BaseException:
                    self._slots.release()
                    raise
                sent = True
                future.add_done_callback(self._release_slot)
                # shielded: a timed-out call keeps its thread (and its slot)
                # until the HTTP timeout ends it, so the pool stays bounded
                return await asyncio.shield(future)
        except TimeoutError:
            if not deadline.expired():
                error = VenueUnavailable(f"{what} timed out; the outcome is unknown")
            elif sent:
                error = VenueUnavailable(
                    f"{what}: no answer within {self._deadline:g}s; the outcome is unknown"
                )
            else:
                error = VenueUnavailable(
                    f"{what}: no free connection within {self._deadline:g}s; nothing was sent"
                )
        except APIError as exc:
            error = self._api_error(what, exc, not_found)
        except requests.exceptions.RequestException as exc:
            error = self._transport_error(what, exc)
        except ValidationError as exc:
            error = RuntimeError(f"{what}: Alpaca's answer does not parse: {exc}")
        # Raised outside the handlers, so neither __cause__ nor __context__ keeps
        # the SDK's exception, whose request carries the key headers.
        raise error

    def _release_slot(self, future: asyncio.Future[Any]) -> None:
        self._slots.release()
        if not future.cancelled():
            future.exception()  # retrieved, so an abandoned call's error is not reported as lost

    def _api_error(
        self, what: str, exc: APIError, not_found: Callable[[str], Exception] | None
    ) -> Exception:
        status = exc.status_code
        code, message = _error_body(str(exc))
        if not isinstance(status, int):
            return VenueUnavailable(f"{what} failed without an HTTP status: {message}")
        if status == 429:
            response = exc.response
            headers = dict(response.headers) if response is not None else {}
            retry_after = retry_after_seconds(headers)
            wait = "" if retry_after is None else f"; retry after {retry_after:.1f}s"
            return VenueRateLimited(f"{what} answered 429: {message}{wait}", retry_after)
        if status >= 500 or status == 408:
            return VenueUnavailable(f"{what} answered {status}: {message}")
        if status == 422 and "client_order_id must be unique" in message.lower():
            return _ClientIdTaken(message)
        if status in (403, 422):
            rejection = classify_refusal(status, code, message)
            if rejection is not None:
                return rejection
        if status in (401, 403):
            return RuntimeError(
                f"{what} answered {status}: Alpaca refused our keys ({message}); check"
                f" {ENV_KEY_ID} and {ENV_SECRET_KEY} (paper keys for the paper endpoint,"
                f" live keys for live) and {ENV_URL}"
            )
        if status == 404:
            if not_found is not None:
                return not_found(message)
            return RuntimeError(
                f"{what} answered 404 ({message}); is {ENV_URL} ({self.base_url}) an Alpaca"
                " trading API?"
            )
        return RuntimeError(f"{what} answered unexpected {status}: {message}")

    def _transport_error(self, what: str, exc: Exception) -> Exception:
        kind = type(exc).__name__
        if isinstance(exc, requests.exceptions.Timeout):
            return VenueUnavailable(
                f"{what} timed out after {self.timeout:g}s ({kind}); the outcome is unknown"
            )
        unusable_url = (
            requests.exceptions.InvalidURL,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
        )
        if isinstance(exc, unusable_url):
            return RuntimeError(f"{what}: {ENV_URL} ({self.base_url}) is not a usable URL ({kind})")
        return VenueUnavailable(f"{what} failed: {kind}: {str(exc)[:300]}")


class _ClientIdTaken(Exception):
    """422 "client_order_id must be unique": handled by ``place_order``."""


__all__ = [
    "ALPACA_CAPABILITIES",
    "ALPACA_CLIENT_ORDER_ID_PATTERN",
    "ENV_ALLOW_LIVE",
    "ENV_KEY_ID",
    "ENV_SECRET_KEY",
    "ENV_TIMEOUT",
    "ENV_URL",
    "PAPER_URL",
    "AlpacaAccountStatus",
    "AlpacaAdapter",
    "AlpacaClock",
    "VenueRateLimited",
    "classify_refusal",
    "exact_decimal",
    "retry_after_seconds",
    "time_in_force_sent",
]
