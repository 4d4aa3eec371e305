"""``execbatch dev --venue``: one venue vocabulary, a banner that tells the truth, and
nothing started for a venue the stack cannot trade."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execbatch.cli.demo import EXAMPLES_DIR, SCENARIOS, demo_venue, elsewhere, example_venue
from execbatch.devstack.venues import VENUE_NAMES, canonical_venue
from execbatch.supervision import free_port
from tests.cli.conftest import clean_env, execbatch


def test_one_vocabulary_with_binance_as_another_name() -> None:
    assert VENUE_NAMES == ("paper", "alpaca", "ccxt:binance")
    assert [canonical_venue(n) for n in ("paper", "alpaca", "ccxt:binance", "binance")] == [
        "paper",
        "alpaca",
        "ccxt:binance",
        "ccxt:binance",
    ]
    with pytest.raises(ValueError, match=r"--venue 'nasdaq': one of paper, alpaca, ccxt:binance"):
        canonical_venue("nasdaq")
    assert demo_venue("binance").name == demo_venue("ccxt:binance").name == "ccxt:binance"


def test_every_example_runs_in_the_demo_of_the_venue_its_symbols_are_written_for() -> None:
    examples = sorted(p.stem for p in EXAMPLES_DIR.glob("*.json"))
    assert "crypto_pair" in examples
    for example in examples:
        venue = demo_venue(example_venue(example))
        assert example in {s.example for s in venue.scenarios}, example
    # Binance's symbols never go to the paper venue, where they are UNKNOWN_SYMBOL...
    symbols = json.loads((EXAMPLES_DIR / "crypto_pair.json").read_text())["commands"]
    assert {c["symbol"] for c in symbols} == {"ETH/USDT", "BTC/USDT"}
    assert "crypto_pair" not in {s.example for s in SCENARIOS}
    # ... and the paper demo says which demo runs them.
    assert (
        "examples/crypto_pair.json trades ccxt:binance's symbols:"
        " `execbatch demo --venue ccxt:binance` runs it"
    ) in elsewhere(demo_venue("paper"))


def _dev(tmp_path: Path, *args: str, **env: str) -> list[str]:
    return [
        "dev",
        "--state-dir",
        str(tmp_path / "state"),
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        "--venue-port",
        str(free_port()),
        *args,
    ]


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ("--venue", "alpaca"),
            {},
            "EXECBATCH_VENUE=alpaca needs APCA_API_KEY_ID and APCA_API_SECRET_KEY",
        ),
        (
            ("--venue", "ccxt:binance"),
            {"EXECBATCH_CCXT_API_KEY": "k", "EXECBATCH_CCXT_SECRET": "s"},
            "production API (real money): set EXECBATCH_VENUE_SANDBOX=1 for its testnet,"
            " or EXECBATCH_CCXT_ALLOW_LIVE=1",
        ),
        (
            (),
            {
                "EXECBATCH_VENUE": "alpaca",
                "APCA_API_KEY_ID": "PKTEST",
                "APCA_API_SECRET_KEY": "s",
                "EXECBATCH_ALPACA_URL": "https://api.alpaca.markets",
            },
            "Alpaca's live endpoint (real money); set EXECBATCH_ALPACA_ALLOW_LIVE=1",
        ),
        (("--venue", "nasdaq"), {}, "--venue 'nasdaq': one of paper, alpaca, ccxt:binance"),
    ],
)
def test_a_venue_the_stack_cannot_trade_starts_nothing(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    run = execbatch(*_dev(tmp_path, *args), env=clean_env(**env))

    assert run.code == 2, run.stdout + run.stderr
    assert message in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "state").exists()  # not even the lock


REMOTE = {
    "alpaca": (
        {"APCA_API_KEY_ID": "PKTESTKEYID", "APCA_API_SECRET_KEY": "secret-must-not-show"},
        (
            "venue:    alpaca, paper (Alpaca's paper trading)",
            "endpoint: https://paper-api.alpaca.markets/v2",
            "export EXECBATCH_VENUE=alpaca",
            "export APCA_API_KEY_ID=PKTESTKEYID",
            "# and APCA_API_SECRET_KEY as in this shell (not shown)",
        ),
    ),
    "ccxt:binance": (
        {
            "EXECBATCH_CCXT_API_KEY": "testnetKey01",
            "EXECBATCH_CCXT_SECRET": "secret-must-not-show",
            "EXECBATCH_VENUE_SANDBOX": "1",
        },
        (
            "venue:    ccxt:binance, testnet (Binance's spot testnet)",
            "endpoint: https://testnet.binance.vision/api/v3",
            "export EXECBATCH_VENUE=ccxt:binance",
            "export EXECBATCH_CCXT_API_KEY=testnetKey01",
            "export EXECBATCH_VENUE_SANDBOX=1",
            "# and EXECBATCH_CCXT_SECRET as in this shell (not shown)",
        ),
    ),
}


@pytest.mark.devserver
@pytest.mark.parametrize("venue", sorted(REMOTE))
def test_a_venues_endpoint_runs_no_paper_venue_and_prints_no_secret(
    venue: str, tmp_path: Path
) -> None:
    # Keys for the venue's paper endpoint or testnet: the worker starts (it calls the
    # venue only for a batch, so nothing reaches the venue here) and the banner says
    # what it trades.
    from tests.cli.test_going_live import Stack

    env, lines = REMOTE[venue]
    stack = Stack(f"execbatch dev --venue {venue} --account desk1", tmp_path, local=False, env=env)
    try:
        banner = stack.banner()
    finally:
        code, stderr = stack.stop()
    assert code == 0, stderr
    services = [line.split("│")[1].strip() for line in banner.splitlines() if "│" in line]
    assert services == ["temporal", "worker-1"]  # no paper venue: it is not traded
    account = ("account:  desk1 (batches trade it)", "export EXECBATCH_VENUE_ACCOUNT=desk1")
    for line in (*lines, *account):
        assert line in banner, banner
    assert "secret-must-not-show" not in banner + stderr
    assert "EXECBATCH_VENUE_URL" not in banner
