"""What a chaos run submits and which faults the venue injects, all from one seed.

Batches mix the three modes with two or three legs. Some legs are rejected
on purpose (a ``reject`` fault rule keyed by the leg's placement client order
id), some are resting limit orders far from the market under a short batch
timeout (they end by the batch's own deadline), some are marketable limits or
IOC. The global fault rules inject transient faults at high rates on every
endpoint; rejections are business answers and must never be retried.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from execbatch.core.enums import BatchExecutionMode, OrderSide, OrderType, TimeInForce
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.planning.base_execution_planner import batch_id_for
from execbatch.venue.paper.service.config import DEFAULT_PRICES

SYMBOLS = ("AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "SPY", "QQQ", "TSLA")
START_PRICES = {symbol: DEFAULT_PRICES[symbol] for symbol in SYMBOLS}
"""The venue's own opening prices, which the price wiggler moves around."""
REJECT_ERRORS = ("INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER")


@dataclass(frozen=True)
class PlannedBatch:
    """One batch of the run and the faults aimed at it."""

    index: int
    document: DirectiveDocument
    rejected_command_ids: tuple[str, ...]
    resting: bool
    """Has a limit order that will most likely rest until the batch's deadline."""

    @property
    def batch_id(self) -> str:
        return batch_id_for(self.document.directive.directive_id)

    @property
    def mode(self) -> BatchExecutionMode:
        policy = self.document.directive.execution_policy
        return policy.mode if policy is not None else BatchExecutionMode.INDEPENDENT

    def reject_rules(self) -> list[dict[str, Any]]:
        """The venue fault rules that reject this batch's designated legs."""
        rng = random.Random(f"{self.batch_id}-reject")
        return [
            {
                "kind": "reject",
                "client_order_id_prefix": placement_order_id(self.batch_id, command_id),
                "error": rng.choice(REJECT_ERRORS),
                "message": f"chaos: leg {command_id} rejected on purpose",
            }
            for command_id in self.rejected_command_ids
        ]


@dataclass(frozen=True)
class ScenarioMix:
    """Shares of the batch population (each rolled independently per batch)."""

    reject_share: float = 0.15
    resting_share: float = 0.12
    limit_share: float = 0.15
    ioc_share: float = 0.05
    timeout_share: float = 0.4


def _quantity(rng: random.Random) -> Decimal:
    if rng.random() < 0.2:
        return Decimal(rng.randint(2, 80)) + Decimal("0.5")
    return Decimal(rng.randint(1, 100))


def _command(rng: random.Random, index: int, mix: ScenarioMix, resting: bool) -> ExecutionCommand:
    symbol = rng.choice(SYMBOLS)
    side = rng.choice((OrderSide.BUY, OrderSide.SELL))
    price = START_PRICES[symbol]
    fields: dict[str, Any] = {
        "command_id": f"c{index + 1}",
        "plan_id": f"p{index + 1}",
        "symbol": symbol,
        "side": side,
        "quantity": _quantity(rng),
        "order_type": OrderType.MARKET,
    }
    if resting:
        # 20% away from the market: rests until the batch's deadline cancels it.
        factor = Decimal("0.8") if side is OrderSide.BUY else Decimal("1.2")
        fields.update(
            order_type=OrderType.LIMIT, limit_price=(price * factor).quantize(Decimal("0.01"))
        )
    elif rng.random() < mix.limit_share:
        # Near the market: marketable or not depending on the price wiggle.
        offset = Decimal(rng.choice(("-0.004", "0.002", "0.01", "0.03")))
        factor = 1 + offset if side is OrderSide.BUY else 1 - offset
        fields.update(
            order_type=OrderType.LIMIT, limit_price=(price * factor).quantize(Decimal("0.01"))
        )
        if rng.random() < mix.ioc_share / max(mix.limit_share, 1e-9):
            fields["time_in_force"] = TimeInForce.IOC
    return ExecutionCommand(**fields)


