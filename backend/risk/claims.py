"""Reducing claims: how concurrent batches share an account's room to reduce.

In REDUCING a leg may only reduce the account's position in its symbol, by at
most that position. Each batch reading the venue's position on its own cannot
keep that promise when several reduce at once: two batches selling the whole
long position both see it whole, and the account ends short. So every reducing
order first *claims* its quantity from the account's trading-state workflow
(``workflows.trading_state``), which grants claims one at a time against the
position the venue reports, less what earlier claims may still sell.

What an earlier claim may still move is ``claimed - filled``: the entity looks the
claim's order up at the venue (by its client order id) *before* it reads the
position. A fill reported by the look-up happened before the position was read,
so the position holds it; a fill that lands between the two reads is counted
twice (in the position and as still to come), which can only refuse a claim,
never grant one too many. A claim whose order is terminal (filled, cancelled,
rejected, fenced) can move nothing more and is dropped; a claim with no order yet
counts whole until its batch releases it when it ends (or its settlement run
does, for a run Temporal closed).

Pure functions and the models the batch side, the entity and the activity share;
the decision runs in workflow code (the entity), so it replays the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from execbatch.core.enums import OrderSide
from execbatch.core.order_ids import placement_order_id
from execbatch.dtos.execution.execution_command import ExecutionCommand

ZERO = Decimal(0)
REDUCING_CLAIM_NEEDED = "REDUCING_CLAIM_NEEDED"
"""The error type ``place_leg_checked`` raises in REDUCING for a leg without a claim:
the workflow claims it and places again."""
RELEASED_KEPT = 2000
"""Ids of released claims remembered (a late re-claim of one is refused)."""


def reduces(position: Decimal, signed_quantity: Decimal) -> bool:
    """Whether a leg only reduces an open position, by at most its size."""
    return (
        position != 0
        and (position > 0) != (signed_quantity > 0)
        and (abs(signed_quantity) <= abs(position))
    )


def signed_quantity(side: OrderSide, quantity: Decimal) -> Decimal:
    return quantity if side is OrderSide.BUY else -quantity


class ReductionClaim(BaseModel):
    """One reducing order's claim: its signed quantity (negative sells) in a symbol."""

    model_config = ConfigDict(frozen=True)

    claim_id: str
    """The claimed order's client order id (``<batch>:<command>:place``)."""
    batch_id: str
    command_id: str
    symbol: str
    quantity: Decimal

    @classmethod
    def of(cls, batch_id: str, command: ExecutionCommand) -> ReductionClaim:
        return cls(
            claim_id=placement_order_id(batch_id, command.command_id),
            batch_id=batch_id,
            command_id=command.command_id,
            symbol=command.symbol,
            quantity=signed_quantity(command.side, command.quantity),
        )

    def describe(self) -> str:
        side = "BUY" if self.quantity > 0 else "SELL"
        return f"{side} {abs(self.quantity)} {self.symbol}"


class ClaimRequest(BaseModel):
    """Claims of one batch, granted or refused one after the other, in order."""

    model_config = ConfigDict(frozen=True)

    account: str
    claims: tuple[ReductionClaim, ...] = Field(min_length=1)
    not_before: datetime | None = None
    """When the REDUCING change in force was acknowledged (recorded + quiet period):
    before it a placement that read ACTIVE may still land, and the position read then
    would not hold it. The entity waits until then before it reads."""


class ClaimDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    claim_id: str
    command_id: str
    granted: bool
    message: str
    """Why (refused), or what it was granted against."""


class ClaimAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    decisions: tuple[ClaimDecision, ...]

    def refused(self) -> list[ClaimDecision]:
        return [d for d in self.decisions if not d.granted]


class ReleaseRequest(BaseModel):
    """Release every claim of a batch: it has ended and settled every leg."""

    model_config = ConfigDict(frozen=True)

    account: str
    batch_id: str


class ReleaseAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    released: tuple[str, ...]


