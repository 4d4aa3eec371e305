"""Trading states (the kill switch), their audit records and the entity ids.

One long-running "trading state" workflow per scope holds the state: the
global scope and one per account. Its workflow id is derived from the scope,
so every worker and every CLI finds the same one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field

from execbatch.dtos.execution.batch_run import ExecutionSettings
from execbatch.risk.claims import ReductionClaim

GLOBAL_SCOPE = "global"
TRADING_STATE_WORKFLOW = "TradingStateWorkflow"
STATE_MEMO = "trading_state"
"""Memo key under which the trading-state workflow keeps its current state (the view
with its last change only), so readers describe the workflow instead of querying it."""
TRADING_STATE_ID_PREFIX = "execbatch-trading-state"

STATE_READ_REUSE_SECONDS = 0.5
"""How long a worker answers a scope's trading state from its last read
(``activities.risk_activities.TradingStateReads``): part of the quiet period below."""
VENUE_LANDING_SLACK_SECONDS = 2.0
"""How long the venue may still process a request it received just before its attempt
was abandoned."""
DEFAULT_QUIET_SECONDS = (
    ExecutionSettings.model_fields["venue_call_timeout_seconds"].default
    + VENUE_LANDING_SLACK_SECONDS
    + STATE_READ_REUSE_SECONDS
)
"""How long a HALTED or REDUCING change waits, once durable, before it is acknowledged:
the default placement attempt (6 s start-to-close), 2 s for a request the venue
received just before the attempt was abandoned, and how long a worker may still
answer from a read that saw the state before the change (docs/RISK.md)."""


class TradingState(str, Enum):
    """NautilusTrader's trading states, for our executor.

    ACTIVE: normal. REDUCING: only legs that reduce the account's open position
    in their symbol (by at most that position) are placed. HALTED: nothing new
    is placed. Cancels, settling, compensation and settlement runs are never
    blocked by a state: they reduce exposure.
    """

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"

    @property
    def severity(self) -> int:
        return {TradingState.ACTIVE: 0, TradingState.REDUCING: 1, TradingState.HALTED: 2}[self]


def most_restrictive(*states: TradingState) -> TradingState:
    return max(states, key=lambda s: s.severity, default=TradingState.ACTIVE)


def scope_of(account: str | None) -> str:
    return GLOBAL_SCOPE if account is None else f"account:{account}"


def trading_state_workflow_id(task_queue: str, scope: str) -> str:
    """``execbatch-trading-state:<task queue>:global`` or ``...:account:<name>``.

    The task queue is part of it: one deployment of execbatch (its workers and
    their batches) is a namespace and a task queue, and two of them sharing a
    namespace (tests, staging beside production) have their own kill switches."""
    return f"{TRADING_STATE_ID_PREFIX}:{task_queue}:{scope}"


class StateChange(BaseModel):
    """One audited change: who set which state, when and why."""

    model_config = ConfigDict(frozen=True)

    state: TradingState
    reason: str
    who: str
    at: datetime
    quiet_seconds: float = 0.0
    """The change's quiet period: it was acknowledged at ``at`` + this."""

    @property
    def acknowledged_at(self) -> datetime:
        return self.at + timedelta(seconds=self.quiet_seconds)


class SetStateRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: TradingState
    reason: str = Field(min_length=1, max_length=2000)
    who: str = Field(min_length=1, max_length=200)
    quiet_seconds: float = Field(
        default=DEFAULT_QUIET_SECONDS,
        ge=0,
        description=(
            "How long a HALTED or REDUCING change waits, once durable, before it is "
            "acknowledged: the longest a placement attempt that checked the state "
            "before the change can still be sending (docs/RISK.md)."
        ),
    )


class TradingStateView(BaseModel):
    """A scope's state now and its audit history (oldest first)."""

    model_config = ConfigDict(frozen=True)

    scope: str
    state: TradingState = TradingState.ACTIVE
    history: tuple[StateChange, ...] = ()

    @property
    def last_change(self) -> StateChange | None:
        return self.history[-1] if self.history else None

    def describe(self) -> str:
        last = self.last_change
        if last is None:
            return f"{self.scope}: {self.state.value}"
        return (
            f"{self.scope}: {self.state.value} since {last.at.isoformat(timespec='seconds')} "
            f"by {last.who}: {last.reason}"
        )


class TradingStateInput(BaseModel):
    """The trading-state workflow's input: the view it starts (or continues) with.

    Defined here, outside the sandboxed workflow module, so a pydantic model is not
    rebuilt for every run of the workflow."""

    model_config = ConfigDict(frozen=True)

    view: TradingStateView
    claims: tuple[ReductionClaim, ...] = ()
    """Reducing claims outstanding (carried over a continue-as-new)."""
    released: tuple[str, ...] = ()
    """Ids of the claims released last (a re-claim of one is refused)."""


class StateChangeAck(BaseModel):
    """What ``set_state`` returns once the change is durable and in force."""

    model_config = ConfigDict(frozen=True)

    view: TradingStateView
    recorded_at: datetime
    """When the entity recorded the change (workflow time)."""
    acknowledged_at: datetime
    """When it returned: no placement that checked the state before the change can
    still reach the venue after this (the quiet period)."""
