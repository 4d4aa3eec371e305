"""Deterministic venue client order ids.

Every venue call of a leg uses an id derived from batch id, command id and the
action, never a random one: a retried activity or a re-run worker finds its
earlier order at the venue instead of placing a second one. ':' cannot appear
in batch or command ids, so the parts never collide.
"""

from __future__ import annotations


def placement_order_id(batch_id: str, command_id: str) -> str:
    return f"{batch_id}:{command_id}:place"


def revert_order_id(batch_id: str, command_id: str, attempt: int) -> str:
    """The k-th revert order of a leg (k >= 1); a partly filled revert is followed by k+1."""
    if attempt < 1:
        raise ValueError("revert attempt numbers start at 1")
    return f"{batch_id}:{command_id}:revert-{attempt}"
