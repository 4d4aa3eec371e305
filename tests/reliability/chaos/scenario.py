"""What a chaos run submits and which faults the venue injects, all from one seed.

Batches mix the three modes with two or three legs. Some legs are rejected
on purpose (a ``reject`` fault rule keyed by the leg's placement client order
id), some are resting limit orders far from the market under a short batch
timeout (they end by the batch's own deadline), some are marketable limits or
IOC. The global fault rules inject transient faults at high rates on every
endpoint; rejections are business answers and must never be retried.

The venue (``plan_batches(venue=...)``) shapes the legs as that venue needs
them; ``paper`` is the original mix, draw for draw:

* ``alpaca``: the same batches, except that a leg with a fractional quantity is
  a DAY order (Alpaca takes fractional equity orders as DAY orders only) and an
  IOC leg's quantity is whole (an IOC order cannot be fractional there).
* ``binance``: crypto legs on BTC/USDT and ETH/USDT, quantities on the LOT_SIZE
  step and above the minimum notional, chosen as multiples of a unit that
  stays on the step when halved four times (a ``partial_fill`` fault fills half
  of an order, and a revert of half a fill must be a valid order too), limit
  prices on the tick, GTC or IOC.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
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
CRYPTO_START_PRICES = {"BTC/USDT": Decimal("60000.00"), "ETH/USDT": Decimal("3000.00")}
"""Binance runs: the dialect's default instruments, priced by the run (they trade once priced)."""
CRYPTO_LOTS = {
    # unit (a multiple of the LOT_SIZE step x 16), fewest and most units per leg
    "BTC/USDT": (Decimal("0.0008"), 4, 60),  # step 0.00001: 0.0032..0.048 BTC
    "ETH/USDT": (Decimal("0.016"), 2, 40),  # step 0.0001: 0.032..0.64 ETH
}
"""Halved four times the smallest legs stay on the step and above the 5 USDT minimum
notional (0.0002 BTC = 12 USDT, 0.002 ETH = 6 USDT at the start prices)."""
REJECT_ERRORS = ("INSUFFICIENT_FUNDS", "UNKNOWN_SYMBOL", "INVALID_ORDER")
VENUES = ("paper", "alpaca", "binance")


def start_prices(venue: str = "paper") -> dict[str, Decimal]:
    """The reference prices a run of ``venue`` starts from (and wiggles around)."""
    return dict(CRYPTO_START_PRICES if venue == "binance" else START_PRICES)


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

    def reject_rules(self, venue_id: Callable[[str], str] | None = None) -> list[dict[str, Any]]:
        """The venue fault rules that reject this batch's designated legs.

        ``venue_id`` maps our client order id to the one the venue stores (Binance's
        derived form); the rules match what the venue sees.
        """
        rng = random.Random(f"{self.batch_id}-reject")
        as_sent = venue_id or (lambda cid: cid)
        return [
            {
                "kind": "reject",
                "client_order_id_prefix": as_sent(placement_order_id(self.batch_id, command_id)),
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


def _lot_quantity(rng: random.Random, symbol: str) -> Decimal:
    unit, fewest, most = CRYPTO_LOTS[symbol]
    return unit * rng.randint(fewest, most)


def _command(
    rng: random.Random, index: int, mix: ScenarioMix, resting: bool, venue: str = "paper"
) -> ExecutionCommand:
    crypto = venue == "binance"
    symbol = rng.choice(tuple(CRYPTO_START_PRICES) if crypto else SYMBOLS)
    side = rng.choice((OrderSide.BUY, OrderSide.SELL))
    price = CRYPTO_START_PRICES[symbol] if crypto else START_PRICES[symbol]
    fields: dict[str, Any] = {
        "command_id": f"c{index + 1}",
        "plan_id": f"p{index + 1}",
        "symbol": symbol,
        "side": side,
        "quantity": _lot_quantity(rng, symbol) if crypto else _quantity(rng),
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
    if venue == "alpaca":
        _as_alpaca_needs(fields)
    return ExecutionCommand(**fields)


def _as_alpaca_needs(fields: dict[str, Any]) -> None:
    """Fractional equity orders are DAY orders at Alpaca: a fractional leg becomes DAY,
    an IOC leg whole (no random draw, so the batches stay the paper run's otherwise)."""
    quantity: Decimal = fields["quantity"]
    if quantity == quantity.to_integral_value():
        return
    if fields.get("time_in_force") is TimeInForce.IOC:
        fields["quantity"] = quantity.to_integral_value(rounding=ROUND_CEILING)
    else:
        fields["time_in_force"] = TimeInForce.DAY


def plan_batches(
    count: int, seed: int, run_id: str, mix: ScenarioMix | None = None, venue: str = "paper"
) -> list[PlannedBatch]:
    """``count`` batches, reproducible from ``seed``; directive ids carry ``run_id``;
    legs shaped for ``venue`` (module docstring)."""
    if venue not in VENUES:
        raise ValueError(f"venue {venue!r}: one of {', '.join(VENUES)}")
    mix = mix or ScenarioMix()
    rng = random.Random(seed)
    modes = list(BatchExecutionMode)
    planned: list[PlannedBatch] = []
    for index in range(count):
        mode = modes[index % len(modes)] if index < len(modes) else rng.choice(modes)
        legs = rng.choice((2, 2, 3))
        resting = rng.random() < mix.resting_share
        resting_leg = rng.randrange(legs) if resting else -1
        commands = tuple(_command(rng, i, mix, i == resting_leg, venue) for i in range(legs))
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
