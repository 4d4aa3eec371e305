"""A leg that breaks the venue's instrument rules is refused before anything is placed,
naming the leg, the rule and the venue's value; nothing is ever rounded."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus
from execbatch.dtos.execution import ExecutionSettings
from execbatch.risk.limits import AccountLimits, RiskLimits
from execbatch.venue.port.capabilities import InstrumentRules
from tests.workflows.conftest import load_example, with_policy
from tests.workflows.scripted_venue import ScriptedVenue

Harness = Any


def lot_of_1000() -> ScriptedVenue:
    """MSFT trades in lots of 1000 here: the pair trade's 46 breaks it."""
    return ScriptedVenue(
        rules={"MSFT": InstrumentRules(symbol="MSFT", quantity_step=Decimal(1000))}
    )


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        (BatchExecutionMode.COORDINATED, BatchStatus.COMPENSATED),
        (BatchExecutionMode.SEQUENTIAL, BatchStatus.STOPPED),
    ],
)
async def test_a_breach_refuses_the_whole_batch_before_anything_is_placed(
    harness: Harness, mode: BatchExecutionMode, status: BatchStatus
) -> None:
    venue = lot_of_1000()
    async with harness(venue=venue) as h:
        result = await h.run(with_policy(load_example("pair_trade"), mode, None))

    assert venue.place_calls == []  # nothing reached the venue
    assert result.status is status
    assert [leg.status for leg in result.legs] == [LegStatus.SKIPPED, LegStatus.REJECTED]
    error = result.legs[1].error or ""
    assert error.startswith("INVALID_ORDER: refused before placing")
    assert "quantity 46 is not a multiple of the lot size 1000" in error
    assert "leg c2" in (result.reason or "") and "lot size 1000" in (result.reason or "")


async def test_independent_refuses_only_the_breaching_leg(harness: Harness) -> None:
    venue = lot_of_1000()
    async with harness(venue=venue) as h:
        document = with_policy(load_example("pair_trade"), BatchExecutionMode.INDEPENDENT, None)
        result = await h.run(document)

    assert [leg.status for leg in result.legs] == [LegStatus.FILLED, LegStatus.REJECTED]
    assert result.status is BatchStatus.PARTIALLY_COMPLETED
    assert [cid.rsplit(":", 2)[1] for cid in venue.place_calls] == ["c1"]


async def test_whole_units_only_and_untradable_symbols(harness: Harness) -> None:
    venue = ScriptedVenue(
        rules={
            "AAPL": InstrumentRules(symbol="AAPL", fractional=False),
            "MSFT": InstrumentRules(symbol="MSFT", tradable=False),
        }
    )
    document = with_policy(load_example("pair_trade"), BatchExecutionMode.INDEPENDENT, None)
    commands = (
        document.commands[0].model_copy(update={"quantity": Decimal("100.5")}),
        document.commands[1],
    )
    async with harness(venue=venue) as h:
        result = await h.run(document.model_copy(update={"commands": commands}))

    assert venue.place_calls == []
    assert "quantity 100.5: scripted trades AAPL in whole units only" in (
        result.legs[0].error or ""
    )
    assert "MSFT is not tradable at scripted" in (result.legs[1].error or "")
    assert result.status is BatchStatus.FAILED


QUICK_RETRIES = ExecutionSettings(placement_attempts=2)


async def test_rules_unavailable_past_the_retries_the_batch_still_runs_risk_checked(
    harness: Harness,
) -> None:
    """The pre-trade call fails past its retries on the rules: the risk inputs are asked
    alone, the rules count as not checked, and the venue validates at placement."""
    venue = ScriptedVenue(rules_unavailable=True)
    async with harness(venue=venue, settings=QUICK_RETRIES) as h:
        result = await h.run(
            with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
        )

    assert result.status is BatchStatus.COMPLETED, result.reason
    assert venue.rule_calls == QUICK_RETRIES.placement_attempts  # each attempt asked
    assert len(venue.place_calls) == 2


async def test_risk_inputs_unavailable_refuse_the_batch_even_with_the_rules_answered(
    harness: Harness,
) -> None:
    """Fail closed: a position limit cannot be checked without the positions."""
    venue = ScriptedVenue(positions_unavailable=True)
    risk = RiskLimits(default=AccountLimits(max_position=Decimal(1_000_000)))
    async with harness(venue=venue, settings=QUICK_RETRIES, limits=risk) as h:
        result = await h.run(
            with_policy(load_example("pair_trade"), BatchExecutionMode.COORDINATED, None)
        )

    assert venue.place_calls == []
    assert result.status is BatchStatus.REJECTED_BY_RISK
    assert "risk inputs unavailable" in (result.reason or ""), result.reason
    # the one-call attempts, then the risk inputs asked alone
    assert venue.position_calls == 2 * QUICK_RETRIES.placement_attempts


@pytest.mark.parametrize(
    ("mode", "status"),
    [
        (BatchExecutionMode.COORDINATED, BatchStatus.COMPENSATED),
        (BatchExecutionMode.SEQUENTIAL, BatchStatus.STOPPED),
        (BatchExecutionMode.INDEPENDENT, BatchStatus.FAILED),
    ],
)
async def test_a_batch_for_an_account_the_keys_do_not_trade_places_nothing(
    harness: Harness, mode: BatchExecutionMode, status: BatchStatus
) -> None:
    venue = ScriptedVenue(trades_account="desk1")
    async with harness(venue=venue) as h:
        result = await h.run(with_policy(load_example("pair_trade"), mode, None))

    assert venue.place_calls == [] and venue.rule_calls == 0  # not even the rules were asked
    assert result.status is status
    assert [leg.status for leg in result.legs] == [LegStatus.REJECTED, LegStatus.REJECTED]
    line = "refused before placing: the batch names account 'default'; these keys trade 'desk1'"
    assert {leg.error for leg in result.legs} == {f"INVALID_ORDER: {line}"}
    if mode is not BatchExecutionMode.INDEPENDENT:
        assert result.reason == f"legs c1, c2 {line}"  # the account named once, not per leg


async def test_a_batch_for_the_account_the_keys_trade_runs(harness: Harness) -> None:
    venue = ScriptedVenue(trades_account="desk1")
    async with harness(venue=venue, settings=ExecutionSettings(account="desk1")) as h:
        result = await h.run(load_example("pair_trade"))

    assert result.status is BatchStatus.COMPLETED and len(venue.place_calls) == 2


async def test_the_account_refusal_comes_first_where_position_limits_read_the_account(
    harness: Harness,
) -> None:
    # A position limit reads the account's positions, which keys of one account refuse
    # for another (a final refusal, not retried): the pre-trade read fails and the risk
    # check fails closed, quoting the account line; nothing is placed.
    venue = ScriptedVenue(trades_account="desk1")
    limits = RiskLimits(default=AccountLimits(max_position=Decimal(1000)))
    async with harness(venue=venue, limits=limits) as h:
        result = await h.run(load_example("pair_trade"))

    assert venue.place_calls == []
    assert [leg.status for leg in result.legs] == [LegStatus.REJECTED, LegStatus.REJECTED]
    line = "INVALID_ORDER: the batch names account 'default'; these keys trade 'desk1'"
    assert all((leg.error or "").endswith(line) for leg in result.legs)
