"""A batch of 1000 legs works in every mode (and a 1000-leg saga compensates)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, OrderSide, OrderType
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from tests.workflows.scripted_venue import ScriptedVenue

LEGS = 1000


def big_batch(mode: BatchExecutionMode, name: str) -> DirectiveDocument:
    plans = tuple(f"p{i}" for i in range(LEGS))
    commands = tuple(
        ExecutionCommand(
            command_id=f"c{i}",
            plan_id=plans[i],
            symbol="LAST" if i == LEGS - 1 else f"S{i % 50}",
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=Decimal("1"),
        )
        for i in range(LEGS)
    )
    directive = StrategyDirective(
        directive_id=f"big-{name}",
        strategy_id="bulk",
        target_plan_ids=plans,
        execution_policy=ExecutionPolicy(mode=mode),
    )
    return DirectiveDocument(directive=directive, commands=commands)


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(BatchExecutionMode))
async def test_a_thousand_legs_complete(harness: object, mode: BatchExecutionMode) -> None:
    async with harness() as h:  # type: ignore[operator]
        result = await h.run(big_batch(mode, mode.value.lower()))
    assert result.status is BatchStatus.COMPLETED
    assert len(result.legs) == LEGS
    assert all(leg.status is LegStatus.FILLED for leg in result.legs)


@pytest.mark.slow
async def test_a_thousand_leg_saga_compensates_every_fill(harness: object) -> None:
    venue = ScriptedVenue().script("LAST", reject="INSUFFICIENT_FUNDS")
    async with harness(venue) as h:  # type: ignore[operator]
        result = await h.run(big_batch(BatchExecutionMode.COORDINATED, "saga"))
    assert result.status is BatchStatus.COMPENSATED
    assert result.legs[-1].status is LegStatus.REJECTED
    filled = [leg for leg in result.legs if leg.filled_quantity > 0]
    assert all(leg.status is LegStatus.COMPENSATED for leg in filled)
    nets = [await venue.net(f"S{i}") for i in range(50)]
    assert nets == [0] * 50
