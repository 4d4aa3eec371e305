"""A worker reuses a symbol's instrument rules for a while (``InstrumentRulesReads``).

The rules request is the one venue round trip before a batch's first order; the
reads below go to a scripted venue that counts them.
"""

from __future__ import annotations

import asyncio

import pytest

from execbatch.activities.order_activities import InstrumentRulesReads
from execbatch.venue.port.adapter import VenueUnavailable
from tests.workflows.scripted_venue import ScriptedVenue


async def test_only_symbols_not_read_within_the_window_are_asked() -> None:
    venue = ScriptedVenue()
    reads = InstrumentRulesReads(venue, reuse_seconds=30)
    assert set(await reads.rules(["AAPL", "MSFT"])) == {"AAPL", "MSFT"}
    assert set(await reads.rules(["AAPL", "MSFT", "TSLA"])) == {"AAPL", "MSFT", "TSLA"}
    assert set(await reads.rules(["TSLA"])) == {"TSLA"}
    assert venue.rule_requests == [("AAPL", "MSFT"), ("TSLA",)]


async def test_a_read_older_than_the_window_is_asked_again() -> None:
    venue = ScriptedVenue()
    reads = InstrumentRulesReads(venue, reuse_seconds=0.05)
    await reads.rules(["AAPL"])
    await asyncio.sleep(0.1)
    await reads.rules(["AAPL"])
    assert venue.rule_requests == [("AAPL",), ("AAPL",)]


async def test_no_reuse_asks_every_time_and_a_failed_read_keeps_nothing() -> None:
    venue = ScriptedVenue()
    every_time = InstrumentRulesReads(venue, reuse_seconds=0)
    await every_time.rules(["AAPL"])
    await every_time.rules(["AAPL"])
    assert venue.rule_calls == 2

    down = ScriptedVenue(failing_rule_calls=1)
    reads = InstrumentRulesReads(down, reuse_seconds=30)
    with pytest.raises(VenueUnavailable):
        await reads.rules(["AAPL"])
    await reads.rules(["AAPL"])
    await reads.rules(["AAPL"])
    assert down.rule_calls == 2  # the failure, then one read reused
