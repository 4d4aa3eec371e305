"""The store's client order id scopes and the schema 1 -> 2 migration, on a SQLite file
directly (no process): OPEN_ORDERS for the Binance dialect, FOREVER for the native API."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.core.enums import OrderSide, OrderType, TimeInForce, VenueOrderStatus
from execbatch.venue.paper.service.faults import FaultDecision, FaultTarget
from execbatch.venue.paper.service.store import PlaceResult, VenueStore
from execbatch.venue.port.orders import OrderRequest

SCHEMA_V1 = """
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
CREATE TABLE IF NOT EXISTS orders (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id       TEXT NOT NULL UNIQUE,
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
    updated_at            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_open_by_symbol ON orders (symbol, status);
CREATE INDEX IF NOT EXISTS orders_by_account ON orders (account, status);
CREATE TABLE IF NOT EXISTS fills (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
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
"""The version 1 schema, as the venue created it before client id scopes."""


def _no_fault(_: FaultTarget) -> FaultDecision | None:
    return None


def _request(
    client_order_id: str,
    *,
    side: OrderSide = OrderSide.BUY,
    order_type: OrderType = OrderType.MARKET,
    quantity: str = "1",
    limit_price: str | None = None,
) -> OrderRequest:
    return OrderRequest(
        client_order_id=client_order_id,
        account="acct",
        symbol="BTC/USDT",
        side=side,
        order_type=order_type,
        quantity=Decimal(quantity),
        limit_price=None if limit_price is None else Decimal(limit_price),
        time_in_force=TimeInForce.GTC,
    )


@pytest.fixture
def store(tmp_path: Path) -> VenueStore:
    opened = VenueStore(tmp_path / "venue.db", "NORMAL")
    opened.bootstrap(
        default_account="acct",
        initial_cash=Decimal("100000"),
        default_prices={"BTC/USDT": Decimal("100")},
        price_overrides={},
    )
    return opened


def test_open_scope_refuses_an_open_id_and_frees_it_once_closed(store: VenueStore) -> None:
    resting = store.place_open_scope(
        _request("x1", order_type=OrderType.LIMIT, limit_price="90"),
        _no_fault,
        sells_need_holdings=True,
    )
    assert resting.result is PlaceResult.CREATED
    assert resting.order is not None and resting.order.status is VenueOrderStatus.NEW
    duplicate = store.place_open_scope(_request("x1"), _no_fault, sells_need_holdings=True)
    assert duplicate.result is PlaceResult.DUPLICATE
    assert duplicate.order == resting.order

    assert store.cancel_open("acct", "BTC/USDT", client_order_id="x1") is not None
    assert store.cancel_open("acct", "BTC/USDT", client_order_id="x1") is None  # not open
    again = store.place_open_scope(_request("x1"), _no_fault, sells_need_holdings=True)
    assert again.result is PlaceResult.CREATED
    assert again.order is not None and again.order.status is VenueOrderStatus.FILLED
    assert again.order.venue_order_id != resting.order.venue_order_id
    latest = store.find_order("acct", "BTC/USDT", client_order_id="x1")
    assert latest == again.order
    assert len([o for o in store.list_orders("acct", None) if o.client_order_id == "x1"]) == 2


def test_open_scope_rejections_store_nothing_and_sells_need_holdings(store: VenueStore) -> None:
    refused = store.place_open_scope(
        _request("s1", side=OrderSide.SELL), _no_fault, sells_need_holdings=True
    )
    assert refused.result is PlaceResult.REJECTED
    assert refused.rejection is not None and refused.rejection[0] == "INSUFFICIENT_FUNDS"
    store.place_open_scope(_request("b1", quantity="2"), _no_fault, sells_need_holdings=True)
    store.place_open_scope(
        _request("s2", side=OrderSide.SELL, order_type=OrderType.LIMIT, limit_price="150"),
        _no_fault,
        sells_need_holdings=True,
    )
    # 2 held, 1 held by the resting sell: selling 2 more is refused, 1 is fine.
    more = store.place_open_scope(
        _request("s3", side=OrderSide.SELL, quantity="2"), _no_fault, sells_need_holdings=True
    )
    assert more.result is PlaceResult.REJECTED
    ok = store.place_open_scope(
        _request("s4", side=OrderSide.SELL), _no_fault, sells_need_holdings=True
    )
    assert ok.result is PlaceResult.CREATED
    assert {o.client_order_id for o in store.list_orders("acct", None)} == {"b1", "s2", "s4"}
    late = store.place_open_scope(
        _request("w1"), _no_fault, sells_need_holdings=True, not_after=time.time() - 1
    )
    assert late.result is PlaceResult.REJECTED
    assert late.rejection is not None and late.rejection[0] == "EXPIRED_WINDOW"


def test_native_scope_stays_forever_beside_reused_ids(store: VenueStore) -> None:
    for _ in range(2):
        store.place_open_scope(_request("r1"), _no_fault, sells_need_holdings=False)
    replay = store.place(_request("r1"), _no_fault)
    assert replay.result is PlaceResult.REPLAYED
    assert replay.order == store.find_order("acct", "BTC/USDT", client_order_id="r1")
    native = store.place(_request("n1"), _no_fault)
    assert native.result is PlaceResult.CREATED
    assert store.place(_request("n1"), _no_fault).result is PlaceResult.REPLAYED
    assert store.cancel("never", "acct").effect == "fenced"
    assert store.place(_request("never"), _no_fault).result is PlaceResult.FENCED


def test_the_database_fences_duplicate_ids_in_both_scopes(tmp_path: Path) -> None:
    path = tmp_path / "venue.db"
    store = VenueStore(path, "NORMAL")
    store.bootstrap(
        default_account="acct",
        initial_cash=Decimal("100000"),
        default_prices={"BTC/USDT": Decimal("100")},
        price_overrides={},
    )
    store.place(_request("f1"), _no_fault)  # FOREVER, filled
    store.place_open_scope(
        _request("o1", order_type=OrderType.LIMIT, limit_price="90"),
        _no_fault,
        sells_need_holdings=False,
    )  # OPEN_ORDERS, open
    store.close()
    db = sqlite3.connect(path)
    columns = (
        "client_order_id, account, symbol, side, order_type, quantity, time_in_force, status,"
        " filled_quantity, created_at, updated_at, id_scope"
    )
    row = "?, 'acct', 'BTC/USDT', 'BUY', 'MARKET', '1', 'GTC', ?, '0', 'now', 'now', ?"
    with pytest.raises(sqlite3.IntegrityError, match=r"orders\.client_order_id"):
        db.execute(f"INSERT INTO orders ({columns}) VALUES ({row})", ("f1", "FILLED", "FOREVER"))
    with pytest.raises(sqlite3.IntegrityError, match=r"orders\.client_order_id"):
        db.execute(f"INSERT INTO orders ({columns}) VALUES ({row})", ("o1", "NEW", "OPEN_ORDERS"))
    db.execute(f"INSERT INTO orders ({columns}) VALUES ({row})", ("o1", "FILLED", "OPEN_ORDERS"))
    db.close()


def _v1_database(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(SCHEMA_V1)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO accounts VALUES ('acct', '99800', '2026-01-01T00:00:00+00:00',"
        " '2026-01-01T00:00:00+00:00')"
    )
    db.execute("INSERT INTO prices VALUES ('AAPL', '100', '2026-01-01T00:00:00+00:00')")
    order = (
        "INSERT INTO orders (seq, client_order_id, account, symbol, side, order_type, quantity,"
        " limit_price, time_in_force, status, filled_quantity, avg_fill_price, fenced,"
        " created_at, updated_at) VALUES (?, ?, 'acct', 'AAPL', 'BUY', ?, '2', ?, 'GTC', ?,"
        " ?, ?, 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
    )
    db.execute(order, (3, "old-filled", "MARKET", None, "FILLED", "2", "100"))
    db.execute(order, (7, "old-resting", "LIMIT", "90", "NEW", "0", None))
    db.execute(
        "INSERT INTO fills (client_order_id, account, symbol, side, quantity, price, created_at)"
        " VALUES ('old-filled', 'acct', 'AAPL', 'BUY', '2', '100', '2026-01-01T00:00:00+00:00')"
    )
    # Orders 8..12 existed once (the counter says so): their ids must never come back.
    db.execute("UPDATE sqlite_sequence SET seq = 12 WHERE name = 'orders'")
    db.commit()
    db.close()


def test_a_version_1_database_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _v1_database(path)
    store = VenueStore(path, "NORMAL")
    filled = store.get("old-filled")
    resting = store.get("old-resting")
    assert filled is not None and filled.venue_order_id == "V0000000003"
    assert filled.status is VenueOrderStatus.FILLED and filled.filled_quantity == 2
    assert resting is not None and resting.venue_order_id == "V0000000007"
    assert store.order_fills(["V0000000003"])["V0000000003"][0].price == Decimal("100")
    # Native semantics carry over: the old ids are taken forever.
    assert store.place(_request("old-filled"), _no_fault).result is PlaceResult.CONFLICT
    new = store.place(
        OrderRequest(
            client_order_id="new-1",
            account="acct",
            symbol="AAPL",
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=Decimal("1"),
        ),
        _no_fault,
    )
    assert new.order.venue_order_id == "V0000000013"
    # The resting limit still fills on a price move (matching by row key).
    assert [o.client_order_id for o in store.set_prices({"AAPL": Decimal("89")})] == ["old-resting"]
    store.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("2",)
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert not tables & {"orders_v1", "fills_v1"}
    db.close()
    VenueStore(path, "NORMAL").close()  # a second start finds version 2 and changes nothing


def test_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('schema_version', '99')")
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        VenueStore(path, "NORMAL")