class ClaimedOrder(BaseModel):
    """A claimed order as the venue reported it to the entity."""

    model_config = ConfigDict(frozen=True)

    filled: Decimal
    terminal: bool


class RoomRequest(BaseModel):
    """What the entity reads to decide: the claimed orders first, then the positions."""

    model_config = ConfigDict(frozen=True)

    account: str
    symbols: tuple[str, ...]
    claimed_orders: dict[str, str] = Field(default_factory=dict)
    """Client order id -> symbol of each claimed order to look up."""


class RoomInputs(BaseModel):
    model_config = ConfigDict(frozen=True)

    positions: dict[str, Decimal]
    orders: dict[str, ClaimedOrder]
    """Each claimed order found at the venue (absent: not there yet)."""


class ReducingLeg(BaseModel):
    """A leg of a batch about to be submitted, for the REDUCING check at submission."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    symbol: str
    quantity: Decimal


class ReducingCheckRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    account: str
    legs: tuple[ReducingLeg, ...]


class ReducingCheckAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    refusals: tuple[str, ...]
    """One line per leg that would not reduce (empty: every leg reduces)."""


def still_to_move(claim: ReductionClaim, order: ClaimedOrder | None) -> Decimal:
    """What a claim may still add to the position (signed): all of it until its order
    is seen, the unfilled rest while it is open, nothing once it is terminal."""
    if order is None:
        return claim.quantity
    if order.terminal:
        return ZERO
    sign = 1 if claim.quantity > 0 else -1
    return claim.quantity - sign * order.filled


def decide(
    new: Iterable[ReductionClaim],
    outstanding: Iterable[ReductionClaim],
    inputs: RoomInputs,
) -> list[tuple[ReductionClaim, bool, str]]:
    """Grant or refuse each of ``new``, in order, against the positions read and what
    ``outstanding`` claims (and the ones granted before it) may still move."""
    pending: dict[str, Decimal] = {}
    for claim in outstanding:
        moved = still_to_move(claim, inputs.orders.get(claim.claim_id))
        pending[claim.symbol] = pending.get(claim.symbol, ZERO) + moved
    decisions = []
    for claim in new:
        position = inputs.positions.get(claim.symbol, ZERO)
        claimed = pending.get(claim.symbol, ZERO)
        room = position + claimed
        if reduces(room, claim.quantity):
            pending[claim.symbol] = claimed + claim.quantity
            decisions.append(
                (claim, True, f"granted against position {position}, claimed {abs(claimed)}")
            )
        else:
            decisions.append((claim, False, refusal(claim, position, claimed)))
    return decisions


def refusal(claim: ReductionClaim, position: Decimal, claimed: Decimal) -> str:
    """Names the symbol, the position and what is already claimed (signed as it moves
    the position: a claimed sale of 30 against a long position is "claimed 30")."""
    return (
        f"trading state REDUCING: {claim.describe()} would reduce past flat: position "
        f"{position} {claim.symbol}, {abs(claimed)} already claimed by reducing orders "
        f"in flight, room {_room(position, claimed)}"
    )


def _room(position: Decimal, claimed: Decimal) -> Decimal:
    left = position + claimed
    return abs(left) if left != 0 and (left > 0) == (position > 0) else ZERO


def reducing_refusals(legs: Iterable[ReducingLeg], positions: Mapping[str, Decimal]) -> list[str]:
    """Each leg that would not reduce, the legs before it counted (as the batch check)."""
    held = dict(positions)
    refusals = []
    for leg in legs:
        position = held.get(leg.symbol, ZERO)
        if reduces(position, leg.quantity):
            held[leg.symbol] = position + leg.quantity
            continue
        side = "BUY" if leg.quantity > 0 else "SELL"
        refusals.append(
            f"leg {leg.command_id}: {side} {abs(leg.quantity)} {leg.symbol} does not reduce "
            f"the position of {position}"
        )
    return refusals
