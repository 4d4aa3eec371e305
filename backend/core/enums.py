"""Enumerations shared by the DTOs, the workflow and the venue.

They are ``str`` enums so that they serialise as their plain names in JSON, in
Temporal payloads and in search attributes, and stay readable in the Web UI.
"""

from __future__ import annotations

from enum import Enum


class BatchExecutionMode(str, Enum):
    """
    Coordination mode for multiple commands in a batch.

    Values:
        INDEPENDENT: Fire all, ignore failures of others (default)
                     Use case: Flash crash close, DCA entries
        COORDINATED: Fire all, if one fails, cancel/revert others
                     Use case: Pair trades, hedged positions
        SEQUENTIAL:  Fire one by one, stop if one fails
                     Use case: Rotation strategies, dependent entries
    """

    INDEPENDENT = "INDEPENDENT"
    COORDINATED = "COORDINATED"
    SEQUENTIAL = "SEQUENTIAL"


class OrderSide(str, Enum):
    """Direction of an order. ``opposite`` is what a compensation sends."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> OrderSide:
        return OrderSide.SELL if self is OrderSide.BUY else OrderSide.BUY


class OrderType(str, Enum):
    """MARKET fills at the venue's reference price; LIMIT only when marketable."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"


class TimeInForce(str, Enum):
    """How long an unfilled remainder may rest at the venue.

    GTC rests until filled or cancelled; DAY behaves as GTC on the paper venue
    (it has no session close); IOC cancels any remainder at once.
    """

    GTC = "GTC"
    DAY = "DAY"
    IOC = "IOC"


class VenueOrderStatus(str, Enum):
    """An order's state at the venue, as the venue reports it."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"

    @property
    def is_terminal(self) -> bool:
        return self in (
            VenueOrderStatus.FILLED,
            VenueOrderStatus.CANCELED,
            VenueOrderStatus.REJECTED,
        )


class BatchStatus(str, Enum):
    """Where a batch is; every value but RUNNING and WINDING_DOWN is final.

    RUNNING and WINDING_DOWN only appear while the workflow runs (in the
    status Query; the BatchStatus search attribute is set from WINDING_DOWN on).
    TERMINATED and RUN_FAILED are the endings of a run that Temporal closed
    without a result (an operator's Terminate, an error in the run): a
    settlement run settled every leg at the venue afterwards, like TIMED_OUT
    after a hard timeout (NEEDS_ATTENTION when it could not make the batch safe).
    """

    RUNNING = "RUNNING"
    WINDING_DOWN = "WINDING_DOWN"
    COMPLETED = "COMPLETED"
    PARTIALLY_COMPLETED = "PARTIALLY_COMPLETED"
    FAILED = "FAILED"
    COMPENSATED = "COMPENSATED"
    NEEDS_ATTENTION = "NEEDS_ATTENTION"
    STOPPED = "STOPPED"
    TIMED_OUT = "TIMED_OUT"
    CANCELLED = "CANCELLED"
    TERMINATED = "TERMINATED"
    RUN_FAILED = "RUN_FAILED"
    REJECTED_BY_RISK = "REJECTED_BY_RISK"
    """The pre-trade risk check refused a COORDINATED batch before anything was
    placed (a limit or the trading state; the reason names every breaching leg)."""

    @property
    def is_final(self) -> bool:
        return self not in (BatchStatus.RUNNING, BatchStatus.WINDING_DOWN)


class RunEnding(str, Enum):
    """How Temporal closed a batch's run without it returning a result.

    None of these runs any more of the workflow's code, so orders may rest at
    the venue and a pair may be half filled; each is settled by one settlement
    run (``execbatch.recovery``). A reset is not an ending: the run it
    terminates is continued by a newer run of the same batch.
    """

    TIMED_OUT = "TIMED_OUT"
    """Temporal's hard execution timeout (``timeout_seconds``) passed."""
    TERMINATED = "TERMINATED"
    """An operator terminated the run (Web UI, ``temporal workflow terminate``)."""
    FAILED = "FAILED"
    """The run failed with an error raised in workflow code."""

    @property
    def batch_status(self) -> BatchStatus:
        """The batch's final status once the settlement made it safe."""
        return {
            RunEnding.TIMED_OUT: BatchStatus.TIMED_OUT,
            RunEnding.TERMINATED: BatchStatus.TERMINATED,
            RunEnding.FAILED: BatchStatus.RUN_FAILED,
        }[self]


class LegStatus(str, Enum):
    """One leg's state, live (Query) and final (result)."""

    PENDING = "PENDING"
    PLACED = "PLACED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    COMPENSATING = "COMPENSATING"
    COMPENSATED = "COMPENSATED"
    SKIPPED = "SKIPPED"
