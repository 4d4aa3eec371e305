"""Workflow ids: a batch's own, and the one of its recovery run.

The batch workflow's id is the batch id, ``batch-<directive_id>`` (so a
directive submitted twice runs once). A batch that Temporal's hard execution
timeout ended gets one recovery run with a derived id: ':' never appears in a
batch id, so the two id spaces cannot collide, and the recovery sorts right
beside its batch in the Web UI.
"""

from __future__ import annotations

BATCH_ID_PREFIX = "batch-"
RECOVERY_SUFFIX = ":recovery"


def batch_id_for(directive_id: str) -> str:
    """The batch id (and so the workflow id) of a directive: stable, never random."""
    return f"{BATCH_ID_PREFIX}{directive_id}"


def recovery_workflow_id(batch_id: str) -> str:
    return f"{batch_id}{RECOVERY_SUFFIX}"