def plan_batches(
    count: int, seed: int, run_id: str, mix: ScenarioMix | None = None
) -> list[PlannedBatch]:
    """``count`` batches, reproducible from ``seed``; directive ids carry ``run_id``."""
    mix = mix or ScenarioMix()
    rng = random.Random(seed)
    modes = list(BatchExecutionMode)
    planned: list[PlannedBatch] = []
    for index in range(count):
        mode = modes[index % len(modes)] if index < len(modes) else rng.choice(modes)
        legs = rng.choice((2, 2, 3))
        resting = rng.random() < mix.resting_share
        resting_leg = rng.randrange(legs) if resting else -1
        commands = tuple(_command(rng, i, mix, i == resting_leg) for i in range(legs))
        rejected: tuple[str, ...] = ()
        if rng.random() < mix.reject_share:
            rejected = (commands[rng.randrange(legs)].command_id,)
        if resting:
            # Long enough that the wind-down margin (25%, at least 10 s) outlasts a
            # worker being killed and restarted inside it: below that, a kill in
            # the margin lets the server's hard limit end the batch first.
            timeout: int | None = rng.randint(40, 60)
        elif rng.random() < mix.timeout_share:
            timeout = rng.randint(60, 180)
        else:
            timeout = None
        directive = StrategyDirective(
            directive_id=f"{run_id}-{index:04d}-{mode.value[:3].lower()}",
            strategy_id="chaos",
            target_plan_ids=tuple(c.plan_id for c in commands),
            execution_policy=ExecutionPolicy(mode=mode, timeout_seconds=timeout),
        )
        planned.append(
            PlannedBatch(
                index=index,
                document=DirectiveDocument(directive=directive, commands=commands),
                rejected_command_ids=rejected,
                resting=resting,
            )
        )
    return planned


@dataclass(frozen=True)
class FaultRates:
    """Probabilities of the global venue fault rules (per matching request)."""

    place_503: float = 0.12
    place_latency: float = 0.10
    place_slow: float = 0.02
    """A latency beyond the adapter's 5 s timeout: handled, but the answer arrives too late."""
    place_hang: float = 0.02
    place_fail_after: float = 0.08
    place_partial: float = 0.07
    cancel_503: float = 0.10
    cancel_fail_after: float = 0.08
    get_503: float = 0.08
    get_latency: float = 0.05

    def scaled(self, factor: float) -> FaultRates:
        return FaultRates(**{k: min(1.0, v * factor) for k, v in self.__dict__.items()})


def global_fault_rules(rates: FaultRates, seed: int) -> list[dict[str, Any]]:
    """The run's transient-fault rules, in evaluation order, each with its own seed."""
    rules: list[dict[str, Any]] = [
        {"kind": "latency", "probability": rates.place_latency, "delay_seconds": "0.4"},
        {"kind": "latency", "probability": rates.place_slow, "delay_seconds": "5.5"},
        {"kind": "error_503", "probability": rates.place_503, "message": "chaos 503"},
        {"kind": "hang", "probability": rates.place_hang, "delay_seconds": "6"},
        {"kind": "fail_after_place", "probability": rates.place_fail_after},
        {"kind": "partial_fill", "probability": rates.place_partial, "fraction": "0.5"},
        {"kind": "error_503", "endpoint": "cancel", "probability": rates.cancel_503},
        {"kind": "fail_after_place", "endpoint": "cancel", "probability": rates.cancel_fail_after},
        {"kind": "error_503", "endpoint": "get", "probability": rates.get_503},
        {
            "kind": "latency",
            "endpoint": "get",
            "probability": rates.get_latency,
            "delay_seconds": "0.5",
        },
    ]
    for offset, rule in enumerate(rules):
        rule["probability"] = str(Decimal(str(rule["probability"])).quantize(Decimal("0.0001")))
        rule["seed"] = seed * 1000 + offset
    return [rule for rule in rules if Decimal(rule["probability"]) > 0]
