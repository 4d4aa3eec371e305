"""The venue's log with order data redacted: ids and statuses, never a symbol, a quantity
or a price (what a deployment with the payload codec on asks of it).

Units for the rule and the formatting, then a real venue process trading with
``--redact-order-data --access-log``: fills, a resting limit filled by a price move,
a rejection, a cancel and a symbol in a query string all leave nothing of the order
in its log. The same trades on a venue without the option do print the markers,
which shows the grep would catch a leak.
"""

from __future__ import annotations

import contextlib
import logging
import re
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.core.enums import OrderType
from execbatch.devstack.stack import venue_process_env
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.log_redaction import (
    ENV_REDACT,
    AccessLogRedaction,
    OrderDataLog,
    redact_order_data_from_env,
)
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.adapter import VenueRejection
from tests.venue.helpers import new_id, order

SYMBOL = "ZQXMARK"
UNPRICED = "ZQXNOPRICE"
PRICE = "4321.75"
QUANTITY = "731.5"
LIMIT = "4000.5"
MARKERS = (SYMBOL, UNPRICED, PRICE, QUANTITY, LIMIT, "4321.", "4000.", "731.")


def leaked(text: str) -> list[str]:
    """The markers that stand in ``text`` as a value of their own.

    A marker inside a longer run of digits or letters is not a leak: a client port
    (``127.0.0.1:47318``), a millisecond field or a hex id can hold ``731`` by chance,
    which once failed CI. Every numeric marker has a decimal point, which neither a
    port, a timestamp nor an id has.
    """
    return [m for m in MARKERS if re.search(rf"(?<![0-9A-Za-z]){re.escape(m)}", text)]


def test_the_environment_decides_and_the_codec_implies_it() -> None:
    assert redact_order_data_from_env({}) is False
    assert redact_order_data_from_env({"EXECBATCH_CODEC_KEYS": "k1=abc"}) is True
    assert redact_order_data_from_env({"EXECBATCH_CODEC_KEY_FILE": "/keys"}) is True
    assert redact_order_data_from_env({ENV_REDACT: "true"}) is True
    assert redact_order_data_from_env({ENV_REDACT: "0", "EXECBATCH_CODEC_KEYS": "k"}) is False
    with pytest.raises(ValueError, match=ENV_REDACT):
        redact_order_data_from_env({ENV_REDACT: "maybe"})


def test_the_dev_stack_tells_the_venue_and_keeps_the_keys_from_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(ENV_REDACT, raising=False)
    monkeypatch.setenv("EXECBATCH_CODEC_KEYS", "k1=abc")
    env = venue_process_env({})
    assert env[ENV_REDACT] == "true"
    assert "EXECBATCH_CODEC_KEYS" not in env
    monkeypatch.delenv("EXECBATCH_CODEC_KEYS")
    assert venue_process_env({})[ENV_REDACT] == "false"


def test_formatting_redacted_and_not() -> None:
    plain, redacted = OrderDataLog(redact=False), OrderDataLog(redact=True)
    assert plain.symbol("AAPL") == "AAPL"
    assert plain.amount(Decimal("1.50")) == "1.50"
    assert redacted.symbol("AAPL") == redacted.amount(Decimal("1")) == "redacted"
    assert redacted.text("no price for AAPL") == "redacted"
    assert redacted.amount(None) == "-"
    assert redacted.path("/api/v3/order?symbol=BTCUSDT&quantity=1&signature=ab") == "/api/v3/order"
    assert redacted.path("/v2/positions/AAPL") == "/v2/positions/{symbol}"
    assert redacted.path("/orders/cid-1/cancel") == "/orders/cid-1/cancel"
    assert plain.path("/orders?symbol=AAPL") == "/orders?symbol=AAPL"


def test_access_log_lines_lose_the_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "GET", "/orders?symbol=AAPL", "1.1", 200),
        None,
    )
    assert AccessLogRedaction(OrderDataLog(redact=True)).filter(record)
    assert record.getMessage() == '127.0.0.1:5 - "GET /orders HTTP/1.1" 200'


async def trade(venue: VenueProcess) -> list[str]:
    """Orders of every outcome on ``venue``; their client order ids."""
    account = new_id("acct")
    async with PaperVenueAdmin(venue.base_url) as admin:
        await admin.fund_account(account, Decimal("100000000"))
        await admin.set_prices({SYMBOL: Decimal(PRICE)})
        async with PaperVenueAdapter(venue.base_url, account=account, timeout=5.0) as adapter:
            filled = await adapter.place_order(order(account, SYMBOL, quantity=QUANTITY))
            resting = await adapter.place_order(
                order(
                    account,
                    SYMBOL,
                    quantity=QUANTITY,
                    order_type=OrderType.LIMIT,
                    limit_price=LIMIT,
                )
            )
            canceled = await adapter.place_order(
                order(
                    account, SYMBOL, quantity=QUANTITY, order_type=OrderType.LIMIT, limit_price="1"
                )
            )
            await adapter.cancel_order(canceled.client_order_id)
            await admin.set_prices({SYMBOL: Decimal(LIMIT)})  # fills the resting limit
            rejected = order(account, UNPRICED, quantity=QUANTITY)
            with contextlib.suppress(VenueRejection):  # either way, it is rejected
                await adapter.place_order(rejected)
        await admin.orders(account, SYMBOL)  # GET /orders?symbol=...: in the access log
    return [
        filled.client_order_id,
        resting.client_order_id,
        canceled.client_order_id,
        rejected.client_order_id,
    ]


async def test_a_redacting_venue_logs_ids_and_statuses_only(tmp_path: Path) -> None:
    async with VenueProcess(
        tmp_path / "venue.db",
        extra_args=["--redact-order-data", "--access-log", "--log-level", "DEBUG"],
        env={ENV_REDACT: "false"},  # the flag wins over the environment
    ) as venue:
        ids = await trade(venue)
        text = venue.log_text()
    print(text)
    assert leaked(text) == []
    for client_order_id in ids:
        assert client_order_id in text
    assert "order placed" in text and "symbol=redacted" in text
    assert "GET /orders HTTP/1.1" in text


async def test_without_redaction_the_same_trades_show_in_the_log(tmp_path: Path) -> None:
    async with VenueProcess(
        tmp_path / "venue.db", extra_args=["--access-log"], env={ENV_REDACT: "false"}
    ) as venue:
        await trade(venue)
        text = venue.log_text()
    assert {SYMBOL, UNPRICED, QUANTITY, LIMIT} <= set(leaked(text))  # the check sees a leak
