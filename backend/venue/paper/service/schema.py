"""The venue's SQLite schema and how its rows map to the wire models.

Decimals are stored as fixed-point TEXT (never REAL) so that they come back
exactly; timestamps as ISO 8601 text with their UTC offset. ``venue_order_id``
is not stored: it is ``"V"`` + the row's zero-padded sequence number, so it
can never disagree with the row it names.

Client order ids (schema version 2). An order's row key is its sequence
number; how long its client order id stays taken is the row's ``id_scope``:

* ``FOREVER`` (the native ``/orders`` API): one order per id for good. The
  store refuses any reuse of an id that any row holds, and the partial unique
  index ``orders_client_id_forever`` is the second fence.
* ``OPEN_ORDERS`` (the Binance dialect): unique only among open orders, so an
  id whose order filled or was cancelled may be placed again. The partial
  unique index ``orders_client_id_open`` (over NEW/PARTIALLY_FILLED rows, of
  either scope) is the fence.

The ``instruments`` table (what the venue lists, with each symbol's rules) came
after version 2 without a version change: it is created where missing, and a
database from before lists every symbol it has a price for (without rules).

Version 1 (``client_order_id`` UNIQUE, fills keyed by client order id) is
migrated in place at start-up (``MIGRATE_1_TO_2``); see ``VenueStore``.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.paper.service.matching import fmt_decimal
from execbatch.venue.paper.wire import Instrument
from execbatch.venue.port.orders import OrderRequest, VenueOrder

SCHEMA_VERSION = 2

TABLES = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    account    TEXT PRIMARY KEY,
    cash       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS prices (
    symbol     TEXT PRIMARY KEY,
    price      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS instruments (
    symbol        TEXT PRIMARY KEY,
    tradable      INTEGER NOT NULL DEFAULT 1,
    quantity_step TEXT,
    min_quantity  TEXT,
    max_quantity  TEXT,
    price_tick    TEXT,
    min_notional  TEXT,
    updated_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id       TEXT NOT NULL,
    account               TEXT NOT NULL,
    symbol                TEXT NOT NULL,
    side                  TEXT NOT NULL,
    order_type            TEXT NOT NULL,
    quantity              TEXT NOT NULL,
    limit_price           TEXT,
    time_in_force         TEXT NOT NULL,
    status                TEXT NOT NULL,
    filled_quantity       TEXT NOT NULL,
    avg_fill_price        TEXT,
    reject_error          TEXT,
    reject_message        TEXT,
    fenced                INTEGER NOT NULL DEFAULT 0,
    pending_fill_fraction TEXT,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    id_scope              TEXT NOT NULL DEFAULT 'FOREVER'
                          CHECK (id_scope IN ('FOREVER', 'OPEN_ORDERS'))
);
CREATE TABLE IF NOT EXISTS fills (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_seq       INTEGER NOT NULL REFERENCES orders (seq),
    client_order_id TEXT NOT NULL,
    account         TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    quantity        TEXT NOT NULL,
    price           TEXT NOT NULL,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS positions (
    account    TEXT NOT NULL,
    symbol     TEXT NOT NULL,
    quantity   TEXT NOT NULL,
    avg_price  TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (account, symbol)
);
"""

INDEXES = """
CREATE INDEX IF NOT EXISTS orders_open_by_symbol ON orders (symbol, status);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account, status);
CREATE INDEX IF NOT EXISTS orders_by_client_id ON orders (client_order_id, seq);
CREATE UNIQUE INDEX IF NOT EXISTS orders_client_id_forever ON orders (client_order_id)
    WHERE id_scope = 'FOREVER';
CREATE UNIQUE INDEX IF NOT EXISTS orders_client_id_open ON orders (client_order_id)
    WHERE status IN ('NEW', 'PARTIALLY_FILLED');
CREATE INDEX IF NOT EXISTS fills_by_order ON fills (order_seq);
"""

SCHEMA = TABLES + INDEXES
"""The whole schema of the current version (every statement is IF NOT EXISTS)."""

