"""The pre-trade check: which legs a batch may place, from data only.

Called from workflow code with what an activity fetched (the account's
limits, its positions at the venue, reference prices, the trading state), so
the decision is recorded by its inputs and replays the same. Legs are judged
in batch order: a leg is refused when placing it *after the legs accepted
before it* would break a limit, so an INDEPENDENT batch keeps as many legs as
fit, and every refusal names the leg, the limit and the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from execbatch.core.enums import OrderSide
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.risk.claims import reduces
from execbatch.risk.limits import AccountLimits
from execbatch.risk.states import TradingState

ZERO = Decimal(0)
RISK_LIMIT = "RISK_LIMIT"
"""The error type of a leg refused by a limit or a trading state."""


class RiskInputs(BaseModel):
    """What the check reads, fetched by one activity at the venue and the entities."""

    model_config = ConfigDict(frozen=True)

    account: str
    limits: AccountLimits
    positions: dict[str, Decimal]
    prices: dict[str, Decimal]
    state: TradingState = TradingState.ACTIVE
    state_reason: str | None = None
    throttle_task_queue: str | None = None


class Breach(BaseModel):
    """One leg refused: the limit it breaks, the value it would reach, the bound."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    limit: str
    value: str
    bound: str

    @property
    def message(self) -> str:
        return (
            f"{self.limit} {self.value} > {self.bound}"
            if self.bound
            else (f"{self.limit}: {self.value}")
        )

    def describe(self) -> str:
        return f"leg {self.command_id}: {self.message}"


def _signed(command: ExecutionCommand) -> Decimal:
    return command.quantity if command.side is OrderSide.BUY else -command.quantity


def _price(command: ExecutionCommand, prices: dict[str, Decimal]) -> Decimal | None:
    return command.limit_price or prices.get(command.symbol)


def notional(command: ExecutionCommand, prices: dict[str, Decimal]) -> Decimal:
    """Quantity x price (limit price, else reference); 0 when no price is known."""
    price = _price(command, prices)
    return ZERO if price is None else command.quantity * price


def check_legs(
    commands: Sequence[ExecutionCommand],
    inputs: RiskInputs,
    *,
    batch_notional_before: Decimal = ZERO,
) -> list[Breach]:
    """Every leg of ``commands`` that may not be placed, in order (empty: all may).

    ``batch_notional_before``: the notional of the batch's legs already accepted
    (a SEQUENTIAL batch checks one leg at a time)."""
    limits = inputs.limits
    positions = dict(inputs.positions)
    batch_notional = batch_notional_before
    breaches: list[Breach] = []
    for command in commands:
        breach = _check_one(command, inputs, limits, positions, batch_notional)
        if breach is not None:
            breaches.append(breach)
            continue
        positions[command.symbol] = positions.get(command.symbol, ZERO) + _signed(command)
        price = _price(command, inputs.prices)
        if price is not None:
            batch_notional += command.quantity * price
    return breaches


def _check_one(
    command: ExecutionCommand,
    inputs: RiskInputs,
    limits: AccountLimits,
    positions: dict[str, Decimal],
    batch_notional: Decimal,
) -> Breach | None:
    def breach(limit: str, value: object, bound: object = "") -> Breach:
        return Breach(
            command_id=command.command_id, limit=limit, value=str(value), bound=str(bound)
        )

    symbol = command.symbol
    position = positions.get(symbol, ZERO)
    signed = _signed(command)
    why = f" ({inputs.state_reason})" if inputs.state_reason else ""
    if inputs.state is TradingState.HALTED:
        return breach("trading state", f"HALTED{why}")
    if inputs.state is TradingState.REDUCING and not reduces(position, signed):
        return breach(
            "trading state",
            f"REDUCING{why}: {command.side.value} {command.quantity} {symbol} does not reduce "
            f"the position of {position}",
        )
    if symbol in limits.refused_symbols:
        return breach("refused_symbols", f"{symbol} is refused")
    if limits.allowed_symbols is not None and symbol not in limits.allowed_symbols:
        return breach("allowed_symbols", f"{symbol} is not allowed")
    price = _price(command, inputs.prices)
    if limits.checks_notional and price is None:
        return breach("reference price", f"none for {symbol}: its notional cannot be checked")
    if price is not None:
        notional = command.quantity * price
        if limits.max_order_notional is not None and notional > limits.max_order_notional:
            return breach("max_order_notional", notional, limits.max_order_notional)
        total = batch_notional + notional
        if limits.max_batch_notional is not None and total > limits.max_batch_notional:
            return breach("max_batch_notional", total, limits.max_batch_notional)
    after = position + signed
    if (
        limits.max_position is not None
        and abs(after) > limits.max_position
        and not reduces(position, signed)
    ):
        return breach(f"max_position {symbol}", abs(after), limits.max_position)
    return None


def describe_breaches(breaches: Sequence[Breach]) -> str:
    return "refused by risk: " + "; ".join(b.describe() for b in breaches)
