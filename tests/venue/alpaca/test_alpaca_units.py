"""The Alpaca pieces that need no venue: error classification, Retry-After,
exact decimals, the dialect's ids and rate windows, the factory."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime

import pytest

from execbatch.security.keys import KeyConfigError
from execbatch.venue.adapters.alpaca import (
    ALPACA_CAPABILITIES,
    AlpacaAdapter,
    classify_refusal,
    exact_decimal,
    retry_after_seconds,
)
from execbatch.venue.adapters.factory import ENV_VENUE, create_adapter
from execbatch.venue.adapters.paper import PAPER_CAPABILITIES, PaperVenueAdapter
from execbatch.venue.paper.service.dialects.alpaca import (
    RateLimiter,
    order_uuid,
    venue_order_id_of,
)
from execbatch.venue.port.capabilities import ClientIdScope

KEYS = {"APCA_API_KEY_ID": "PKTESTKEYID", "APCA_API_SECRET_KEY": "very-secret-value"}


def test_capabilities_say_what_alpaca_guarantees() -> None:
    caps = ALPACA_CAPABILITIES
    assert caps.client_id_scope is ClientIdScope.FOREVER
    assert (caps.cancel_fences_unknown_id, PAPER_CAPABILITIES.cancel_fences_unknown_id) == (
        False,
        True,
    )
    assert (caps.lookup_by_client_id, caps.status_unknown_answers) == (True, True)
    assert caps.max_client_order_id_length == 128
    assert re.fullmatch(caps.client_order_id_pattern, "b-1:cmd.2:revert-3")
    assert not re.fullmatch(caps.client_order_id_pattern, "x" * 129)


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (403, 40310000, "insufficient buying power", "INSUFFICIENT_FUNDS"),
        (403, 40310000, "insufficient qty available for order", "INSUFFICIENT_FUNDS"),
        (422, 42210000, 'asset "ZZZZ" not found', "UNKNOWN_SYMBOL"),
        (422, 42210000, 'asset "RGC" is not tradable', "UNKNOWN_SYMBOL"),
        (422, 40010001, "could not find us_equity 'b0b6dd9d'", "UNKNOWN_SYMBOL"),
        (403, 40310000, 'asset "OCGN" is not fractionable', "INVALID_ORDER"),
        (422, 42210000, "fractional orders must be DAY orders", "INVALID_ORDER"),
        (422, 40010001, "qty must be > 0", "INVALID_ORDER"),
        (403, 40310100, "trade denied due to pattern day trading protection", "INVALID_ORDER"),
        (403, 40310000, "market is closed", "INVALID_ORDER"),
        (403, None, "forbidden.", None),
        (403, 40110000, "request is not authorized", None),
    ],
)
def test_refusals_are_classified(
    status: int, code: int | None, message: str, expected: str | None
) -> None:
    rejection = classify_refusal(status, code, message)
    assert (rejection.error if rejection else None) == expected
    if rejection is not None:
        assert rejection.message == message


def test_retry_after_from_either_header() -> None:
    now = 1_700_000_000.0
    assert retry_after_seconds({"Retry-After": "7"}, now) == 7.0
    later = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert retry_after_seconds({"retry-after": later}, now) == pytest.approx(30.0)
    assert retry_after_seconds({"X-Ratelimit-Reset": str(int(now) + 12)}, now) == 12.0
    assert retry_after_seconds({"X-Ratelimit-Reset": str(int(now) - 5)}, now) == 0.0
    assert retry_after_seconds({}, now) is None
    assert retry_after_seconds({"Retry-After": "soon"}, now) is None


def test_amounts_are_read_exactly() -> None:
    assert exact_decimal("0.000000001") == Decimal("0.000000001")
    assert exact_decimal(" 190.10 ") == Decimal("190.10")
    assert exact_decimal(0.1) == Decimal("0.1")  # its shortest text, not its binary expansion
    assert exact_decimal(3) == Decimal(3)
    assert exact_decimal(None) is None
    for bad in ("abc", "NaN", True):
        with pytest.raises(RuntimeError):
            exact_decimal(bad)


def test_dialect_order_ids_round_trip() -> None:
    text = order_uuid("V0000000042")
    assert text.endswith("00000000002a") and venue_order_id_of(text) == "V0000000042"
    assert venue_order_id_of(text.upper()) == "V0000000042"
    assert venue_order_id_of("123e4567-e89b-12d3-a456-426614174000") is None
    with pytest.raises(ValueError):
        venue_order_id_of("not-a-uuid")


def test_rate_windows_are_per_key_and_reset_after_a_minute() -> None:
    limiter = RateLimiter(default=2)
    assert [limiter.hit("a", 100.0).allowed for _ in range(3)] == [True, True, False]
    assert limiter.hit("b", 100.0).remaining == 1
    refused = limiter.hit("a", 159.0)
    assert (refused.allowed, refused.reset_epoch, refused.headers()["X-Ratelimit-Remaining"]) == (
        False,
        160,
        "0",
    )
    assert limiter.hit("a", 160.0).allowed
    limiter.configure("a", None)
    assert all(limiter.hit("a", 161.0).allowed for _ in range(10))


async def test_factory_selects_by_venue_name() -> None:
    paper = create_adapter("paper", account="acct", paper_url="http://127.0.0.1:1")
    assert isinstance(paper, PaperVenueAdapter)
    await paper.aclose()
    adapter = create_adapter("alpaca", account="acct", paper_url="unused", environ=KEYS)
    assert isinstance(adapter, AlpacaAdapter)
    assert adapter.base_url == "https://paper-api.alpaca.markets"
    assert adapter.account == "acct" and adapter.capabilities is ALPACA_CAPABILITIES
    assert "very-secret-value" not in repr(adapter) and "PKTESTKEYID" not in repr(adapter)
    await adapter.aclose()
    with pytest.raises(ValueError, match=f"{ENV_VENUE}='binance' names no venue; valid values"):
        create_adapter("binance", account="acct", paper_url="unused")


async def test_alpaca_configuration_errors_name_variables_not_values() -> None:
    with pytest.raises(KeyConfigError, match="APCA_API_SECRET_KEY") as missing:
        create_adapter(
            "alpaca",
            account="acct",
            paper_url="unused",
            environ={"APCA_API_KEY_ID": "PKTESTKEYID"},
        )
    assert "PKTESTKEYID" not in str(missing.value)
    live = {**KEYS, "EXECBATCH_ALPACA_URL": "https://api.alpaca.markets"}
    with pytest.raises(KeyConfigError, match="EXECBATCH_ALPACA_ALLOW_LIVE"):
        create_adapter("alpaca", account="acct", paper_url="unused", environ=live)
    allowed = create_adapter(
        "alpaca",
        account="acct",
        paper_url="unused",
        environ={**live, "EXECBATCH_ALPACA_ALLOW_LIVE": "1", "EXECBATCH_ALPACA_TIMEOUT": "3"},
    )
    assert isinstance(allowed, AlpacaAdapter)
    assert (allowed.base_url, allowed.timeout) == ("https://api.alpaca.markets", 3.0)
    await allowed.aclose()
    with pytest.raises(KeyConfigError, match="EXECBATCH_ALPACA_TIMEOUT"):
        AlpacaAdapter.from_env(environ={**KEYS, "EXECBATCH_ALPACA_TIMEOUT": "soon"})
