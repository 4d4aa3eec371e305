"""What a batch shows in the Temporal Web UI while it runs: its current details.

A markdown leg table, redrawn when legs change (at most once per workflow
wake-up, however many legs moved). Activity summaries (``place BUY 100 AAPL
(leg 1/2)``) are set where each activity is started.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.core.enums import BatchStatus
    from execbatch.workflows.leg_state import LegState

DETAILS_MAX_LEGS = 50


def details_markdown(status: BatchStatus, legs: Sequence[LegState]) -> str:
    counts: dict[str, int] = {}
    for leg in legs:
        counts[leg.status.value] = counts.get(leg.status.value, 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    lines = [f"**{status.value}** ({summary})", ""]
    lines += ["| leg | order | status | filled |", "|---|---|---|---|"]
    for leg in legs[:DETAILS_MAX_LEGS]:
        lines.append(
            f"| {leg.index + 1} {leg.command.command_id} | {leg.command.describe()} "
            f"| {leg.status.value} | {leg.filled_quantity} |"
        )
    if len(legs) > DETAILS_MAX_LEGS:
        lines.append(f"| ... | {len(legs) - DETAILS_MAX_LEGS} more legs | | |")
    return "\n".join(lines)
