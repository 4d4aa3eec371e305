"""SQLite persistence of the paper venue, and the order life cycle on top of it.

Why it is built this way:

* **One connection, one thread.** Every operation runs on a single dedicated
  thread (``StoreRunner``) that owns the only connection. Operations are thus
  serialised without any locking in SQL, the event loop never blocks on disk,
  and a read-check-insert such as "is this client order id new?" cannot race
  with itself. The partial unique indexes on ``client_order_id`` are the
  second fence: should anything ever slip past the serialisation, the insert
  fails and the placement is replayed instead of duplicated.
* **Two client order id scopes** (``schema.py``): the native API keeps an id
  taken forever (``place``, ``cancel`` fences unknown ids); the Binance dialect
  keeps it unique only among open orders (``place_open_scope``,
  ``cancel_open``: no fence), as Binance spot does.
* **Each operation is one transaction** (``BEGIN IMMEDIATE`` ... ``COMMIT``):
  an order, its fill, the position and the cash move together or not at all.
* **WAL with ``synchronous=FULL``** (the default, ``NORMAL`` is selectable):
  WAL lets readers of the file (a debugging ``sqlite3`` shell) proceed during
  writes; FULL fsyncs the WAL at every commit, so an order the venue has
  acknowledged survives even an OS crash or power loss, not only a process
  crash. A venue that "forgets" an acknowledged fill would make a correct
  client retry double-place, which is the very failure this project exists to
  rule out; the price is ~0.3 ms per commit, far below the HTTP overhead.
* **Decimals are TEXT** (fixed-point, see ``schema.py``), never REAL, so
  ``0.00000001`` comes back exactly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Concatenate, ParamSpec, TypeVar

from execbatch.core.enums import OrderSide, OrderType, VenueOrderStatus
from execbatch.venue.paper.service.faults import FaultDecision, FaultTarget
from execbatch.venue.paper.service.log_redaction import OrderDataLog
from execbatch.venue.paper.service.matching import (
    EXACT,
    apply_fill_to_position,
    buy_cost_price,
    cash_delta,
    fmt_decimal,
    is_marketable,
    notional,
    plan_fill,
    weighted_average,
)
from execbatch.venue.paper.service.schema import (
    ID_SCOPE_FOREVER,
    ID_SCOPE_OPEN_ORDERS,
    MIGRATE_1_TO_2,
    OPEN_STATUSES,
    SCHEMA,
    SCHEMA_VERSION,
    TOMBSTONE_SIDE,
    TOMBSTONE_SYMBOL,
    TOMBSTONE_TIF,
    TOMBSTONE_TYPE,
    content_differences,
    dec_or_none,
    fmt_or_none,
    instrument_from_row,
    now_utc,
    order_from_row,
)
from execbatch.venue.paper.wire import FaultEndpoint, FaultKind, Instrument
from execbatch.venue.port.orders import Account, OrderRequest, Position, VenueOrder
from execbatch.venue.port.rules import order_breaks

log = logging.getLogger("execbatch.venue")

P = ParamSpec("P")
T = TypeVar("T")


class PlaceResult(StrEnum):
    """How a placement was resolved.

    ``POST /orders`` gives the first four. ``place_open_scope`` (the Binance
    dialect) gives CREATED, DUPLICATE (an open order holds the id) or REJECTED
    (refused and, as on Binance, not stored).
    """

    CREATED = "created"
    REPLAYED = "replayed"
    CONFLICT = "conflict"
    FENCED = "fenced"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(frozen=True)
class PlaceOutcome:
    """The order a placement resolved to, and how.

    ``response_lost`` is set when a ``fail_after_place`` fault fired: the order
    is committed but the client must not be told.
    """

    result: PlaceResult
    order: VenueOrder
    conflict_fields: tuple[str, ...] = ()
    response_lost: bool = False


@dataclass(frozen=True)
class ScopedPlaceOutcome:
    """A placement under OPEN_ORDERS scope (``place_open_scope``).

    ``order`` is the new order (CREATED) or the open order holding the id
    (DUPLICATE); a REJECTED placement stores nothing and carries only
    ``rejection`` (error code, message). ``response_lost``: a
    ``fail_after_place`` fault fired, the order is committed but unanswered.
    """

    result: PlaceResult
    order: VenueOrder | None
    rejection: tuple[str, str] | None = None
    response_lost: bool = False


@dataclass(frozen=True)
class Fill:
    """One fill of an order: its own sequence number, quantity and price."""

    seq: int
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class Holdings:
    """What an account holds, for a spot-style balance report.

    ``reserved_cash``: held by resting BUY limits; ``open_sells``: open SELL
    quantity per symbol (held from the position).
    """

    cash: Decimal
    reserved_cash: Decimal
    positions: dict[str, Decimal]
    open_sells: dict[str, Decimal]


@dataclass(frozen=True)
class CancelOutcome:
    """The order after a cancel; ``effect`` says what the cancel did."""

    order: VenueOrder
    effect: str  # "canceled", "unchanged" or "fenced"


@dataclass(frozen=True)
class OrderCounts:
    by_status: dict[str, int]
    total: int
    fenced: int


FaultPicker = Callable[[FaultTarget], FaultDecision | None]


class VenueStore:
    """The venue's state and order life cycle; confined to one thread.

    Not thread-safe by design: use it only through ``StoreRunner``.
    """

    def __init__(
        self, db_path: Path, synchronous: str = "FULL", *, redact_order_data: bool = False
    ) -> None:
        self._log = OrderDataLog(redact=redact_order_data)
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (see _tx).
        self._db = sqlite3.connect(str(db_path), isolation_level=None)
        self._db.row_factory = sqlite3.Row
        mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise RuntimeError(f"{db_path}: could not switch to WAL mode (got {mode!r})")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
        )
        found = self._found_version()
        if found == "1":
            self._migrate_1_to_2(db_path)
        elif found not in (None, str(SCHEMA_VERSION)):
            self._db.close()
            raise RuntimeError(
                f"{db_path}: schema version {found}, this venue needs {SCHEMA_VERSION};"
                " use a fresh --db file"
            )
        self._db.executescript(SCHEMA)
        with self._tx():
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            stored = self._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()[0]
        if stored != str(SCHEMA_VERSION):
            self._db.close()
            raise RuntimeError(
                f"{db_path}: schema version {stored}, this venue needs {SCHEMA_VERSION};"
                " use a fresh --db file"
            )

    def close(self) -> None:
        self._db.close()

    def _found_version(self) -> str | None:
        """The stored schema version; ``None`` for a fresh file.

        A file with an ``orders`` table but no version row is version 1 (its
        start-up stopped between creating the tables and writing the row).
        """
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is not None:
            return str(row[0])
        table = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'orders'"
        ).fetchone()
        return None if table is None else "1"

    def _migrate_1_to_2(self, db_path: Path) -> None:
        """Rebuild the order tables for scoped client order ids, in one transaction.

        Every order keeps its sequence number (so its venue order id), every
        fill its order; the AUTOINCREMENT counters continue where they were, so
        no venue order id is ever handed out twice. Foreign keys are off during
        the rebuild (SQLite's documented table-rebuild procedure) and checked
        before the commit; any failure rolls the file back to version 1.
        """
        log.warning("migrating %s from schema version 1 to 2", db_path)
        self._db.execute("PRAGMA foreign_keys=OFF")
        try:
            with self._tx() as db:
                counters = {
                    row["name"]: row["seq"]
                    for row in db.execute(
                        "SELECT name, seq FROM sqlite_sequence WHERE name IN ('orders', 'fills')"
                    )
                }
                for script in MIGRATE_1_TO_2:
                    for statement in _statements(script):
                        db.execute(statement)
                for name, seq in counters.items():
                    updated = db.execute(
                        "UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = ?", (seq, name)
                    ).rowcount
                    if not updated:
                        db.execute(
                            "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq)
                        )
                broken = db.execute("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"{db_path}: migration broke {len(broken)} foreign keys")
                db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
        finally:
            self._db.execute("PRAGMA foreign_keys=ON")
        log.warning("migrated %s to schema version %s", db_path, SCHEMA_VERSION)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back (and the error re-raised) on failure."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ setup

    def bootstrap(
        self,
        *,
        default_account: str,
        initial_cash: Decimal,
        default_prices: Mapping[str, Decimal],
        price_overrides: Mapping[str, Decimal],
        default_instruments: Sequence[Instrument] = (),
        instrument_overrides: Sequence[Instrument] = (),
    ) -> None:
        """Seed a fresh database; on a restart only fill in what is missing.

        The default account is funded only when it does not exist yet (a
        restart must not refund it). Default prices seed unpriced symbols;
        explicit overrides replace stored prices and may fill resting orders.
        Default instruments list symbols not listed yet, overrides replace the
        stored rules; a symbol priced before the venue listed instruments is
        listed without rules (a database from an earlier version).
        """
        now = now_utc().isoformat()
        with self._tx() as db:
            created = db.execute(
                "INSERT OR IGNORE INTO accounts (account, cash, created_at, updated_at)"
                " VALUES (?, ?, ?, ?)",
                (default_account, fmt_decimal(initial_cash), now, now),
            ).rowcount
            if created:
                log.info(
                    "account created account=%s cash=%s",
                    default_account,
                    self._log.amount(initial_cash),
                )
            db.executemany(
                "INSERT OR IGNORE INTO prices (symbol, price, updated_at) VALUES (?, ?, ?)",
                [(symbol, fmt_decimal(price), now) for symbol, price in default_prices.items()],
            )
            for instrument in default_instruments:
                self._list(db, instrument, now, replace=False)
            for instrument in instrument_overrides:
                self._list(db, instrument, now, replace=True)
            db.execute(
                "INSERT OR IGNORE INTO instruments (symbol, updated_at)"
                " SELECT symbol, ? FROM prices",
                (now,),
            )
        if price_overrides:
            self.set_prices(price_overrides)

    # ----------------------------------------------------------------- orders

    def place(self, request: OrderRequest, pick_fault: FaultPicker) -> PlaceOutcome:
        """Place an order idempotently by client order id (see module docstring)."""
        try:
            return self._place(request, pick_fault)
        except sqlite3.IntegrityError as exc:
            if "orders.client_order_id" not in str(exc):
                raise
            # The UNIQUE fence fired: another writer got there first. Replay it.
            log.warning("duplicate insert fenced by UNIQUE cid=%s", request.client_order_id)
            return self._place(request, pick_fault)

    def _place(self, request: OrderRequest, pick_fault: FaultPicker) -> PlaceOutcome:
        with self._tx() as db:
            existing = self._find(db, request.client_order_id)
            if existing is not None:
                if existing.fenced:
                    log.info("order fenced placement cid=%s", request.client_order_id)
                    return PlaceOutcome(PlaceResult.FENCED, existing)
                diffs = content_differences(request, existing)
                if diffs:
                    return PlaceOutcome(PlaceResult.CONFLICT, existing, conflict_fields=diffs)
                return PlaceOutcome(PlaceResult.REPLAYED, existing)
            return self._place_new(db, request, pick_fault)

    def place_open_scope(
        self,
        request: OrderRequest,
        pick_fault: FaultPicker,
        *,
        sells_need_holdings: bool,
        not_after: float | None = None,
    ) -> ScopedPlaceOutcome:
        """Place with the client order id unique among OPEN orders only (Binance spot).

        An open order holding the id refuses the placement (DUPLICATE); an id
        whose orders are all closed is free again, so a re-sent placement after
        a fill places a second order, exactly as on Binance. A rejection stores
        nothing. ``sells_need_holdings``: a SELL needs the position it sells
        (spot: no short selling), net of other open sells. ``not_after`` (epoch
        seconds): the request's validity window (Binance's ``timestamp +
        recvWindow``); past it the placement is refused ``EXPIRED_WINDOW`` at
        the moment it would be committed, so a delayed request cannot land late.
        """
        with self._tx() as db:
            if not_after is not None and time.time() > not_after:
                return ScopedPlaceOutcome(
                    PlaceResult.REJECTED,
                    None,
                    rejection=("EXPIRED_WINDOW", "the request's validity window has passed"),
                )
            row = db.execute(
                "SELECT * FROM orders WHERE client_order_id = ? AND status IN (?, ?)",
                (request.client_order_id, *OPEN_STATUSES),
            ).fetchone()
            if row is not None:
                return ScopedPlaceOutcome(PlaceResult.DUPLICATE, order_from_row(row))
            rejection = self._validate(db, request)
            if rejection is None and sells_need_holdings and request.side is OrderSide.SELL:
                rejection = self._check_holdings(db, request)
            fault: FaultDecision | None = None
            if rejection is None:
                fault, rejection = _placement_fault(request, pick_fault)
            if rejection is not None:
                log.info(
                    "order refused cid=%s account=%s %s %s %s error=%s message=%s",
                    request.client_order_id,
                    request.account,
                    request.side.value,
                    self._log.amount(request.quantity),
                    self._log.symbol(request.symbol),
                    rejection[0],
                    self._log.text(rejection[1]),
                )
                return ScopedPlaceOutcome(PlaceResult.REJECTED, None, rejection=rejection)
            outcome = self._place_new(db, request, lambda _: fault, id_scope=ID_SCOPE_OPEN_ORDERS)
            return ScopedPlaceOutcome(
                PlaceResult.CREATED, outcome.order, response_lost=outcome.response_lost
            )

    def _check_holdings(
        self, db: sqlite3.Connection, request: OrderRequest
    ) -> tuple[str, str] | None:
        row = db.execute(
            "SELECT quantity FROM positions WHERE account = ? AND symbol = ?",
            (request.account, request.symbol),
        ).fetchone()
        held = Decimal(row["quantity"]) if row else Decimal(0)
        available = EXACT.subtract(
            held, self._open_sells(db, request.account).get(request.symbol, Decimal(0))
        )
        if request.quantity > available:
            return (
                "INSUFFICIENT_FUNDS",
                f"selling {fmt_decimal(request.quantity)} {request.symbol} needs that much held,"
                f" available is {fmt_decimal(available)}",
            )
        return None

    @staticmethod
    def _open_sells(db: sqlite3.Connection, account: str) -> dict[str, Decimal]:
        rows = db.execute(
            "SELECT symbol, quantity, filled_quantity FROM orders"
            " WHERE account = ? AND side = 'SELL' AND status IN (?, ?)",
            (account, *OPEN_STATUSES),
        ).fetchall()
        held: dict[str, Decimal] = {}
        for row in rows:
            remaining = EXACT.subtract(Decimal(row["quantity"]), Decimal(row["filled_quantity"]))
            held[row["symbol"]] = EXACT.add(held.get(row["symbol"], Decimal(0)), remaining)
        return held

    def _place_new(
        self,
        db: sqlite3.Connection,
        request: OrderRequest,
        pick_fault: FaultPicker,
        *,
        id_scope: str = ID_SCOPE_FOREVER,
    ) -> PlaceOutcome:
        now = now_utc().isoformat()
        rejection = self._validate(db, request)
        fault: FaultDecision | None = None
        if rejection is None:
            fault, rejection = _placement_fault(request, pick_fault)
        status = VenueOrderStatus.REJECTED if rejection else VenueOrderStatus.NEW
        fraction = fault.fraction if fault and fault.kind is FaultKind.PARTIAL_FILL else None
        cursor = db.execute(
            "INSERT INTO orders (client_order_id, account, symbol, side, order_type, quantity,"
            " limit_price, time_in_force, status, filled_quantity, avg_fill_price, reject_error,"
            " reject_message, fenced, pending_fill_fraction, created_at, updated_at, id_scope)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '0', NULL, ?, ?, 0, ?, ?, ?, ?)",
            (
                request.client_order_id,
                request.account,
                request.symbol,
                request.side.value,
                request.order_type.value,
                fmt_decimal(request.quantity),
                fmt_or_none(request.limit_price),
                request.time_in_force.value,
                status.value,
                rejection[0] if rejection else None,
                rejection[1] if rejection else None,
                fmt_or_none(fraction),
                now,
                now,
                id_scope,
            ),
        )
        order = self._order_by_seq(db, cursor.lastrowid)
        if rejection is not None:
            log.info(
                "order rejected cid=%s vid=%s account=%s %s %s %s error=%s message=%s",
                order.client_order_id,
                order.venue_order_id,
                order.account,
                order.side.value,
                self._log.amount(order.quantity),
                self._log.symbol(order.symbol),
                rejection[0],
                self._log.text(rejection[1]),
            )
            return PlaceOutcome(PlaceResult.CREATED, order)
        ref_price = self._price(db, request.symbol)
        assert ref_price is not None, "validated above"
        order = self._match(db, order, ref_price)
        log.info(
            "order placed cid=%s vid=%s account=%s %s %s %s type=%s limit=%s tif=%s"
            " status=%s filled=%s avg=%s%s",
            order.client_order_id,
            order.venue_order_id,
            order.account,
            order.side.value,
            self._log.amount(order.quantity),
            self._log.symbol(order.symbol),
            order.order_type.value,
            self._log.amount(order.limit_price),
            order.time_in_force.value,
            order.status.value,
            self._log.amount(order.filled_quantity),
            self._log.amount(order.avg_fill_price),
            f" fault=#{fault.rule_id}:{fault.kind.value}" if fault else "",
        )
        lost = fault is not None and fault.kind is FaultKind.FAIL_AFTER_PLACE
        return PlaceOutcome(PlaceResult.CREATED, order, response_lost=lost)

    def _validate(self, db: sqlite3.Connection, request: OrderRequest) -> tuple[str, str] | None:
        """The business checks, in order; ``(error, message)`` for the first that fails."""
        if request.order_type is OrderType.LIMIT and request.limit_price is None:
            return "INVALID_ORDER", "limit_price is required for a LIMIT order"
        if request.order_type is OrderType.MARKET and request.limit_price is not None:
            return "INVALID_ORDER", "limit_price is not allowed for a MARKET order"
        cash = self._cash(db, request.account)
        if cash is None:
            return "INVALID_ORDER", f"unknown account {request.account!r}"
        instrument = self._instrument(db, request.symbol)
        if instrument is None:
            return "UNKNOWN_SYMBOL", f"{request.symbol!r} is not an instrument the venue lists"
        ref_price = self._price(db, request.symbol)
        if ref_price is None:
            return "UNKNOWN_SYMBOL", f"no reference price for symbol {request.symbol!r}"
        breaks = order_breaks(
            symbol=request.symbol,
            quantity=request.quantity,
            order_type=request.order_type,
            limit_price=request.limit_price,
            rules=instrument.rules(priced=True),
            venue="the paper venue",
            reference_price=ref_price,
        )
        if breaks:
            return "INVALID_ORDER", f"{request.symbol}: {'; '.join(breaks)}"
        if request.side is OrderSide.BUY:
            price = buy_cost_price(request.order_type, request.limit_price, ref_price)
            cost = notional(request.quantity, price)
            available = cash - self._reserved(db, request.account)
            if cost > available:
                return (
                    "INSUFFICIENT_FUNDS",
                    f"buying {fmt_decimal(request.quantity)} {request.symbol} at"
                    f" {fmt_decimal(price)} needs {fmt_decimal(cost)},"
                    f" available cash is {fmt_decimal(available)}",
                )
        return None

    def _reserved(self, db: sqlite3.Connection, account: str) -> Decimal:
        """Cash held for the open remainders of resting BUY limits (at their limit).

        Holding it keeps cash from going negative when such an order fills
        later, after other buys have spent the money.
        """
        rows = db.execute(
            "SELECT quantity, filled_quantity, limit_price FROM orders"
            " WHERE account = ? AND side = 'BUY' AND status IN (?, ?)"
            " AND limit_price IS NOT NULL",
            (account, *OPEN_STATUSES),
        ).fetchall()
        total = Decimal(0)
        for row in rows:
            remaining = Decimal(row["quantity"]) - Decimal(row["filled_quantity"])
            total = EXACT.add(total, notional(remaining, Decimal(row["limit_price"])))
        return total

    def _match(self, db: sqlite3.Connection, order: VenueOrder, ref_price: Decimal) -> VenueOrder:
        """One matching pass of an order against the reference price, persisted."""
        seq = seq_of(order)
        row = db.execute(
            "SELECT pending_fill_fraction FROM orders WHERE seq = ?", (seq,)
        ).fetchone()
        fraction = dec_or_none(row["pending_fill_fraction"])
        plan = plan_fill(
            side=order.side,
            order_type=order.order_type,
            time_in_force=order.time_in_force,
            quantity=order.quantity,
            filled_quantity=order.filled_quantity,
            limit_price=order.limit_price,
            ref_price=ref_price,
            fraction=fraction,
            lot=None if fraction is None else self._lot(db, order.symbol),
        )
        if plan.quantity == 0 and plan.status is order.status:
            return order
        now = now_utc().isoformat()
        filled = order.filled_quantity
        avg = order.avg_fill_price
        if plan.quantity > 0:
            self._apply_fill(db, order, plan.quantity, plan.price, now)
            avg = weighted_average(filled, avg, plan.quantity, plan.price)
            filled = EXACT.add(filled, plan.quantity)
            fraction = None  # a partial_fill fault caps only the first fill
        db.execute(
            "UPDATE orders SET status = ?, filled_quantity = ?, avg_fill_price = ?,"
            " pending_fill_fraction = ?, updated_at = ? WHERE seq = ?",
            (
                plan.status.value,
                fmt_decimal(filled),
                fmt_or_none(avg),
                fmt_or_none(fraction),
                now,
                seq,
            ),
        )
        return self._order_by_seq(db, seq)

    def _apply_fill(
        self,
        db: sqlite3.Connection,
        order: VenueOrder,
        quantity: Decimal,
        price: Decimal,
        now: str,
    ) -> None:
        """Record a fill and move the position and the cash with it."""
        db.execute(
            "INSERT INTO fills (order_seq, client_order_id, account, symbol, side, quantity,"
            " price, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq_of(order),
                order.client_order_id,
                order.account,
                order.symbol,
                order.side.value,
                fmt_decimal(quantity),
                fmt_decimal(price),
                now,
            ),
        )
        row = db.execute(
            "SELECT quantity, avg_price FROM positions WHERE account = ? AND symbol = ?",
            (order.account, order.symbol),
        ).fetchone()
        old_qty = Decimal(row["quantity"]) if row else Decimal(0)
        old_avg = dec_or_none(row["avg_price"]) if row else None
        new_qty, new_avg = apply_fill_to_position(old_qty, old_avg, order.side, quantity, price)
        db.execute(
            "INSERT INTO positions (account, symbol, quantity, avg_price, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (account, symbol) DO UPDATE SET"
            " quantity = excluded.quantity, avg_price = excluded.avg_price,"
            " updated_at = excluded.updated_at",
            (order.account, order.symbol, fmt_decimal(new_qty), fmt_or_none(new_avg), now),
        )
        cash = self._cash(db, order.account)
        if cash is None:
            raise RuntimeError(f"fill for unknown account {order.account!r}")
        new_cash = EXACT.add(cash, cash_delta(order.side, quantity, price))
        db.execute(
            "UPDATE accounts SET cash = ?, updated_at = ? WHERE account = ?",
            (fmt_decimal(new_cash), now, order.account),
        )

    def get(self, client_order_id: str) -> VenueOrder | None:
        return self._find(self._db, client_order_id)

    def list_orders(self, account: str | None, symbol: str | None) -> list[VenueOrder]:
        clauses: list[str] = []
        params: list[str] = []
        if account is not None:
            clauses.append("account = ?")
            params.append(account)
        if symbol is not None:
            clauses.append("symbol = ?")
            params.append(symbol)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._db.execute(f"SELECT * FROM orders{where} ORDER BY seq", params).fetchall()
        return [order_from_row(row) for row in rows]

    def cancel(self, client_order_id: str, account: str | None) -> CancelOutcome:
        """Cancel the open remainder; idempotent; fences an id never seen before."""
        with self._tx() as db:
            order = self._find(db, client_order_id)
            now = now_utc().isoformat()
            if order is None:
                cursor = db.execute(
                    "INSERT INTO orders (client_order_id, account, symbol, side, order_type,"
                    " quantity, limit_price, time_in_force, status, filled_quantity,"
                    " avg_fill_price, reject_error, reject_message, fenced,"
                    " pending_fill_fraction, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, '0', NULL, ?, ?, '0', NULL, NULL, NULL, 1, NULL,"
                    " ?, ?)",
                    (
                        client_order_id,
                        account or "",
                        TOMBSTONE_SYMBOL,
                        TOMBSTONE_SIDE.value,
                        TOMBSTONE_TYPE.value,
                        TOMBSTONE_TIF.value,
                        VenueOrderStatus.CANCELED.value,
                        now,
                        now,
                    ),
                )
                tombstone = self._order_by_seq(db, cursor.lastrowid)
                log.info(
                    "order fenced cid=%s vid=%s (cancel before placement)",
                    client_order_id,
                    tombstone.venue_order_id,
                )
                return CancelOutcome(tombstone, "fenced")
            if order.status.is_terminal:
                return CancelOutcome(order, "unchanged")
            canceled = self._cancel_row(db, order, now)
            log.info(
                "order canceled cid=%s vid=%s filled=%s of %s",
                client_order_id,
                canceled.venue_order_id,
                self._log.amount(canceled.filled_quantity),
                self._log.amount(canceled.quantity),
            )
            return CancelOutcome(canceled, "canceled")

    # ------------------------------------------- OPEN_ORDERS scope (dialects)

    def find_order(
        self,
        account: str,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
        open_only: bool = False,
    ) -> VenueOrder | None:
        """One order of ``account`` on ``symbol``, by client id or venue order id.

        By client id: the most recent order holding it (an id may have been
        reused once its earlier order closed). Rejected orders and cancel
        tombstones are never returned (a dialect stores neither of its own).
        """
        return self._find_scoped(
            self._db,
            account,
            symbol,
            client_order_id=client_order_id,
            venue_order_id=venue_order_id,
            open_only=open_only,
        )

    def cancel_open(
        self,
        account: str,
        symbol: str,
        *,
        client_order_id: str | None = None,
        venue_order_id: str | None = None,
    ) -> VenueOrder | None:
        """Cancel the open order so named; ``None`` (and nothing recorded) if none is open.

        Unlike ``cancel`` this never fences: an unknown id stays unknown, as on
        Binance ("Unknown order sent.").
        """
        with self._tx() as db:
            order = self._find_scoped(
                db,
                account,
                symbol,
                client_order_id=client_order_id,
                venue_order_id=venue_order_id,
                open_only=True,
            )
            if order is None:
                return None
            canceled = self._cancel_row(db, order, now_utc().isoformat())
            log.info(
                "order canceled cid=%s vid=%s filled=%s of %s",
                canceled.client_order_id,
                canceled.venue_order_id,
                self._log.amount(canceled.filled_quantity),
                self._log.amount(canceled.quantity),
            )
            return canceled

    def open_orders(self, account: str, symbol: str | None) -> list[VenueOrder]:
        clauses = "account = ? AND status IN (?, ?) AND fenced = 0"
        params: list[str] = [account, *OPEN_STATUSES]
        if symbol is not None:
            clauses += " AND symbol = ?"
            params.append(symbol)
        rows = self._db.execute(
            f"SELECT * FROM orders WHERE {clauses} ORDER BY seq", params
        ).fetchall()
        return [order_from_row(row) for row in rows]

    def order_fills(self, venue_order_ids: list[str]) -> dict[str, list[Fill]]:
        """The fills of each order, oldest first, per venue order id."""
        fills: dict[str, list[Fill]] = {}
        for vid in venue_order_ids:
            rows = self._db.execute(
                "SELECT seq, quantity, price FROM fills WHERE order_seq = ? ORDER BY seq",
                (seq_of_id(vid),),
            ).fetchall()
            fills[vid] = [
                Fill(row["seq"], Decimal(row["quantity"]), Decimal(row["price"])) for row in rows
            ]
        return fills

    def holdings(self, account: str) -> Holdings | None:
        cash = self._cash(self._db, account)
        if cash is None:
            return None
        positions = {position.symbol: position.quantity for position in self.positions(account)}
        return Holdings(
            cash=cash,
            reserved_cash=self._reserved(self._db, account),
            positions=positions,
            open_sells=self._open_sells(self._db, account),
        )

    @staticmethod
    def _find_scoped(
        db: sqlite3.Connection,
        account: str,
        symbol: str,
        *,
        client_order_id: str | None,
        venue_order_id: str | None,
        open_only: bool,
    ) -> VenueOrder | None:
        clauses = "account = ? AND symbol = ? AND status != 'REJECTED' AND fenced = 0"
        params: list[object] = [account, symbol]
        if venue_order_id is not None:
            seq = seq_of_id(venue_order_id)
            if seq is None:
                return None
            clauses += " AND seq = ?"
            params.append(seq)
        if client_order_id is not None:
            clauses += " AND client_order_id = ?"
            params.append(client_order_id)
        if open_only:
            clauses += " AND status IN (?, ?)"
            params.extend(OPEN_STATUSES)
        row = db.execute(
            f"SELECT * FROM orders WHERE {clauses} ORDER BY seq DESC LIMIT 1", params
        ).fetchone()
        return None if row is None else order_from_row(row)

    # ----------------------------------------------------------------- prices

    def prices(self) -> dict[str, Decimal]:
        rows = self._db.execute("SELECT symbol, price FROM prices ORDER BY symbol").fetchall()
        return {row["symbol"]: Decimal(row["price"]) for row in rows}

    def set_prices(self, prices: Mapping[str, Decimal]) -> list[VenueOrder]:
        """Update reference prices and fill resting limits that became marketable.

        Returns the orders that filled (fully or partly), oldest first.
        """
        filled: list[VenueOrder] = []
        now = now_utc().isoformat()
        with self._tx() as db:
            for symbol, price in prices.items():
                db.execute(
                    "INSERT INTO prices (symbol, price, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (symbol) DO UPDATE SET price = excluded.price,"
                    " updated_at = excluded.updated_at",
                    (symbol, fmt_decimal(price), now),
                )
                # A symbol priced for the first time is listed (without rules).
                db.execute(
                    "INSERT OR IGNORE INTO instruments (symbol, updated_at) VALUES (?, ?)",
                    (symbol, now),
                )
                log.info(
                    "price set symbol=%s price=%s",
                    self._log.symbol(symbol),
                    self._log.amount(price),
                )
                rows = db.execute(
                    "SELECT * FROM orders WHERE symbol = ? AND status IN (?, ?)"
                    " AND order_type = 'LIMIT' ORDER BY seq",
                    (symbol, *OPEN_STATUSES),
                ).fetchall()
                for row in rows:
                    order = order_from_row(row)
                    assert order.limit_price is not None, "resting orders are limits"
                    if not is_marketable(order.side, order.limit_price, price):
                        continue
                    matched = self._match(db, order, price)
                    if matched.filled_quantity != order.filled_quantity:
                        filled.append(matched)
                        log.info(
                            "order filled cid=%s vid=%s %s %s %s at %s status=%s filled=%s",
                            matched.client_order_id,
                            matched.venue_order_id,
                            matched.side.value,
                            self._log.amount(
                                EXACT.subtract(matched.filled_quantity, order.filled_quantity)
                            ),
                            self._log.symbol(matched.symbol),
                            self._log.amount(price),
                            matched.status.value,
                            self._log.amount(matched.filled_quantity),
                        )
        return filled

    # ------------------------------------------------------------ instruments

    def instruments(self) -> dict[str, Instrument]:
        """Every listed instrument, by symbol."""
        rows = self._db.execute("SELECT * FROM instruments ORDER BY symbol").fetchall()
        return {row["symbol"]: instrument_from_row(row) for row in rows}

    def set_instruments(self, instruments: Sequence[Instrument]) -> None:
        """List each instrument, or replace the rules of one listed already.

        Resting orders keep their place: rules apply when an order is placed.
        """
        now = now_utc().isoformat()
        with self._tx() as db:
            for instrument in instruments:
                self._list(db, instrument, now, replace=True)
        for instrument in instruments:
            log.info(
                "instrument set symbol=%s %s",
                self._log.symbol(instrument.symbol),
                self._log.text(instrument.model_dump_json(exclude={"symbol"}, exclude_none=True)),
            )

    @staticmethod
    def _list(db: sqlite3.Connection, instrument: Instrument, now: str, *, replace: bool) -> None:
        db.execute(
            f"INSERT OR {'REPLACE' if replace else 'IGNORE'} INTO instruments (symbol, tradable,"
            " quantity_step, min_quantity, max_quantity, price_tick, min_notional, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                instrument.symbol,
                int(instrument.tradable),
                fmt_or_none(instrument.quantity_step),
                fmt_or_none(instrument.min_quantity),
                fmt_or_none(instrument.max_quantity),
                fmt_or_none(instrument.price_tick),
                fmt_or_none(instrument.min_notional),
                now,
            ),
        )

    def _lot(self, db: sqlite3.Connection, symbol: str) -> Decimal | None:
        instrument = self._instrument(db, symbol)
        return None if instrument is None else instrument.quantity_step

    @staticmethod
    def _instrument(db: sqlite3.Connection, symbol: str) -> Instrument | None:
        row = db.execute("SELECT * FROM instruments WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else instrument_from_row(row)

    # --------------------------------------------------------------- accounts

    def set_cash(self, account: str, cash: Decimal) -> Account:
        """Create the account or set its cash balance (a set, so it is idempotent)."""
        now = now_utc().isoformat()
        with self._tx() as db:
            db.execute(
                "INSERT INTO accounts (account, cash, created_at, updated_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account) DO UPDATE SET cash = excluded.cash,"
                " updated_at = excluded.updated_at",
                (account, fmt_decimal(cash), now, now),
            )
        log.info("account funded account=%s cash=%s", account, self._log.amount(cash))
        return Account(account=account, cash=cash)

    def account(self, account: str) -> Account | None:
        cash = self._cash(self._db, account)
        return None if cash is None else Account(account=account, cash=cash)

    def positions(self, account: str) -> list[Position]:
        rows = self._db.execute(
            "SELECT symbol, quantity, avg_price FROM positions WHERE account = ? ORDER BY symbol",
            (account,),
        ).fetchall()
        return [
            Position(
                symbol=row["symbol"],
                quantity=Decimal(row["quantity"]),
                avg_price=dec_or_none(row["avg_price"]),
            )
            for row in rows
        ]

    def order_counts(self) -> OrderCounts:
        rows = self._db.execute(
            "SELECT status, fenced, COUNT(*) AS n FROM orders GROUP BY status, fenced"
        ).fetchall()
        by_status = {status.value: 0 for status in VenueOrderStatus}
        fenced = 0
        for row in rows:
            by_status[row["status"]] += row["n"]
            if row["fenced"]:
                fenced += row["n"]
        return OrderCounts(by_status=by_status, total=sum(by_status.values()), fenced=fenced)

    # ---------------------------------------------------------------- helpers

    @staticmethod
    def _find(db: sqlite3.Connection, client_order_id: str) -> VenueOrder | None:
        """The most recent order with this client order id (any scope).

        With FOREVER ids there is at most one; an id reused under OPEN_ORDERS
        scope (Binance dialect) names several orders, and the latest is the one
        a native lookup, replay or cancel sees.
        """
        row = db.execute(
            "SELECT * FROM orders WHERE client_order_id = ? ORDER BY seq DESC LIMIT 1",
            (client_order_id,),
        ).fetchone()
        return None if row is None else order_from_row(row)

    def _cancel_row(self, db: sqlite3.Connection, order: VenueOrder, now: str) -> VenueOrder:
        seq = seq_of(order)
        db.execute(
            "UPDATE orders SET status = ?, pending_fill_fraction = NULL, updated_at = ?"
            " WHERE seq = ?",
            (VenueOrderStatus.CANCELED.value, now, seq),
        )
        return self._order_by_seq(db, seq)

    @staticmethod
    def _order_by_seq(db: sqlite3.Connection, seq: int | None) -> VenueOrder:
        row = db.execute("SELECT * FROM orders WHERE seq = ?", (seq,)).fetchone()
        if row is None:
            raise RuntimeError(f"order seq {seq} vanished inside its transaction")
        return order_from_row(row)

    @staticmethod
    def _cash(db: sqlite3.Connection, account: str) -> Decimal | None:
        row = db.execute("SELECT cash FROM accounts WHERE account = ?", (account,)).fetchone()
        return None if row is None else Decimal(row["cash"])

    @staticmethod
    def _price(db: sqlite3.Connection, symbol: str) -> Decimal | None:
        row = db.execute("SELECT price FROM prices WHERE symbol = ?", (symbol,)).fetchone()
        return None if row is None else Decimal(row["price"])


def seq_of(order: VenueOrder) -> int:
    """The row key of an order, from its venue order id (``"V0000000042"`` -> 42)."""
    seq = seq_of_id(order.venue_order_id)
    if seq is None:
        raise ValueError(f"not a venue order id: {order.venue_order_id!r}")
    return seq


def seq_of_id(venue_order_id: str) -> int | None:
    """``"V0000000042"`` -> 42; ``None`` for anything that is not a venue order id."""
    digits = venue_order_id[1:]
    if not venue_order_id.startswith("V") or not digits.isdigit() or not digits.isascii():
        return None
    return int(digits)


def _statements(script: str) -> list[str]:
    """The statements of a script of plain DDL/DML (no ';' inside literals)."""
    return [part.strip() for part in script.split(";") if part.strip()]


class StoreRunner:
    """Runs ``VenueStore`` calls on one dedicated thread, awaitable from the loop.

    The single worker thread is what serialises all database work (see the
    module docstring); the store is created on that thread because a sqlite3
    connection belongs to the thread that opened it.
    """

    def __init__(self, db_path: Path, synchronous: str, *, redact_order_data: bool = False) -> None:
        self._db_path = db_path
        self._synchronous = synchronous
        self._redact_order_data = redact_order_data
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="venue-store")
        self._store: VenueStore | None = None

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._store = await loop.run_in_executor(
            self._executor,
            functools.partial(
                VenueStore,
                self._db_path,
                self._synchronous,
                redact_order_data=self._redact_order_data,
            ),
        )

    async def call(
        self, fn: Callable[Concatenate[VenueStore, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``await runner.call(VenueStore.place, request, picker)``."""
        store = self._store
        if store is None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(fn, store, *args, **kwargs)
        )

    async def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._executor, store.close)
        self._executor.shutdown(wait=True)


def _placement_fault(
    request: OrderRequest, pick_fault: FaultPicker
) -> tuple[FaultDecision | None, tuple[str, str] | None]:
    """The fault rule (if any) that fires on this placement, and the rejection it makes
    when it is a ``reject`` rule."""
    fault = pick_fault(
        FaultTarget(
            endpoint=FaultEndpoint.PLACE,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
        )
    )
    if fault is not None and fault.kind is FaultKind.REJECT:
        return fault, (
            fault.error or "INVALID_ORDER",
            fault.message or f"rejected by injected fault #{fault.rule_id}",
        )
    return fault, None
