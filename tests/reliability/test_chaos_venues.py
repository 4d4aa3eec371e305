"""The chaos suite, short, on the real venues' dialects: the workers trade through
``AlpacaAdapter`` (alpaca-py) or ``CcxtAdapter`` (ccxt) against the paper venue's
``/v2`` or ``/api/v3`` behind the recording proxy, under worker kills, a worker
outage, a dev server crash, a venue restart, operator terminations and resets,
a trading halt and a REDUCING spell, and the full chaos's faults (1.5 times the
default rates) as on the native API (lost answers after the order
landed, hangs, timeouts). Every invariant must hold, as on the paper venue.

The long versions: ``python -m tests.reliability.chaos --venue alpaca|binance ...``
(docs/RELIABILITY.md, "The real venues' dialects").
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.reliability.chaos import ChaosConfig, run_chaos
from tests.reliability.chaos.checks import INVARIANTS
from tests.reliability.chaos.trading import PLACED_AFTER_HALT, REDUCED_PAST_FLAT, WAVE_BATCHES

pytestmark = [pytest.mark.slow, pytest.mark.devserver]

SHORT = ChaosConfig(
    batches=40,
    kills=4,
    server_restarts=1,
    venue_restarts=1,
    workers=2,
    concurrency=16,
    seed=11,
    fuzz_examples=0,
    settle_timeout=400.0,
    worker_outages=1,
    terminations=3,
    resets=2,
    halts=1,
    reduces=1,
    fault_scale=1.5,
)


@pytest.mark.parametrize("venue", ["alpaca", "binance"])
async def test_nothing_placed_twice_no_leg_exposed_no_batch_lost(venue: str) -> None:
    config = replace(SHORT, venue=venue)
    report = await run_chaos(config, command=f"tests/reliability short run --venue {venue}")
    print(report.table())
    print(report.attention_table())
    assert report.venue == venue
    assert report.trading_halts == config.halts and report.trading_reduces == config.reduces
    assert report.worker_kills >= config.kills
    assert report.server_restarts == config.server_restarts
    assert report.venue_restarts == config.venue_restarts
    assert report.worker_outages == config.worker_outages
    assert report.operator_terminations > 0
    # The faults reached the dialect's endpoints, the SDK adapter's requests were read
    # (transient answers seen and followed up), and the placements went through it.
    assert report.faults_injected["fail_after_place"] > 0
    assert report.faults_injected["error_503"] > 0
    assert report.transient_answers > 0
    assert report.venue_requests["place"] > 0 and report.venue_orders > 0
    failed = {
        name: report.count(name) for name in (*INVARIANTS, PLACED_AFTER_HALT) if report.count(name)
    }
    assert not failed, f"{failed}\n{report.violation_details()}"
    # and each flatten wave's batches (REDUCING): never past flat (what a wave sells
    # depends on the faults and kills around it: reported, not asserted)
    assert report.batches_run == config.batches + WAVE_BATCHES * len(report.flatten_sold)
    assert report.count(REDUCED_PAST_FLAT) == 0, report.violation_details()
    assert len(report.flatten_sold) == config.reduces
