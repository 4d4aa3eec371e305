"""Throughput and latency of ``POST /orders`` on the paper venue.

    python -m bench.venue_bench --orders 2000 --concurrency 32 [--sync NORMAL]

Starts a venue process on a temporary database, fires MARKET orders (BUY and
SELL of 1 share, alternating, so cash never runs out) through
``PaperVenueAdapter`` from ``--concurrency`` concurrent workers, and prints
orders/s and the p50/p90/p99/max latency of each placement as the client saw
it. Each placement is one SQLite transaction (with ``--sync FULL``, one fsync)
plus one HTTP round trip over a kept-alive connection.

``--clients N`` spreads the workers over N adapters (N connection pools).
The default, 1, is how the worker uses the adapter; more clients show how
much of the cost is httpx's own pool bookkeeping, which grows with the number
of requests in flight on one pool (encode/httpx#3215), rather than the venue.

A benchmark, not a test: the figures depend on the machine, nothing is
asserted about them; only the venue's own order count is cross-checked.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

from execbatch.core.enums import OrderSide, OrderType, VenueOrderStatus
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.port.orders import OrderRequest

ACCOUNT = "bench"


@dataclass(frozen=True)
class BenchResult:
    orders: int
    concurrency: int
    clients: int
    synchronous: str
    seconds: float
    orders_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    venue_orders_filled: int


def _percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(0, min(len(sorted_values) - 1, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


async def _fire(adapters: list[PaperVenueAdapter], orders: int, concurrency: int) -> list[float]:
    """Place ``orders`` market orders from ``concurrency`` workers (spread over
    ``adapters``); returns the latencies in seconds."""
    run = uuid.uuid4().hex[:8]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(orders):
        queue.put_nowait(index)
    latencies: list[float] = []

    async def worker(adapter: PaperVenueAdapter) -> None:
        while True:
            try:
                index = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            request = OrderRequest(
                client_order_id=f"bench-{run}-{index}",
                account=ACCOUNT,
                symbol="AAPL",
                side=OrderSide.BUY if index % 2 == 0 else OrderSide.SELL,
                order_type=OrderType.MARKET,
                quantity=Decimal(1),
            )
            started = time.perf_counter()
            placed = await adapter.place_order(request)
            latencies.append(time.perf_counter() - started)
            if placed.status is not VenueOrderStatus.FILLED:
                raise RuntimeError(f"unexpected status {placed.status} for {index}")

    await asyncio.gather(*(worker(adapters[i % len(adapters)]) for i in range(concurrency)))
    return latencies


async def run_bench(
    orders: int, concurrency: int, synchronous: str, warmup: int, clients: int = 1
) -> BenchResult:
    with VenueProcess(extra_args=["--sync", synchronous, "--log-level", "WARNING"]) as venue:
        async with PaperVenueAdmin(venue.base_url) as admin:
            await admin.fund_account(ACCOUNT, "1000000000")
        per_client = -(-concurrency // clients)
        adapters = [
            PaperVenueAdapter(
                venue.base_url, account=ACCOUNT, timeout=30.0, max_connections=per_client
            )
            for _ in range(clients)
        ]
        try:
            if warmup:
                await _fire(adapters, warmup, min(concurrency, warmup))
            started = time.perf_counter()
            latencies = await _fire(adapters, orders, concurrency)
            seconds = time.perf_counter() - started
        finally:
            for adapter in adapters:
                await adapter.aclose()
        async with PaperVenueAdmin(venue.base_url) as admin:
            stats = await admin.stats()
    filled = stats.orders_by_status[VenueOrderStatus.FILLED.value]
    if filled != orders + warmup:
        raise RuntimeError(f"venue reports {filled} filled orders, expected {orders + warmup}")
    ordered = sorted(latencies)
    return BenchResult(
        orders=orders,
        concurrency=concurrency,
        clients=clients,
        synchronous=synchronous,
        seconds=round(seconds, 3),
        orders_per_second=round(orders / seconds, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 2),
        p90_ms=round(_percentile(ordered, 90) * 1000, 2),
        p99_ms=round(_percentile(ordered, 99) * 1000, 2),
        max_ms=round(ordered[-1] * 1000, 2),
        venue_orders_filled=filled,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.venue_bench", description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--clients", type=int, default=1, help="adapters (pools) to spread over")
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL")
    parser.add_argument("--warmup", type=int, default=50, help="orders placed before timing")
    parser.add_argument("--json", type=Path, help="also write the result to this JSON file")
    args = parser.parse_args(argv)
    if min(args.orders, args.concurrency, args.clients) < 1:
        parser.error("--orders, --concurrency and --clients must be at least 1")
    if args.clients > args.concurrency:
        parser.error("--clients cannot exceed --concurrency")

    result = asyncio.run(
        run_bench(args.orders, args.concurrency, args.sync, args.warmup, args.clients)
    )
    print(
        f"paper venue POST /orders: {result.orders} market orders,"
        f" concurrency {result.concurrency} over {result.clients} client(s),"
        f" synchronous={result.synchronous}\n"
        f"  {result.orders_per_second:.1f} orders/s ({result.seconds:.2f} s)\n"
        f"  latency p50 {result.p50_ms:.2f} ms, p90 {result.p90_ms:.2f} ms,"
        f" p99 {result.p99_ms:.2f} ms, max {result.max_ms:.2f} ms"
    )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(asdict(result), indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
