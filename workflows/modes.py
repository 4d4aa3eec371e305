"""The three coordination modes, as one table (the ADR's section 4 and its rationale).

Everything the workflow does differently by mode is read from here:

=============  =============  ======================  ====================  =======================
mode           legs placed    a leg fails             fills of the batch    final statuses
=============  =============  ======================  ====================  =======================
INDEPENDENT    all at once    the others go on        kept                  COMPLETED,
                                                                            PARTIALLY_COMPLETED,
                                                                            FAILED
COORDINATED    all at once    the others are stopped  reverted (a saga)     COMPLETED, COMPENSATED,
                              (cancelled / fenced)                          NEEDS_ATTENTION
SEQUENTIAL     one by one     the rest is never       kept                  COMPLETED, STOPPED
                              placed
=============  =============  ======================  ====================  =======================

"A leg fails" means it did not fill completely: rejected, failed, cancelled
or only partly filled. Any mode can also end CANCELLED (a cancel), TIMED_OUT
(its deadline), or, after a settlement run, TERMINATED or RUN_FAILED; a
COORDINATED batch reverts its fills on those endings too, and any mode says
NEEDS_ATTENTION when a leg is left exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from execbatch.core.enums import BatchExecutionMode, BatchStatus


class Placement(str, Enum):
    ALL_AT_ONCE = "all at once"
    ONE_BY_ONE = "one by one, each only after the previous filled"


@dataclass(frozen=True)
class ModeRules:
    """How one mode runs a batch."""

    placement: Placement
    failure_stops_the_rest: bool
    """When a leg fails, stop the legs in flight and place no more."""
    reverts_fills: bool
    """When the batch stops early (a failed leg, a cancel, the deadline, a settlement),
    revert every fill exactly: the pair ends flat."""
    status_when_a_leg_fails: BatchStatus | None
    """The final status after a failed leg; None: judged by the fills (COMPLETED,
    PARTIALLY_COMPLETED, FAILED)."""
    final_statuses: frozenset[BatchStatus]
    """What the batch ends with when nothing stops it from outside."""
    use_case: str


MODES: dict[BatchExecutionMode, ModeRules] = {
    BatchExecutionMode.INDEPENDENT: ModeRules(
        placement=Placement.ALL_AT_ONCE,
        failure_stops_the_rest=False,
        reverts_fills=False,
        status_when_a_leg_fails=None,
        final_statuses=frozenset(
            {BatchStatus.COMPLETED, BatchStatus.PARTIALLY_COMPLETED, BatchStatus.FAILED}
        ),
        use_case="flash crash close, DCA entries: fire all, ignore failures",
    ),
    BatchExecutionMode.COORDINATED: ModeRules(
        placement=Placement.ALL_AT_ONCE,
        failure_stops_the_rest=True,
        reverts_fills=True,
        status_when_a_leg_fails=BatchStatus.COMPENSATED,
        final_statuses=frozenset(
            {BatchStatus.COMPLETED, BatchStatus.COMPENSATED, BatchStatus.NEEDS_ATTENTION}
        ),
        use_case="pair trades, hedges: fire all, cancel and revert the others on a failure",
    ),
    BatchExecutionMode.SEQUENTIAL: ModeRules(
        placement=Placement.ONE_BY_ONE,
        failure_stops_the_rest=True,
        reverts_fills=False,
        status_when_a_leg_fails=BatchStatus.STOPPED,
        final_statuses=frozenset({BatchStatus.COMPLETED, BatchStatus.STOPPED}),
        use_case="rotations: one by one, stop at the first failure, nothing rolled back",
    ),
}
