"""The paper venue's instruments: which symbols it lists and the rules an order keeps.

One table answers the native API (``GET /instruments``), Alpaca's assets and
Binance's exchangeInfo; the venue refuses at placement what breaks it, and the
paper adapter reads it so the pre-trade check refuses the same before sending.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from execbatch.core.enums import OrderType, VenueOrderStatus
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.venue.adapters.paper import PAPER_CAPABILITIES, PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.config import DEFAULT_PRICES
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.adapter import VenueRejection
from execbatch.venue.port.capabilities import InstrumentRules
from execbatch.venue.port.rules import rule_breaks
from tests.venue.helpers import START_CASH, new_symbol, order

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

LOT = {"quantity_step": "0.5", "min_quantity": "1", "max_quantity": "100"}
RULES = {**LOT, "price_tick": "0.05", "min_notional": "50"}


async def listed(admin: PaperVenueAdmin, **rules: str) -> str:
    """A fresh symbol, listed with ``rules`` and priced at 20."""
    symbol = new_symbol()
    await admin.set_instruments([{"symbol": symbol, **rules}])
    await admin.set_prices({symbol: "20"})
    return symbol


async def test_rules_are_set_by_admin_and_read_over_the_api(
    venue: VenueProcess, admin: PaperVenueAdmin, adapter: PaperVenueAdapter
) -> None:
    symbol = new_symbol()
    listings = await admin.set_instruments([{"symbol": symbol, **RULES}])
    [mine] = [item for item in listings if item.symbol == symbol]
    assert (mine.quantity_step, mine.min_notional, mine.trading) == (
        Decimal("0.5"),
        Decimal(50),
        False,  # listed, not priced yet
    )
    async with httpx.AsyncClient(base_url=venue.base_url) as raw:
        answer = await raw.get("/instruments", params={"symbols": f"{symbol},APPL"})
    assert answer.status_code == 200
    assert answer.json() == [
        {
            "symbol": symbol,
            "tradable": True,
            "quantity_step": "0.5",
            "min_quantity": "1",
            "max_quantity": "100",
            "price_tick": "0.05",
            "min_notional": "50",
            "trading": False,
        }
    ]
    assert (await adapter.instrument_rules([symbol]))[symbol].tradable is False
    await admin.set_prices({symbol: "20"})
    rules = await adapter.instrument_rules([symbol, "APPL"])
    assert rules == {
        symbol: InstrumentRules(
            symbol=symbol,
            quantity_step=Decimal("0.5"),
            min_quantity=Decimal(1),
            max_quantity=Decimal(100),
            price_tick=Decimal("0.05"),
            min_notional=Decimal(50),
        )
    }  # APPL is not listed: absent
    # replaced, not merged: a rule left out is no rule
    await admin.set_instruments([{"symbol": symbol, "quantity_step": "1"}])
    assert (await adapter.instrument_rules([symbol]))[symbol].min_notional is None


async def test_malformed_instruments_are_refused_naming_the_field(
    venue: VenueProcess, admin: PaperVenueAdmin
) -> None:
    async with httpx.AsyncClient(base_url=venue.base_url) as raw:
        for body, field in (
            ([{"symbol": "OK1", "quantity_step": "0"}], "quantity_step"),
            ([{"symbol": "OK1", "price_tick": 0.01}], "price_tick"),  # a float
            ([{"symbol": "OK1", "min_quantity": "5", "max_quantity": "1"}], "min_quantity"),
            ([{"symbol": "lower", "quantity_step": "1"}], "symbol"),
            ([{"symbol": "OK1", "lot": "1"}], "lot"),
        ):
            answer = await raw.put("/admin/instruments", json=body)
            assert answer.status_code == 422, body
            assert answer.json()["error"] == "INVALID_REQUEST"
            assert field in answer.json()["message"]
    assert "OK1" not in {item.symbol for item in await admin.instruments()}


@pytest.mark.parametrize(
    ("quantity", "kind", "limit", "broken"),
    [
        ("2.25", OrderType.MARKET, None, "not a multiple of the lot size 0.5"),
        ("0.5", OrderType.MARKET, None, "below the minimum 1"),
        ("100.5", OrderType.MARKET, None, "above the maximum 100"),
        ("2", OrderType.MARKET, None, "notional 40 is below the minimum 50"),  # at 20
        ("3", OrderType.LIMIT, "20.02", "limit price 20.02 is not a multiple of the tick size"),
        ("2", OrderType.LIMIT, "24.95", "notional 49.90 is below the minimum 50"),
    ],
)
async def test_an_order_that_breaks_a_rule_is_rejected_at_placement(
    adapter: PaperVenueAdapter,
    admin: PaperVenueAdmin,
    account: str,
    quantity: str,
    kind: OrderType,
    limit: str | None,
    broken: str,
) -> None:
    symbol = await listed(admin, **RULES)
    request = order(account, symbol, quantity=quantity, order_type=kind, limit_price=limit)
    with pytest.raises(VenueRejection) as refused:
        await adapter.place_order(request)
    assert refused.value.error == "INVALID_ORDER"  # a business rejection, final
    assert broken in refused.value.message
    stored = await admin.order(request.client_order_id)
    assert stored.status is VenueOrderStatus.REJECTED
    assert await adapter.positions() == []
    assert (await adapter.get_account()).cash == START_CASH
    # the same order within the rules fills
    fits = order(account, symbol, quantity="3", order_type=kind, limit_price=limit and "20.05")
    assert (await adapter.place_order(fits)).status is VenueOrderStatus.FILLED


async def test_an_unlisted_or_untradable_symbol_is_rejected(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    with pytest.raises(VenueRejection) as unknown:
        await adapter.place_order(order(account, "APPL", quantity="46"))
    assert unknown.value.error == "UNKNOWN_SYMBOL"
    assert "'APPL' is not an instrument the venue lists" in unknown.value.message
    halted = await listed(admin, quantity_step="1")
    await admin.set_instruments([{"symbol": halted, "tradable": False}])
    with pytest.raises(VenueRejection, match="not tradable"):
        await adapter.place_order(order(account, halted, quantity="1"))
    assert await adapter.positions() == []


async def test_the_three_dialects_answer_from_the_same_table(
    venue: VenueProcess, admin: PaperVenueAdmin, account: str
) -> None:
    base = new_symbol()
    symbol = f"{base}/USDT"
    await admin.set_instruments([{"symbol": symbol, **RULES}])
    await admin.set_prices({symbol: "20"})
    alpaca_headers = {"APCA-API-KEY-ID": account, "APCA-API-SECRET-KEY": "anything"}
    async with httpx.AsyncClient(base_url=venue.base_url) as raw:
        [native] = (await raw.get("/instruments", params={"symbols": symbol})).json()
        asset = (await raw.get(f"/v2/assets/{symbol}", headers=alpaca_headers)).json()
        info = (await raw.get("/api/v3/exchangeInfo", params={"symbol": f"{base}USDT"})).json()
        missing = await raw.get("/v2/assets/APPL", headers=alpaca_headers)
        off_lot = await raw.post(
            "/v2/orders",
            headers=alpaca_headers,
            json={"symbol": symbol, "qty": "2.25", "side": "buy", "type": "market"}
            | {"time_in_force": "gtc", "client_order_id": f"lot-{base}"},
        )
    assert native["trading"] is True
    assert (asset["tradable"], asset["fractionable"]) == (True, True)
    assert (asset["min_order_size"], asset["min_trade_increment"], asset["price_increment"]) == (
        "1",
        "0.5",
        "0.05",
    )
    [listing] = info["symbols"]
    filters = {item["filterType"]: item for item in listing["filters"]}
    assert listing["status"] == "TRADING"
    assert Decimal(filters["LOT_SIZE"]["stepSize"]) == Decimal("0.5")
    assert Decimal(filters["LOT_SIZE"]["minQty"]) == Decimal(1)
    assert Decimal(filters["LOT_SIZE"]["maxQty"]) == Decimal(100)
    assert Decimal(filters["PRICE_FILTER"]["tickSize"]) == Decimal("0.05")
    assert Decimal(filters["NOTIONAL"]["minNotional"]) == Decimal(50)
    assert missing.status_code == 404
    assert off_lot.status_code == 422  # placed through Alpaca's API: the same rules
    assert "not a multiple of the lot size 0.5" in off_lot.json()["message"]


async def test_every_default_symbol_and_example_fits_the_default_instruments(
    adapter: PaperVenueAdapter,
) -> None:
    """What the demo, the examples and the kit trade on a fresh venue is listed,
    priced, and within its rules."""
    documents = {path.name: DirectiveDocument.from_file(path) for path in EXAMPLES.glob("*.json")}
    symbols = set(DEFAULT_PRICES) | {c.symbol for d in documents.values() for c in d.commands}
    rules = await adapter.instrument_rules(symbols)
    assert set(rules) == symbols
    assert all(rule.tradable for rule in rules.values())
    for name, document in documents.items():
        for command in document.commands:
            assert not rule_breaks(
                symbol=command.symbol,
                quantity=command.quantity,
                order_type=command.order_type,
                limit_price=command.limit_price,
                rules=rules[command.symbol],
                capabilities=PAPER_CAPABILITIES,
            ), f"{name} {command.command_id}"


async def test_instruments_from_a_file_at_start_and_kept_over_a_restart(tmp_path: Path) -> None:
    listing = tmp_path / "instruments.json"
    listing.write_text(
        json.dumps([{"symbol": "AAPL", "quantity_step": "1", "price_tick": "0.01"}]),
        encoding="utf-8",
    )
    db = tmp_path / "venue.db"
    async with (
        VenueProcess(db, extra_args=["--instruments", str(listing)]) as venue,
        PaperVenueAdmin(venue.base_url) as admin,
        PaperVenueAdapter(venue.base_url) as adapter,
    ):
        assert (await adapter.instrument_rules(["AAPL"]))["AAPL"].quantity_step == Decimal(1)
        with pytest.raises(VenueRejection, match="lot size 1"):
            await adapter.place_order(order("default", "AAPL", quantity="0.5"))
        await admin.set_instruments([{"symbol": "ZQXNEW", "min_notional": "10"}])
    async with VenueProcess(db) as venue, PaperVenueAdapter(venue.base_url) as adapter:
        rules = await adapter.instrument_rules(["AAPL", "ZQXNEW", "MSFT"])
    assert rules["AAPL"].quantity_step == Decimal(1)  # the file's, kept
    assert rules["ZQXNEW"].min_notional == Decimal(10)  # set at run time, kept
    assert rules["MSFT"].quantity_step == Decimal("0.000000001")  # a default
    listing.write_text(json.dumps([{"symbol": "AAPL", "quantity_step": 1.5}]), encoding="utf-8")
    broken = VenueProcess(tmp_path / "other.db", extra_args=["--instruments", str(listing)])
    with pytest.raises(RuntimeError, match="exited with code 2"):
        await broken.astart()
    await broken.aclose()
    assert "quantity_step" in broken.log_text()


async def test_a_venue_with_keys_answers_the_rules_to_a_trading_key(tmp_path: Path) -> None:
    keys = {
        "EXECBATCH_VENUE_API_KEY": "trade-key-0123456789",
        "EXECBATCH_VENUE_ADMIN_KEY": "admin-key-0123456789",
    }
    async with (
        VenueProcess(tmp_path / "venue.db", env=keys) as venue,
        PaperVenueAdapter(venue.base_url, api_key=keys["EXECBATCH_VENUE_API_KEY"]) as adapter,
        PaperVenueAdmin(venue.base_url, admin_key=keys["EXECBATCH_VENUE_ADMIN_KEY"]) as admin,
    ):
        await admin.set_instruments([{"symbol": "AAPL", "quantity_step": "1"}])
        rules = await adapter.instrument_rules(["AAPL", "APPL"])
        async with httpx.AsyncClient(base_url=venue.base_url) as raw:
            unsigned = await raw.get("/instruments")
    assert set(rules) == {"AAPL"} and rules["AAPL"].quantity_step == Decimal(1)
    assert unsigned.status_code == 401


async def test_a_huge_quantity_is_judged_exactly(adapter: PaperVenueAdapter, account: str) -> None:
    """20 digits over AAPL's 1e-9 lot is a 29-digit quotient: checked, not a 500."""
    with pytest.raises(VenueRejection) as refused:
        await adapter.place_order(order(account, "AAPL", quantity="12345678901234567890.5"))
    assert refused.value.error == "INSUFFICIENT_FUNDS"


async def test_a_partial_fill_fills_whole_lots(
    adapter: PaperVenueAdapter, admin: PaperVenueAdmin, account: str
) -> None:
    """Half of 5 in lots of 1 is 2 (a venue fills in lots), so it can be reverted."""
    symbol = await listed(admin, quantity_step="1")
    await admin.add_fault(kind="partial_fill", fraction="0.5", symbol=symbol, max_hits=1)
    placed = await adapter.place_order(order(account, symbol, quantity="5"))
    assert (placed.status, placed.filled_quantity) == (VenueOrderStatus.CANCELED, Decimal(2))
