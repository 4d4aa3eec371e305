"""Time to the first order: from a batch's submission to its first order at the venue.

The latency a trader feels is not the result coming back but the first leg
reaching the market. The driver notes when it began each submission
(``System.submits``, ``time.time()``); the paper venue stamps each order when it
records it (``created_at``, the same machine's clock). A batch's client order
ids all start with its batch id and ``:`` (ours ``<batch>:<command>:place``, the
naive and direct references ``<batch>:<command>``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bench.cells import CellResult, percentile
from execbatch.venue.port.orders import VenueOrder


def first_orders(orders: Iterable[VenueOrder]) -> dict[str, float]:
    """Batch id -> time (epoch seconds) its first order was recorded at the venue."""
    first: dict[str, float] = {}
    for order in orders:
        batch_id = order.client_order_id.split(":", 1)[0]
        stamp = order.created_at.timestamp()
        if batch_id not in first or stamp < first[batch_id]:
            first[batch_id] = stamp
    return first


def fill_ttfo(cell: CellResult, submits: Mapping[str, float], first: Mapping[str, float]) -> None:
    """Set the cell's time-to-first-order percentiles from its batches that placed."""
    delays = sorted(first[b] - t for b, t in submits.items() if b in first)
    if delays:
        cell.ttfo_p50_ms = round(percentile(delays, 50) * 1000, 2)
        cell.ttfo_p99_ms = round(percentile(delays, 99) * 1000, 2)
