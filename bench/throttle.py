"""``python -m bench.throttle``: the placement rate an account's ``max_orders_per_second``
achieves across several worker processes, measured at the venue.

The throttle is a Temporal task-queue rate limit (docs/RISK.md, "The throttle"): every
worker polls the account's placement queue with the same rate and the server paces the
queue as a whole. Whether that holds across processes is only visible from outside, so
this starts a dev stack (Temporal dev server, paper venue, ``--workers`` worker
processes, all loading one limits file), submits INDEPENDENT batches of market legs
for a throttled account all at once, and reads the venue's order log: each order's
``created_at`` is the venue's clock when it stored the placement. It prints the
placement rate over sliding 1 s windows (max, mean) against the limit.

Reverts and cancels are not throttled (and these batches have none); only placements
are counted. The figures are a measurement for a human to read: no test times this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from execbatch.client.batch_client import BatchClient
from execbatch.config.connection import connect
from execbatch.core.enums import BatchStatus
from execbatch.devstack import DevStack
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.risk.limits import ENV_FILE
from execbatch.venue.adapters import PaperVenueAdmin

ACCOUNT = "bench-throttle"
SYMBOLS = ("AAPL", "MSFT", "NVDA", "SPY", "QQQ", "TSLA")


@dataclass(frozen=True)
class RateFigures:
    placements: int
    span_seconds: float
    max_per_window: int
    mean_per_window: float
    overall_rate: float


def sliding_rates(times: Sequence[float], window: float = 1.0, step: float = 0.05) -> RateFigures:
    """Placements per ``window`` seconds: the most in any window starting at a placement
    (the true maximum over all windows), and the mean over windows slid by ``step``
    across the run (from the first placement to one window before the last)."""
    ordered = sorted(times)
    n = len(ordered)
    if n == 0:
        return RateFigures(0, 0.0, 0, 0.0, 0.0)
    highest = 0
    j = 0
    for i, start in enumerate(ordered):
        while j < n and ordered[j] < start + window:
            j += 1
        highest = max(highest, j - i)
    first, last = ordered[0], ordered[-1]
    span = last - first
    counts: list[int] = []
    start = first
    while start + window <= last or not counts:
        counts.append(sum(1 for t in ordered if start <= t < start + window))
        start += step
    overall = (n - 1) / span if span > 0 else float(n)
    return RateFigures(n, span, highest, sum(counts) / len(counts), overall)


def per_second(times: Sequence[float]) -> list[int]:
    """Placements in each whole second after the first one (shows a start-up burst)."""
    if not times:
        return []
    first = min(times)
    bins = [0] * (int(max(times) - first) + 1)
    for t in times:
        bins[int(t - first)] += 1
    return bins


def batch_document(legs: int, index: int) -> DirectiveDocument:
    """An INDEPENDENT batch of ``legs`` small market orders (all fill at once)."""
    commands = [
        {
            "command_id": f"c{i}",
            "plan_id": f"p{i}",
            "symbol": SYMBOLS[(index + i) % len(SYMBOLS)],
            "side": "BUY" if (index + i) % 2 else "SELL",
            "order_type": "MARKET",
            "quantity": "1",
        }
        for i in range(1, legs + 1)
    ]
    return DirectiveDocument.model_validate(
        {
            "directive": {
                "directive_id": f"throttle-{uuid.uuid4().hex[:8]}-{index}",
                "strategy_id": "bench-throttle",
                "target_plan_ids": [c["plan_id"] for c in commands],
                "execution_policy": {"mode": "INDEPENDENT", "timeout_seconds": 600},
            },
            "commands": commands,
        }
    )


async def measure(stack: DevStack, orders: int, legs: int) -> tuple[list[datetime], list[str]]:
    """Submit ``orders`` placements in batches of ``legs``; the venue's placement
    times of the account's orders and each batch's final status."""
    client = await connect(stack.config())
    admin = PaperVenueAdmin(stack.venue_url)
    try:
        await admin.fund_account(ACCOUNT, Decimal("100000000"))
        batches = BatchClient(
            client,
            stack.task_queue,
            settings=ExecutionSettings(account=ACCOUNT, poll_interval_seconds=0.2),
        )
        count = -(-orders // legs)
        sizes = [min(legs, orders - i * legs) for i in range(count)]
        submissions = await asyncio.gather(
            *(batches.submit_document(batch_document(size, i)) for i, size in enumerate(sizes))
        )
        results = [await s.handle.result() for s in submissions]
        placed = [
            o.created_at
            for o in await admin.orders(account=ACCOUNT)
            if o.client_order_id.endswith(":place") and not o.fenced
        ]
        return placed, [r.status.value for r in results]
    finally:
        await admin.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throttle",
        description="Achieved placement rate of a throttled account across worker processes.",
    )
    parser.add_argument("--rate", type=float, default=5.0, help="max_orders_per_second")
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    parser.add_argument("--orders", type=int, default=60, help="placements to send")
    parser.add_argument("--legs", type=int, default=3, help="legs per batch")
    parser.add_argument(
        "--partitions",
        type=int,
        help="task queue partitions of the dev server (matching.numTaskqueue{Read,Write}"
        "Partitions; default: the server's, 4); the rate is split evenly among them",
    )
    args = parser.parse_args(argv)

    state = Path(tempfile.mkdtemp(prefix="bench-throttle-"))
    limits = state / "limits.json"
    limits.write_text(json.dumps({"accounts": {ACCOUNT: {"max_orders_per_second": args.rate}}}))
    # The stack's workers take their settings from this process's environment
    # (DevStack.worker_env): every worker loads the same limits, as docs/RISK.md asks.
    os.environ[ENV_FILE] = str(limits)
    print(f"starting a dev stack with {args.workers} worker processes in {state} ...")
    server_args: tuple[str, ...] = ()
    if args.partitions is not None:
        for kind in ("Read", "Write"):
            server_args += (
                "--dynamic-config-value",
                f"matching.numTaskqueue{kind}Partitions={args.partitions}",
            )
    partitions = args.partitions or "default (4)"
    print(f"task queue partitions: {partitions}")
    with DevStack.on_free_ports(state, workers=args.workers, temporal_args=server_args) as stack:
        started = time.monotonic()
        placed, statuses = asyncio.run(measure(stack, args.orders, args.legs))
        elapsed = time.monotonic() - started
    times = [t.timestamp() for t in placed]
    figures = sliding_rates(times)
    settled = [t for t in times if times and t >= min(times) + 1.0]
    steady = sliding_rates(settled)
    done = sum(1 for s in statuses if s == BatchStatus.COMPLETED.value)
    print(
        f"account {ACCOUNT}: max_orders_per_second {args.rate:g}, {args.workers} worker "
        f"processes, {len(statuses)} INDEPENDENT batches of {args.legs} legs "
        f"({done} COMPLETED), {elapsed:.1f} s from first submit to last result"
    )
    print(
        f"placements at the venue: {figures.placements} over {figures.span_seconds:.2f} s "
        f"(first to last)"
    )
    print(
        f"  sliding 1 s windows: max {figures.max_per_window} orders/s, "
        f"mean {figures.mean_per_window:.2f} orders/s (limit {args.rate:g})"
    )
    print(
        f"  from 1 s after the first placement on: max {steady.max_per_window} orders/s, "
        f"mean {steady.mean_per_window:.2f} orders/s"
    )
    print(f"  overall (n-1)/span: {figures.overall_rate:.2f} orders/s")
    print(f"  per whole second from the first placement: {per_second(times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
