"""The workflow's input: a batch plus how to run it against the venue."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from execbatch.config.environment import DEFAULT_VENUE_ACCOUNT
from execbatch.core.enums import RunEnding
from execbatch.dtos.execution.execution_command_batch import ExecutionCommandBatch


class ExecutionSettings(BaseModel):
    """Operational knobs, fixed at submission so a replay sees the same values."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account: str = Field(
        default=DEFAULT_VENUE_ACCOUNT,
        min_length=1,
        description=(
            "The venue account the batch trades. Clients fill it from EXECBATCH_VENUE_ACCOUNT "
            "(or a per-batch override); a worker whose keys trade another account refuses "
            "every leg before placing anything."
        ),
    )
    wind_down_margin_seconds: float | None = Field(
        default=None,
        gt=0,
        description=(
            "How long before the hard execution timeout the batch starts winding down. "
            "None: 25% of timeout_seconds, at least 15 s and at most 60 s (and at most "
            "half the timeout)."
        ),
    )
    local_placement: bool = Field(
        default=True,
        description=(
            "Place orders with a local activity (one short idempotent venue call, no "
            "task-queue round trip); resting orders are still followed by a regular, "
            "heartbeating activity."
        ),
    )
    max_placements_in_flight: int = Field(
        default=100,
        ge=1,
        description="How many legs of one batch may be placing at once (big batches queue).",
    )
    placement_attempts: int = Field(default=5, ge=1)
    compensation_attempts: int = Field(
        default=20,
        ge=1,
        description=(
            "Attempts of each settle and revert (backoff 0.2 s doubling to 5 s: about 80 s "
            "of waiting in all). A revert is what stands between a failed pair trade and "
            "a naked leg: at 8 (about 16 s), a run of 503s at 1.5x the chaos suite's fault "
            "rates outlasted it."
        ),
    )
    venue_call_timeout_seconds: float = Field(
        default=6.0,
        gt=0,
        description="start-to-close of one venue call activity: the adapter's 5 s HTTP "
        "timeout plus slack, so an attempt on a crashed worker is retried quickly.",
    )
    poll_interval_seconds: float = Field(default=0.5, gt=0)
    follow_resting_orders: Literal["heartbeat", "timer"] = Field(
        default="heartbeat",
        description=(
            "How a resting order is followed: a heartbeating activity (default; a "
            "cancel reaches it through its heartbeat) or durable timers plus short "
            "local activities (what time-skipping tests can skip)."
        ),
    )
    max_poll_interval_seconds: float = Field(default=30.0, gt=0)
    heartbeat_timeout_seconds: float = Field(default=5.0, gt=0)

    def wind_down_margin(self, timeout_seconds: int) -> float:
        """Seconds between the batch's own deadline and the hard execution timeout.

        Long enough to cancel, settle and compensate, and to survive a worker
        being restarted in between (a dead worker's workflow task is retried
        after about 10 s); never more than half the timeout.
        """
        if self.wind_down_margin_seconds is not None:
            return min(self.wind_down_margin_seconds, timeout_seconds / 2)
        return min(max(timeout_seconds * 0.25, 15.0), 60.0, timeout_seconds / 2)


class BatchRunRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    batch: ExecutionCommandBatch
    settings: ExecutionSettings = ExecutionSettings()
    recovery_of: str | None = Field(
        default=None,
        description=(
            "Set on a settlement (recovery) run only: the workflow id of the batch whose "
            "run Temporal closed without a result (hard timeout, terminate, failure). The "
            "settlement places nothing; it settles every leg at the venue and compensates "
            "like a deadline."
        ),
    )
    ending: RunEnding = Field(
        default=RunEnding.TIMED_OUT,
        description="How the settled run ended (recovery runs only; older ones timed out).",
    )
    ended_at: datetime | None = Field(
        default=None,
        description=(
            "When the settled run closed (recovery runs only): no placement of it can start "
            "after this plus the placement budget, which a venue without a fence waits out."
        ),
    )
    ending_detail: str | None = Field(
        default=None,
        max_length=2000,
        description="Who or what ended it: the terminate reason and identity, the failure.",
    )
    releases_claims: bool = Field(
        default=False,
        description=(
            "Recovery runs only: release the settled batch's reducing claims once every "
            "leg is settled (its closed run cannot). Carried in the input rather than "
            "decided by the code, so a settlement run recorded before claims existed "
            "replays unchanged."
        ),
    )
