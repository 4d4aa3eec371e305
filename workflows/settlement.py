"""What a settlement run says about the run it settles.

A settlement run (``BatchRunRequest.recovery_of`` set) settles a batch whose
run Temporal closed without a result: the hard timeout, an operator's
Terminate or a failure. Its final status names that ending (``RunEnding``),
and its reason says which run ended, how, and by whom.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.core.enums import BatchStatus, RunEnding
    from execbatch.dtos.execution.batch_run import BatchRunRequest


def settlement_outcome(request: BatchRunRequest) -> tuple[BatchStatus, str]:
    """The final status (unless a leg stays exposed) and the reason of a settlement run."""
    ended = request.recovery_of
    detail = f" ({request.ending_detail})" if request.ending_detail else ""
    why = {
        RunEnding.TIMED_OUT: (
            f"{ended} hit its {request.batch.timeout_seconds}s execution timeout before it "
            "could wind down"
        ),
        RunEnding.TERMINATED: f"{ended} was terminated{detail}",
        RunEnding.FAILED: f"{ended} failed{detail}",
    }[request.ending]
    return request.ending.batch_status, f"{why}; this settlement run settled it at the venue"
