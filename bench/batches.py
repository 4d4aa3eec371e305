"""The load: batches of MARKET legs, the same for every system under test.

Legs alternate BUY and SELL of 1 share over a few symbols, so an account's
cash and positions stay bounded however long the run. Ids are unique per run
(``tag``) so a batch id never repeats across cells or systems.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.core.enums import BatchExecutionMode, OrderSide, OrderType
from execbatch.dtos.execution import ExecutionCommand, ExecutionCommandBatch

SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "SPY", "QQQ", "TSLA")
ACCOUNT = "bench"
ACCOUNT_CASH = "1000000000000"


@dataclass(frozen=True)
class BatchSpec:
    """What one cell submits: a mode and a number of legs."""

    mode: BatchExecutionMode
    legs: int

    @property
    def label(self) -> str:
        return f"{self.mode.value[:5]}x{self.legs}"


class BatchFactory:
    """Makes uniquely named batches for one run."""

    def __init__(self, tag: str) -> None:
        self._tag = tag
        self._counter = itertools.count()

    def next_id(self, prefix: str) -> str:
        return f"{prefix}-{self._tag}-{next(self._counter)}"

    def batch(self, spec: BatchSpec, prefix: str) -> ExecutionCommandBatch:
        batch_id = self.next_id(prefix)
        commands = tuple(
            ExecutionCommand(
                command_id=f"c{i}",
                plan_id=f"p{i}",
                symbol=SYMBOLS[i % len(SYMBOLS)],
                side=OrderSide.BUY if i % 2 == 0 else OrderSide.SELL,
                order_type=OrderType.MARKET,
                quantity=Decimal(1),
            )
            for i in range(spec.legs)
        )
        return ExecutionCommandBatch(
            batch_id=batch_id,
            commands=commands,
            created_at=datetime.now(UTC),
            mode=spec.mode,
        )
