"""`execbatch venue-check`: the configured venue, checked before trading for real.

Run against the paper venue process speaking Alpaca's and Binance's dialects,
through the real SDKs (alpaca-py, ccxt), as a user with keys would run it
against the venue's own paper endpoint or testnet.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from execbatch.devstack import DevStack
from execbatch.venue.paper.service import VenueProcess
from tests.cli.conftest import UNREACHABLE, clean_env, execbatch

ACCOUNT = "desk1"


@pytest.fixture(scope="module")
def venue(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    process = VenueProcess(tmp_path_factory.mktemp("venue") / "venue.db")
    process.start()
    admin = httpx.Client(base_url=process.base_url)
    admin.put(f"/admin/accounts/{ACCOUNT}", json={"cash": "100000"}).raise_for_status()
    admin.put(
        "/admin/binance/keys/checkkey1", json={"secret": "checksecret", "account": ACCOUNT}
    ).raise_for_status()
    try:
        yield process.base_url
    finally:
        admin.close()
        process.close()


def document(tmp_path: Path, legs: list[tuple[str, str]]) -> Path:
    commands = [
        {
            "command_id": f"c{i}",
            "plan_id": f"p{i}",
            "symbol": symbol,
            "side": "BUY",
            "order_type": "MARKET",
            "quantity": quantity,
        }
        for i, (symbol, quantity) in enumerate(legs, start=1)
    ]
    doc = {
        "directive": {
            "directive_id": "check-1",
            "strategy_id": "s",
            "target_plan_ids": [c["plan_id"] for c in commands],
        },
        "commands": commands,
    }
    path = tmp_path / "doc.json"
    path.write_text(json.dumps(doc))
    return path


def alpaca(url: str, secret: str = "anything") -> dict[str, str]:
    return clean_env(
        TEMPORAL_ADDRESS=UNREACHABLE,  # no workers to compare with
        EXECBATCH_VENUE="alpaca",
        APCA_API_KEY_ID=ACCOUNT,
        APCA_API_SECRET_KEY=secret,
        EXECBATCH_VENUE_ACCOUNT=ACCOUNT,
        EXECBATCH_ALPACA_URL=url,
    )


def test_every_check_passes_for_legs_that_fit(venue: str, tmp_path: Path) -> None:
    run = execbatch("venue-check", str(document(tmp_path, [("AAPL", "10")])), env=alpaca(venue))
    assert run.code == 0, run.stdout + run.stderr
    for check in (
        "connectivity and credentials",
        "account",
        "buying power",
        "clock skew",
        "leg c1",
    ):
        assert f"ok   {check}:" in run.stdout
    assert f"ok   the workers' venue: Temporal at {UNREACHABLE} did not answer: not compared" in (
        run.stdout
    )


@pytest.mark.devserver
def test_a_venue_other_than_the_workers_fails_the_check(venue: str, dev_stack: DevStack) -> None:
    # The stack's workers trade the paper venue; this shell is set up for Alpaca.
    env = {**alpaca(venue), "TEMPORAL_ADDRESS": dev_stack.temporal_address}
    run = execbatch("venue-check", env=env)
    assert run.code == 1, run.stdout + run.stderr
    assert "ok   connectivity and credentials: alpaca answered" in run.stdout
    assert (
        f"FAIL the workers' venue: the workers on task queue execbatch at"
        f" {dev_stack.temporal_address} trade paper but this shell reads EXECBATCH_VENUE=alpaca"
    ) in run.stdout


def test_a_leg_the_venue_does_not_trade_fails_the_check(venue: str, tmp_path: Path) -> None:
    path = document(tmp_path, [("AAPL", "10"), ("NOPE", "1")])
    run = execbatch("venue-check", str(path), env=alpaca(venue))
    assert run.code == 1
    assert "FAIL leg c2: BUY 1 NOPE: NOPE is not an instrument alpaca knows" in run.stdout


def test_binance_lot_size_and_credentials(venue: str, tmp_path: Path) -> None:
    env = clean_env(
        TEMPORAL_ADDRESS=UNREACHABLE,
        EXECBATCH_VENUE="ccxt:binance",
        EXECBATCH_CCXT_API_KEY="checkkey1",
        EXECBATCH_CCXT_SECRET="checksecret",
        EXECBATCH_VENUE_ACCOUNT=ACCOUNT,
        EXECBATCH_CCXT_API_URL=venue,
    )
    ok = execbatch("venue-check", env=env)
    assert ok.code == 0, ok.stdout + ok.stderr
    wrong = execbatch("venue-check", env={**env, "EXECBATCH_CCXT_SECRET": "wrongsecret"})
    assert wrong.code == 1
    assert "FAIL connectivity and credentials" in wrong.stdout
    assert "wrongsecret" not in wrong.stdout + wrong.stderr  # keys are never shown


def test_an_unknown_venue_is_one_line_exit_2() -> None:
    run = execbatch("venue-check", env=clean_env(EXECBATCH_VENUE="nasdaq"))
    assert run.code == 2
    assert "EXECBATCH_VENUE='nasdaq' names no venue" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
