"""Settings of the paper venue process and how prices are given at start-up.

The venue is configured once, at start-up; everything that changes at run
time (prices, accounts, fault rules) goes through the admin API instead, so a
test can reconfigure a running venue without restarting it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from execbatch.dtos.types import PositiveDecimal
from execbatch.venue.paper.wire import Instrument

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8700
DEFAULT_ACCOUNT = "default"
DEFAULT_CASH = Decimal("1000000")

DEFAULT_PRICES: Mapping[str, Decimal] = {
    "AAPL": Decimal("190.00"),
    "MSFT": Decimal("410.00"),
    "GOOGL": Decimal("170.00"),
    "AMZN": Decimal("180.00"),
    "NVDA": Decimal("120.00"),
    "SPY": Decimal("560.00"),
    "QQQ": Decimal("480.00"),
    "TSLA": Decimal("250.00"),
    "BTC/USD": Decimal("60000.00"),
    "ETH/USD": Decimal("3000.00"),
    "BTC/USDT": Decimal("60000.00"),
    "ETH/USDT": Decimal("3000.00"),
}
"""Well-known symbols priced on a fresh venue, so demos work without set-up."""

_EQUITY_LOT = Decimal("0.000000001")
"""Alpaca trades fractional shares "as small as 0.000000001 of a share" (qty takes up
to 9 decimal places; Alpaca's "Fractional Trading" docs)."""
_CENT = Decimal("0.01")
"""US equities quoted at $1.00 or more trade in whole cents (SEC Regulation NMS Rule
612, the sub-penny rule)."""


def _equity(symbol: str) -> Instrument:
    return Instrument(symbol=symbol, quantity_step=_EQUITY_LOT, price_tick=_CENT)


DEFAULT_INSTRUMENTS: tuple[Instrument, ...] = (
    *(_equity(s) for s in ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "SPY", "QQQ", "TSLA")),
    # Alpaca's BTC/USD asset: min_order_size 0.0001, min_trade_increment 0.0001,
    # price_increment 1 (Alpaca's "Crypto Spot Trading" docs); ETH/USD in that shape.
    Instrument(
        symbol="BTC/USD",
        quantity_step=Decimal("0.0001"),
        min_quantity=Decimal("0.0001"),
        price_tick=Decimal("1"),
    ),
    Instrument(
        symbol="ETH/USD",
        quantity_step=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        price_tick=Decimal("0.1"),
    ),
    # Binance spot's filters in the shape of BTCUSDT/ETHUSDT (PRICE_FILTER tickSize,
    # LOT_SIZE stepSize/maxQty, NOTIONAL minNotional; Binance spot API docs, "Filters"),
    # not copied from any moment's.
    Instrument(
        symbol="BTC/USDT",
        quantity_step=Decimal("0.00001"),
        min_quantity=Decimal("0.00001"),
        max_quantity=Decimal("9000"),
        price_tick=_CENT,
        min_notional=Decimal("5"),
    ),
    Instrument(
        symbol="ETH/USDT",
        quantity_step=Decimal("0.0001"),
        min_quantity=Decimal("0.0001"),
        max_quantity=Decimal("100000"),
        price_tick=_CENT,
        min_notional=Decimal("5"),
    ),
)
"""What a fresh venue lists, and the rules an order on each must keep."""

SyncMode = Literal["FULL", "NORMAL"]


class VenueSettings(BaseModel):
    """Everything the venue needs to start.

    ``default_prices`` only seed symbols the database has no price for yet (a
    restart keeps prices changed at run time); ``price_overrides`` (from
    ``--prices FILE`` / ``--price SYM=P``) are written over whatever is stored,
    because someone asked for them explicitly on this start. Instruments alike:
    ``default_instruments`` list symbols the database does not list yet,
    ``instrument_overrides`` (``--instruments FILE``) replace the stored rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    db_path: Path
    host: str = DEFAULT_HOST
    port: Annotated[int, Field(ge=0, le=65535)] = DEFAULT_PORT
    default_account: str = DEFAULT_ACCOUNT
    initial_cash: Annotated[Decimal, Field(ge=0)] = DEFAULT_CASH
    default_prices: dict[str, PositiveDecimal] = Field(default_factory=lambda: dict(DEFAULT_PRICES))
    price_overrides: dict[str, PositiveDecimal] = Field(default_factory=dict)
    default_instruments: tuple[Instrument, ...] = DEFAULT_INSTRUMENTS
    instrument_overrides: tuple[Instrument, ...] = ()
    fault_seed: int = 0
    synchronous: SyncMode = "FULL"
    log_level: str = "INFO"
    access_log: bool = False
    redact_order_data: bool = False
    """Keep symbols, quantities, prices and rejection texts out of the venue's log
    (``service/log_redaction.py``): on where the deployment runs the payload codec."""
    graceful_shutdown_seconds: Annotated[float, Field(gt=0)] = 2.0
    """Bound on how long a shutdown waits for in-flight requests (a ``hang``
    fault may be sleeping for a minute; a restart must not wait for it)."""


def _parse_decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal number: {text!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not a finite number: {text!r}")
    return value


def parse_price(text: str) -> Decimal:
    """A strictly positive, finite Decimal from a string; ValueError otherwise."""
    value = _parse_decimal(text)
    if value <= 0:
        raise ValueError(f"price must be positive: {text!r}")
    return value


def parse_cash(text: str) -> Decimal:
    """A finite Decimal >= 0 from a string; ValueError otherwise."""
    value = _parse_decimal(text)
    if value < 0:
        raise ValueError(f"cash must not be negative: {text!r}")
    return value


def parse_price_flag(flag: str) -> tuple[str, Decimal]:
    """``"AAPL=190.5"`` -> ``("AAPL", Decimal("190.5"))``."""
    symbol, sep, price = flag.partition("=")
    if not sep or not symbol.strip():
        raise ValueError(f"expected SYMBOL=PRICE, got {flag!r}")
    return symbol.strip(), parse_price(price)


def load_prices_file(path: Path) -> dict[str, Decimal]:
    """Read ``{"AAPL": "190.00", ...}`` from a JSON file.

    Strings are preferred, but JSON numbers are accepted too: the file is
    parsed with ``parse_float=Decimal``, so ``190.1`` is read from its digits
    and never passes through a binary float.
    """
    raw = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a JSON object mapping symbol to price")
    prices: dict[str, Decimal] = {}
    for symbol, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise ValueError(f"{path}: price of {symbol} must be a decimal string")
        prices[str(symbol)] = parse_price(str(value))
    return prices


_INSTRUMENT_LIST = TypeAdapter(list[Instrument])


def load_instruments_file(path: Path) -> list[Instrument]:
    """Read ``[{"symbol": "AAPL", "quantity_step": "1", "price_tick": "0.01"}, ...]``
    (decimals as strings); ValueError naming the file and the field otherwise."""
    try:
        return _INSTRUMENT_LIST.validate_json(path.read_bytes())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"{path}: {where}: {first['msg']}") from None
