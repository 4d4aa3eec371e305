"""A strategy submits a pair trade, waits for its outcome and prints it.

Run it beside `execbatch dev` (or with TEMPORAL_ADDRESS, EXECBATCH_TASK_QUEUE and
EXECBATCH_VENUE_ACCOUNT pointing at your deployment): python examples/strategy.py
"""

import sys
import uuid
from decimal import Decimal

from execbatch.client import (
    BatchClient,
    BatchExecutionMode,
    BatchStatus,
    ExecutionCommand,
    ExecutionPolicy,
    OrderSide,
    OrderType,
    StrategyDirective,
    TemporalUnreachable,
    run_and_exit,
)


async def main() -> int:
    try:
        batches = await BatchClient.connect()  # the environment the CLI reads
    except TemporalUnreachable as exc:
        print(exc, file=sys.stderr)
        return 1

    # One id per trading decision: submitting it again attaches to the same batch.
    directive = StrategyDirective(
        directive_id=f"pair-{uuid.uuid4().hex[:8]}",
        strategy_id="pairs",
        target_plan_ids=("long-aapl", "short-msft"),
        execution_policy=ExecutionPolicy(mode=BatchExecutionMode.COORDINATED, timeout_seconds=60),
    )
    commands = [
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
    ]

    submission = await batches.submit(directive, commands)
    batch_id = submission.batch.batch_id
    print(f"submitted {batch_id} for account {batches.account} on {batches.task_queue}")

    result = await batches.result(batch_id)  # waits for the end, however the run ended
    print(f"{batch_id}: {result.status.value}")
    for leg in result.legs:
        price = f" @ {leg.avg_fill_price}" if leg.avg_fill_price is not None else ""
        note = f" ({leg.error})" if leg.error else ""
        print(
            f"  {leg.command_id} {leg.side.value} {leg.quantity} {leg.symbol}: "
            f"{leg.status.value}, filled {leg.filled_quantity}{price}{note}"
        )
    if result.reason:
        print(f"  reason: {result.reason}")
    return 0 if result.status is BatchStatus.COMPLETED else 3


if __name__ == "__main__":
    run_and_exit(main())  # asyncio.run, then exit without the Temporal SDK's shutdown crash
