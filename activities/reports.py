"""What the settling and checking activities report to the workflow.

They carry the venue's semantics (``VenueCapabilities``) into workflow code as
data recorded in the history, so the workflow stays venue-agnostic and replays
the same: it learns from the answer whether "not found" is final.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.venue.port.orders import VenueOrder

DEFAULT_LANDING_BOUND_SECONDS = 30.0
"""For a venue that states no receive window of its own (Alpaca, our paper venue):
how long after a placement request was sent we assume the venue may still accept
it. A documented assumption, not a venue fact (docs/VENUES.md, "Settling
without a fence")."""


class SettleReport(BaseModel):
    """The answer to "cancel this leg's order and tell me its final state"."""

    model_config = ConfigDict(frozen=True)

    order: VenueOrder | None
    """The order's state after the cancel; None when the venue knows no such order."""
    absent_is_final: bool
    """True at a venue that fences an unknown id (a placement can never land after
    this answer); False where "not found" only means "not yet, maybe"."""
    landing_bound_seconds: float = Field(gt=0)
    """How long after being sent a placement may still land at this venue."""


class RevertsReport(BaseModel):
    """The answer to "did anyone begin to revert these legs?"."""

    model_config = ConfigDict(frozen=True)

    found: tuple[str, ...]
    """The revert orders the venue holds (each leg's first: reverts go in order)."""
    landing_bound_seconds: float = Field(gt=0)
    """As ``SettleReport.landing_bound_seconds``: how long a revert sent may still land."""


class CheckLegsRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    commands: tuple[ExecutionCommand, ...]
    account: str | None = None
    """The account the batch trades; a worker whose venue keys trade another refuses
    every leg (None: not checked)."""


class LegRefusal(BaseModel):
    """A leg refused before anything is placed: it breaks the venue's rules, or the
    batch names an account this worker's venue keys do not trade (``account``)."""

    model_config = ConfigDict(frozen=True)

    command_id: str
    venue: str
    reasons: tuple[str, ...]
    account: bool = False
    """The refusal is the batch's account, not this leg: every leg has it."""

    @property
    def message(self) -> str:
        if self.account:
            return "refused before placing: " + "; ".join(self.reasons)
        return f"refused before placing, it breaks {self.venue}'s rules: " + "; ".join(self.reasons)


class SentOrdersRequest(BaseModel):
    """Which of these placement orders the venue holds (client order id -> symbol)."""

    model_config = ConfigDict(frozen=True)

    orders: dict[str, str]
