"""Temporal Cloud actions of one workflow run, counted from its history.

The published rules (docs.temporal.io/cloud/actions), applied to what a history
shows: the workflow started (1); each activity scheduled (1) and each retry of it
(its last attempt - 1); the local activities recorded by one workflow task (1 for
all of them); each timer started; each signal received or sent; each search
attribute upsert; each update accepted; each child workflow started. Queries and
heartbeats are actions too but leave no trace in a history: ``queries_per_batch``
is added by the caller when it knows them; patch and side-effect markers are not
actions.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from temporalio.api.enums.v1 import EventType

LOCAL_ACTIVITY_MARKER = "core_local_activity"

_ONE_EACH = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "workflow started",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activity",
    EventType.EVENT_TYPE_TIMER_STARTED: "timer",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signal received",
    EventType.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: "signal sent",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search attributes upsert",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "update",
    EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: "child workflow",
}


def billable_actions(history: Any) -> Counter[str]:
    """Actions of the run whose history this is, by kind."""
    actions: Counter[str] = Counter()
    local_activity_tasks: set[int] = set()
    for event in history.events:
        kind = _ONE_EACH.get(event.event_type)
        if kind is not None:
            actions[kind] += 1
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            retries = event.activity_task_started_event_attributes.attempt - 1
            if retries > 0:
                actions["activity retry"] += retries
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == LOCAL_ACTIVITY_MARKER:
                local_activity_tasks.add(marker.workflow_task_completed_event_id)
    if local_activity_tasks:
        actions["local activities (per workflow task)"] = len(local_activity_tasks)
    return actions