MIGRATE_1_TO_2 = (
    # Move the version 1 tables aside (their indexes go with them), create the
    # version 2 tables, copy every row across, drop the old tables. Run with
    # foreign keys off, inside one transaction (VenueStore._migrate).
    "ALTER TABLE fills RENAME TO fills_v1",
    "ALTER TABLE orders RENAME TO orders_v1",
    TABLES,
    "INSERT INTO orders (seq, client_order_id, account, symbol, side, order_type, quantity,"
    " limit_price, time_in_force, status, filled_quantity, avg_fill_price, reject_error,"
    " reject_message, fenced, pending_fill_fraction, created_at, updated_at, id_scope)"
    " SELECT seq, client_order_id, account, symbol, side, order_type, quantity, limit_price,"
    " time_in_force, status, filled_quantity, avg_fill_price, reject_error, reject_message,"
    " fenced, pending_fill_fraction, created_at, updated_at, 'FOREVER' FROM orders_v1",
    "INSERT INTO fills (seq, order_seq, client_order_id, account, symbol, side, quantity, price,"
    " created_at) SELECT f.seq, o.seq, f.client_order_id, f.account, f.symbol, f.side,"
    " f.quantity, f.price, f.created_at FROM fills_v1 AS f"
    " JOIN orders_v1 AS o ON o.client_order_id = f.client_order_id",
    "DROP TABLE fills_v1",
    "DROP TABLE orders_v1",
    INDEXES,
)
"""Version 1 -> 2: surrogate order key, scoped client order ids, fills by order."""

ID_SCOPE_FOREVER = "FOREVER"
ID_SCOPE_OPEN_ORDERS = "OPEN_ORDERS"

OPEN_STATUSES = (VenueOrderStatus.NEW.value, VenueOrderStatus.PARTIALLY_FILLED.value)

# What a cancel tombstone holds besides its id (documented in docs/VENUE.md).
TOMBSTONE_SYMBOL = ""
TOMBSTONE_SIDE = OrderSide.BUY
TOMBSTONE_TYPE = OrderType.MARKET
TOMBSTONE_TIF = TimeInForce.IOC


def now_utc() -> datetime:
    return datetime.now(UTC)


def dec_or_none(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def fmt_or_none(value: Decimal | None) -> str | None:
    return None if value is None else fmt_decimal(value)


def show(value: Decimal | None) -> str:
    """A Decimal for a log line: fixed-point, ``-`` for None."""
    return "-" if value is None else fmt_decimal(value)


def order_from_row(row: sqlite3.Row) -> VenueOrder:
    return VenueOrder(
        client_order_id=row["client_order_id"],
        venue_order_id=f"V{row['seq']:010d}",
        account=row["account"],
        symbol=row["symbol"],
        side=OrderSide(row["side"]),
        order_type=OrderType(row["order_type"]),
        quantity=Decimal(row["quantity"]),
        limit_price=dec_or_none(row["limit_price"]),
        time_in_force=TimeInForce(row["time_in_force"]),
        status=VenueOrderStatus(row["status"]),
        filled_quantity=Decimal(row["filled_quantity"]),
        avg_fill_price=dec_or_none(row["avg_fill_price"]),
        reject_error=row["reject_error"],
        reject_message=row["reject_message"],
        fenced=bool(row["fenced"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


def instrument_from_row(row: sqlite3.Row) -> Instrument:
    return Instrument(
        symbol=row["symbol"],
        tradable=bool(row["tradable"]),
        quantity_step=dec_or_none(row["quantity_step"]),
        min_quantity=dec_or_none(row["min_quantity"]),
        max_quantity=dec_or_none(row["max_quantity"]),
        price_tick=dec_or_none(row["price_tick"]),
        min_notional=dec_or_none(row["min_notional"]),
    )


def content_differences(request: OrderRequest, order: VenueOrder) -> tuple[str, ...]:
    """Fields where a repeated placement differs from the stored order.

    Decimals compare by value, so ``"10"`` and ``"10.0"`` are the same order.
    """
    pairs: list[tuple[str, object, object]] = [
        ("account", request.account, order.account),
        ("symbol", request.symbol, order.symbol),
        ("side", request.side, order.side),
        ("order_type", request.order_type, order.order_type),
        ("quantity", request.quantity, order.quantity),
        ("limit_price", request.limit_price, order.limit_price),
        ("time_in_force", request.time_in_force, order.time_in_force),
    ]
    return tuple(name for name, new, old in pairs if new != old)
