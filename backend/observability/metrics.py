"""Our Prometheus metrics: one registry per process, every name ``execbatch_...``.

Labels only ever take bounded values: modes, statuses, outcomes, operation
names, venue names, accounts and symbols (the desk's own, a handful), never a
batch id, a command id or an order id. With the payload codec on, a symbol is
order data, so the exposure gauge says ``symbol="redacted"`` instead
(``redact_order_data``).

What is counted where:

* batches started / finished, legs by final status, compensations, exposure
  and recovery runs: the workflow interceptor (``execbatch.instrumentation``),
  only when the workflow is not replaying, so a replay never counts twice;
* venue calls (by venue, operation, outcome, with latency) and retries of
  transient venue faults: the instrumented venue adapter and the activity
  interceptor, in the activity worker.

Recording never raises into the caller: a metric is not worth a failed
settlement (``safely``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.process_collector import ProcessCollector

log = logging.getLogger("execbatch.observability")

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)

REDACTED = "redacted"

BATCHES_STARTED = Counter(
    "execbatch_batches_started",
    "Batch runs started (settlement runs not included: see execbatch_recovery_runs_started).",
    ["mode"],
    registry=REGISTRY,
)
BATCHES_FINISHED = Counter(
    "execbatch_batches_finished",
    "Batches that reached a final status, by mode and that status (a batch settled by a "
    "settlement run counts once, with the settlement's status).",
    ["mode", "status"],
    registry=REGISTRY,
)
BATCHES_RUNNING = Gauge(
    "execbatch_batches_running",
    "Batch runs open on this task queue, as Temporal's visibility counts them "
    "(every worker reports the same figure: aggregate with max).",
    ["mode"],
    registry=REGISTRY,
)
LEGS_FINISHED = Counter(
    "execbatch_legs_finished",
    "Legs of finished batches by their final status.",
    ["mode", "status"],
    registry=REGISTRY,
)
COMPENSATIONS = Counter(
    "execbatch_compensations",
    "Reverts of filled legs (a COORDINATED batch's saga) by outcome: reverted or failed.",
    ["mode", "outcome"],
    registry=REGISTRY,
)
EXPOSED_QUANTITY = Gauge(
    "execbatch_exposed_quantity",
    "Filled quantity a compensation has not (yet) reverted, by account and symbol: above 0 "
    "while a revert runs, and left above 0 by a batch that ended NEEDS_ATTENTION.",
    ["account", "symbol"],
    registry=REGISTRY,
)
RECOVERY_RUNS_STARTED = Counter(
    "execbatch_recovery_runs_started",
    "Settlement runs (<batch_id>:recovery) of batches Temporal closed without a result, "
    "by mode and how the settled run ended.",
    ["mode", "ending"],
    registry=REGISTRY,
)
VENUE_CALLS = Counter(
    "execbatch_venue_calls",
    "Calls to the venue by venue, operation and outcome "
    "(ok, rejected, conflict, not_found, unavailable, error).",
    ["venue", "operation", "outcome"],
    registry=REGISTRY,
)
VENUE_CALL_SECONDS = Histogram(
    "execbatch_venue_call_duration_seconds",
    "How long one venue call took, by venue and operation.",
    ["venue", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
VENUE_RETRIES = Counter(
    "execbatch_venue_retries",
    "Activity attempts that retry a venue call after a transient fault, by venue and activity.",
    ["venue", "operation"],
    registry=REGISTRY,
)

P = ParamSpec("P")
R = TypeVar("R")


def safely(record: Callable[P, None]) -> Callable[P, None]:
    """Run a recording function; log and swallow anything it raises."""

    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            record(*args, **kwargs)
        except Exception:
            log.exception("recording a metric failed")

    wrapper.__name__ = record.__name__
    wrapper.__doc__ = record.__doc__
    return wrapper


class ExposureBook:
    """Exposure per batch, leg, account and symbol; the gauge shows the sums.

    A batch's entries are replaced as it reports (a revert scheduled, a revert
    answered, the batch's final result), so the gauge goes back to 0 when the
    revert lands and stays up for a batch that ended NEEDS_ATTENTION.
    """

    def __init__(self, gauge: Gauge = EXPOSED_QUANTITY) -> None:
        self._gauge = gauge
        self._lock = threading.Lock()
        self._open: dict[tuple[str, str], dict[tuple[str, str], Decimal]] = {}
        """(account, symbol) -> {(batch id, command id): quantity}"""

    def set_leg(
        self, batch_id: str, command_id: str, account: str, symbol: str, quantity: Decimal
    ) -> None:
        key = (account, symbol)
        with self._lock:
            legs = self._open.setdefault(key, {})
            if quantity > 0:
                legs[(batch_id, command_id)] = quantity
            else:
                legs.pop((batch_id, command_id), None)
            total = sum(legs.values(), Decimal(0))
            if not legs:
                del self._open[key]
            self._gauge.labels(account=account, symbol=symbol).set(float(total))

    def clear_batch(self, batch_id: str) -> None:
        with self._lock:
            for (account, symbol), legs in list(self._open.items()):
                for leg in [leg for leg in legs if leg[0] == batch_id]:
                    del legs[leg]
                total = sum(legs.values(), Decimal(0))
                self._gauge.labels(account=account, symbol=symbol).set(float(total))
                if not legs:
                    del self._open[(account, symbol)]

    def total(self) -> Decimal:
        with self._lock:
            return sum((sum(legs.values(), Decimal(0)) for legs in self._open.values()), Decimal(0))


EXPOSURE = ExposureBook()


@contextmanager
def timed_venue_call(venue: str, operation: str) -> Iterator[Callable[[str], None]]:
    """Time one venue call; the caller reports its outcome through the yielded function
    (``"error"`` if it never does)."""
    outcome = ["error"]

    def report(value: str) -> None:
        outcome[0] = value

    histogram = VENUE_CALL_SECONDS.labels(venue=venue, operation=operation)
    with histogram.time():
        try:
            yield report
        finally:
            VENUE_CALLS.labels(venue=venue, operation=operation, outcome=outcome[0]).inc()
