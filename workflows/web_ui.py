"""What a batch shows in the Temporal Web UI: its current details.

While it runs, a markdown leg table, redrawn when legs change (at most once
per workflow wake-up, however many legs moved). Once it has ended, the
outcome comes first: the batch's status, why, and the legs left exposed, so a
compensated, cancelled or refused batch never reads like a filled one (its
Temporal run is COMPLETED either way; docs/OPERATING.md, "The outcome at a
glance"). Activity summaries (``place BUY 100 AAPL (leg 1/2)``) are set where
each activity is started.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from execbatch.core.enums import BatchStatus
    from execbatch.workflows.leg_state import LegState

DETAILS_MAX_LEGS = 50

NEEDS_A_PERSON = (
    "a person must flatten the exposed legs at the venue (docs/OPERATING.md, NEEDS_ATTENTION)"
)


def outcome_markdown(status: BatchStatus, legs: Sequence[LegState], reason: str | None) -> str:
    """A closed batch's outcome, as the first lines of its current details."""
    exposed = [leg for leg in legs if leg.exposed_quantity != 0]
    lines = [f"## Outcome: {status.value}", ""]
    if reason:
        lines += [f"**reason:** {reason}", ""]
    if exposed:
        shown = "; ".join(
            f"leg {leg.command.command_id}: {leg.exposed_quantity} {leg.command.symbol}"
            for leg in exposed[:DETAILS_MAX_LEGS]
        )
        more = (
            f"; +{len(exposed) - DETAILS_MAX_LEGS} more" if len(exposed) > DETAILS_MAX_LEGS else ""
        )
        lines += [f"**exposed:** {shown}{more}", "", f"**needs a person:** {NEEDS_A_PERSON}"]
    else:
        lines += ["**exposed:** none"]
    return "\n".join(lines)


def details_markdown(
    status: BatchStatus, legs: Sequence[LegState], reason: str | None = None
) -> str:
    counts: dict[str, int] = {}
    for leg in legs:
        counts[leg.status.value] = counts.get(leg.status.value, 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in counts.items())
    if status.is_final:
        lines = [outcome_markdown(status, legs, reason), "", f"**legs:** {summary}", ""]
    else:
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
