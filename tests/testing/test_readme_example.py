from decimal import Decimal

from execbatch.core.enums import BatchExecutionMode, BatchStatus, LegStatus, OrderSide, OrderType
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.testing import BatchTestKit

PAIR_TRADE = DirectiveDocument(
    directive=StrategyDirective(
        directive_id="pair-aapl-msft",
        strategy_id="pairs",
        target_plan_ids=("long-aapl", "short-msft"),
        execution_policy=ExecutionPolicy(mode=BatchExecutionMode.COORDINATED),
    ),
    commands=(
        ExecutionCommand(
            command_id="c1",
            plan_id="long-aapl",
            symbol="AAPL",
            side=OrderSide.BUY,
            order_type=OrderType.MARKET,
            quantity=Decimal("100"),
        ),
        ExecutionCommand(
            command_id="c2",
            plan_id="short-msft",
            symbol="MSFT",
            side=OrderSide.SELL,
            order_type=OrderType.MARKET,
            quantity=Decimal("46"),
        ),
    ),
)


async def test_pair_trade_with_a_rejected_leg_is_compensated(batch_kit: BatchTestKit) -> None:
    document = batch_kit.unique(PAIR_TRADE)  # a fresh directive id for this test
    await batch_kit.script.reject(document=document, leg=2, error="INSUFFICIENT_FUNDS")

    result = await batch_kit.run(document)

    assert result.status is BatchStatus.COMPENSATED
    assert [leg.status for leg in result.legs] == [LegStatus.COMPENSATED, LegStatus.REJECTED]
    assert result.legs[0].compensated_quantity == Decimal("100")
    assert await batch_kit.net("AAPL") == 0  # bought 100, sold 100 back
    assert await batch_kit.net("MSFT") == 0  # never filled
