"""Dynamic configuration we run Temporal's dev server with (and recommend for clusters).

``history.transferProcessorMaxPollRPS`` caps how often the history service's
transfer queue reads new tasks (default 20 per second). At light load every
task that has to reach matching (a workflow task after a start or an
activity's completion, an activity task) waits for the next read: up to
50 ms, ~25 ms on average, per step. Measured with ``python -m bench.micro
dispatch``: a workflow that does nothing went from 50 to 15 ms p50 from start
to result, one activity from 100 to 29 ms. The timer queue has the same cap
(a deadline or poll timer fires up to 50 ms late). Reading more often costs
the server a little CPU when idle and nothing under load (the reader is
already busy then).

``system.enableEagerWorkflowStart`` lets a client with an in-process worker
(``EmbeddedExecutor``) get the first workflow task in the start response.
"""

from __future__ import annotations

DYNAMIC_CONFIG: dict[str, str] = {
    "system.enableEagerWorkflowStart": "true",
    "history.transferProcessorMaxPollRPS": "1000",
    "history.timerProcessorMaxPollRPS": "1000",
}


def dynamic_config_flags() -> list[str]:
    """``--dynamic-config-value`` flags for ``temporal server start-dev``."""
    flags: list[str] = []
    for key, value in DYNAMIC_CONFIG.items():
        flags += ["--dynamic-config-value", f"{key}={value}"]
    return flags
