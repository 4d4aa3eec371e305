"""``execbatch demo``: the README's main job, end to end on a fresh temporary stack."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import UNREACHABLE, clean_env, execbatch

pytestmark = [pytest.mark.devserver, pytest.mark.slow]


def test_demo_runs_every_scenario_as_expected(tmp_path: Path) -> None:
    # Nothing at the configured address: the demo starts (and stops) its own stack.
    run = execbatch(
        "demo",
        env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE, EXECBATCH_VENUE_URL="http://127.0.0.1:1"),
        cwd=tmp_path,
    )

    assert run.code == 0, run.stdout + run.stderr
    assert "on a temporary dev stack" in run.stdout
    rows = {line.split("│")[1].strip(): line for line in run.stdout.splitlines() if "│" in line}
    expected = {
        "flash crash close": ("INDEPENDENT", "COMPLETED", "3/3 filled"),
        "pair trade": ("COORDINATED", "COMPLETED", "2/2 filled"),
        "DCA entries": ("INDEPENDENT", "COMPLETED", "3/3 filled"),
        "rotation": ("SEQUENTIAL", "COMPLETED", "2/2 filled"),
        "pair trade, 2nd leg rejected": (
            "COORDINATED",
            "COMPENSATED",
            "c1 COMPENSATED, c2 REJECTED",
        ),
        "rotation, 2nd leg rejected": ("SEQUENTIAL", "STOPPED", "c1 FILLED, c2 REJECTED"),
    }
    for scenario, fragments in expected.items():
        assert scenario in rows, run.stdout
        for fragment in fragments:
            assert fragment in rows[scenario]
    # Each scenario trades in its own account: the compensated pair trade is flat.
    assert "AAPL 0 (0), MSFT 0 (0)" in rows["pair trade, 2nd leg rejected"]
    assert "QQQ 0 (0), SPY -20 (-20)" in rows["rotation, 2nd leg rejected"]
    assert rows[scenario].count("ok") >= 1


def _rows(stdout: str) -> dict[str, str]:
    return {line.split("│")[1].strip(): line for line in stdout.splitlines() if "│" in line}


def test_demo_on_alpacas_dialect_through_alpaca_py(tmp_path: Path) -> None:
    run = execbatch("demo", "--venue", "alpaca", env=clean_env(), cwd=tmp_path, timeout=300)

    assert run.code == 0, run.stdout + run.stderr
    assert "alpaca-py against the paper venue's Alpaca dialect (/v2)" in run.stdout
    rows = _rows(run.stdout)
    expected = {
        "flash crash close": ("INDEPENDENT", "COMPLETED", "3/3 filled", "TSLA -30 (-30)"),
        "pair trade": ("COORDINATED", "COMPLETED", "2/2 filled", "MSFT -46 (-46)"),
        "DCA entries": ("INDEPENDENT", "COMPLETED", "3/3 filled", "BTC/USD 0.15 (+0.15)"),
        "rotation": ("SEQUENTIAL", "COMPLETED", "2/2 filled", "QQQ 23 (+23), SPY -20 (-20)"),
        "pair trade, 2nd leg rejected": (
            "COORDINATED",
            "COMPENSATED",
            "c1 COMPENSATED, c2 REJECTED",
            # One key trades one account: the positions are the account's, and the
            # compensated pair changed nothing.
            "AAPL 50 (0), MSFT -46 (0)",
        ),
        "rotation, 2nd leg rejected": (
            "SEQUENTIAL",
            "STOPPED",
            "c1 FILLED, c2 REJECTED",
            "QQQ 23 (0), SPY -40 (-20)",
        ),
    }
    for scenario, fragments in expected.items():
        assert scenario in rows, run.stdout
        for fragment in fragments:
            assert fragment in rows[scenario], rows[scenario]
        assert "ok" in rows[scenario]


def test_demo_on_binances_dialect_through_ccxt(tmp_path: Path) -> None:
    run = execbatch("demo", "--venue", "ccxt:binance", env=clean_env(), cwd=tmp_path, timeout=300)

    assert run.code == 0, run.stdout + run.stderr
    assert "ccxt against the paper venue's Binance spot dialect (/api/v3)" in run.stdout
    rows = _rows(run.stdout)
    expected = {
        "DCA entries": ("INDEPENDENT", "COMPLETED", "3/3 filled", "BTC/USDT 0.15 (+0.15)"),
        "crypto pair": (
            "COORDINATED",
            "COMPLETED",
            "2/2 filled",
            "BTC/USDT 0.1 (-0.05), ETH/USDT 0.5 (+0.5)",
        ),
        "crypto pair, 2nd leg rejected": (
            "COORDINATED",
            "COMPENSATED",
            "c1 COMPENSATED, c2 REJECTED",
            "BTC/USDT 0.1 (0), ETH/USDT 0.5 (0)",
        ),
    }
    assert set(rows) >= set(expected), run.stdout
    for scenario, fragments in expected.items():
        for fragment in fragments:
            assert fragment in rows[scenario], rows[scenario]
        assert "ok" in rows[scenario]
