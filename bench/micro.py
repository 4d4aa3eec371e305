"""``python -m bench.micro {sandbox,http,server,dispatch,rules}``: micro-benchmarks (BENCHMARK.md).

* ``sandbox``: milliseconds to create one workflow instance of our workflow
  per runner (what the sandbox pays per workflow run): the sandbox as
  configured by ``worker.py``, the sandbox without our code cache, with every
  module passed through, and unsandboxed. Run it with and without
  ``PYTHONDONTWRITEBYTECODE=1`` to see what a missing bytecode cache costs.
* ``http``: CPU per venue request of ``PaperVenueAdapter.place_order``
  against a raw asyncio HTTP/1.1 exchange on one kept-alive connection (the
  client-side floor); ``--stub-sniffio`` marks sniffio absent in sys.modules.
* ``server``: dev server CPU per workflow for a workflow that does nothing,
  started normally and eagerly: the server's floor per batch.
* ``dispatch``: light-load latency (one at a time) of start-to-result for a
  workflow running 0, 1 and 2 no-op regular activities, started normally and
  eagerly: what each task dispatched through a task queue costs in latency.
* ``rules``: wall time and worker CPU of a batch's venue-rules check (two
  symbols) at the paper venue's Alpaca dialect through ``AlpacaAdapter``, read
  every batch and reused (``InstrumentRulesReads``). The dialect enforces
  Alpaca's 200 requests a minute, so the count stays small.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import timeit
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

from temporalio import activity, workflow

if TYPE_CHECKING:
    from bench.run import Stack


@workflow.defn(name="BenchNothing")
class NothingWorkflow:
    """Returns a result the size of a small batch result, and nothing else."""

    @workflow.run
    async def run(self, size: int) -> str:
        return "x" * size


@activity.defn(name="bench_noop")
async def noop_activity(value: int) -> int:
    return value


@workflow.defn(name="BenchActivities")
class ActivitiesWorkflow:
    """Runs ``count`` no-op regular activities one after the other."""

    @workflow.run
    async def run(self, count: int) -> int:
        for i in range(count):
            await workflow.execute_activity(
                noop_activity, i, start_to_close_timeout=timedelta(seconds=10)
            )
        return count


def bench_sandbox(count: int) -> None:
    from temporalio.worker import UnsandboxedWorkflowRunner, WorkflowRunner
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    from execbatch.worker import PASSTHROUGH_MODULES, workflow_runner
    from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow

    defn = workflow._Definition.must_from_class(ExecutionBatchWorkflow)
    default = SandboxRestrictions.default
    # In this order: workflow_runner() installs the code cache for the whole process.
    variants: list[tuple[str, Callable[[], WorkflowRunner]]] = [
        (
            "sandbox, no code cache",
            lambda: SandboxedWorkflowRunner(
                restrictions=default.with_passthrough_modules(*PASSTHROUGH_MODULES)
            ),
        ),
        (
            "sandbox, passthrough all",
            lambda: SandboxedWorkflowRunner(restrictions=default.with_passthrough_all_modules()),
        ),
        ("worker.py (sandbox + code cache)", workflow_runner),
        ("unsandboxed", UnsandboxedWorkflowRunner),
    ]
    print(f"PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '')!r}")

    async def measure() -> None:  # instances need a running event loop
        for name, make in variants:
            runner = make()
            runner.prepare_workflow(defn)
            seconds = timeit.timeit(partial(runner.prepare_workflow, defn), number=count)
            print(f"{name:34s} {seconds / count * 1000:6.2f} ms per workflow instance")

    asyncio.run(measure())


async def bench_http(count: int) -> None:
    from execbatch.core.enums import OrderSide, OrderType
    from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
    from execbatch.venue.paper.service.process import VenueProcess
    from execbatch.venue.port.orders import OrderRequest

    venue = VenueProcess(extra_args=["--sync", "NORMAL", "--log-level", "WARNING"])
    await venue.astart()
    tag = uuid.uuid4().hex[:6]
    try:
        async with PaperVenueAdmin(venue.base_url) as admin:
            await admin.fund_account("micro", "1000000000000")
        adapter = PaperVenueAdapter(venue.base_url, account="micro")

        def order(i: int) -> OrderRequest:
            return OrderRequest(
                client_order_id=f"{tag}-{i}",
                account="micro",
                symbol="AAPL",
                side=OrderSide.BUY if i % 2 else OrderSide.SELL,
                order_type=OrderType.MARKET,
                quantity=Decimal(1),
            )

        try:
            for i in range(50):
                await adapter.place_order(order(i))
            cpu = time.process_time()
            for i in range(100, 100 + count, 2):  # two legs in flight, like a 2-leg batch
                await asyncio.gather(
                    adapter.place_order(order(i)), adapter.place_order(order(i + 1))
                )
            adapter_ms = (time.process_time() - cpu) * 1000 / count
        finally:
            await adapter.aclose()

        host, port = venue.base_url.removeprefix("http://").rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        cpu = time.process_time()
        for i in range(200 + count, 200 + 2 * count):
            body = json.dumps(
                {
                    "client_order_id": f"{tag}-{i}",
                    "account": "micro",
                    "symbol": "AAPL",
                    "side": "BUY" if i % 2 else "SELL",
                    "order_type": "MARKET",
                    "quantity": "1",
                }
            ).encode()
            writer.write(
                b"POST /orders HTTP/1.1\r\nhost: venue\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            json.loads(await reader.readexactly(length))
        raw_ms = (time.process_time() - cpu) * 1000 / count
        writer.close()
        await writer.wait_closed()
        print(f"PaperVenueAdapter.place_order: {adapter_ms:.2f} ms CPU per request")
        print(f"raw asyncio HTTP/1.1:          {raw_ms:.2f} ms CPU per request")
    finally:
        await venue.aclose()


@asynccontextmanager
async def _server_and_worker() -> AsyncIterator[tuple[Stack, str]]:
    """The bench's dev server (as ``python -m bench`` runs it) and an unsandboxed
    worker for the micro workflows, so the server's own cost is what shows."""
    from temporalio.worker import UnsandboxedWorkflowRunner, Worker

    from bench.run import RunConfig, Stack

    tag = uuid.uuid4().hex[:6]
    stack = Stack(RunConfig(), tag)
    async with AsyncExitStack() as exits:
        await stack.start(exits)
        queue = f"micro-{tag}"
        async with Worker(
            stack.client,
            task_queue=queue,
            workflows=[NothingWorkflow, ActivitiesWorkflow],
            activities=[noop_activity],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            yield stack, queue


async def bench_server(count: int, concurrency: int) -> None:
    from bench.stack import cpu_seconds

    async with _server_and_worker() as (stack, queue):
        slots = asyncio.Semaphore(concurrency)

        async def one(eager: bool) -> None:
            async with slots:
                handle = await stack.client.start_workflow(
                    NothingWorkflow.run,
                    600,
                    id=f"nothing-{uuid.uuid4().hex}",
                    task_queue=queue,
                    request_eager_start=eager,
                )
                await handle.result()

        for eager in (False, True, False, True):
            await asyncio.gather(*(one(eager) for _ in range(30)))
            before = cpu_seconds([stack.server.pid])
            wall = time.perf_counter()
            await asyncio.gather(*(one(eager) for _ in range(count)))
            elapsed = time.perf_counter() - wall
            server_ms = (cpu_seconds([stack.server.pid]) - before) * 1000 / count
            print(
                f"{'eager' if eager else 'normal':6s} start: server {server_ms:5.1f} ms CPU "
                f"per workflow, {count / elapsed:5.1f} workflows/s at concurrency {concurrency}"
            )


async def bench_dispatch(count: int) -> None:
    import statistics

    async with _server_and_worker() as (stack, queue):
        for activities in (0, 1, 2):
            for eager in (False, True):
                times = []
                for i in range(count + 5):
                    wall = time.perf_counter()
                    handle = await stack.client.start_workflow(
                        ActivitiesWorkflow.run,
                        activities,
                        id=f"dispatch-{uuid.uuid4().hex}",
                        task_queue=queue,
                        request_eager_start=eager,
                    )
                    await handle.result()
                    if i >= 5:  # the first few warm the caches
                        times.append((time.perf_counter() - wall) * 1000)
                print(
                    f"{activities} activities, {'eager' if eager else 'normal':6s} start: "
                    f"p50 {statistics.median(times):6.1f} ms, min {min(times):6.1f} ms"
                )


async def bench_rules(count: int) -> None:
    import tempfile
    from pathlib import Path

    from execbatch.activities.order_activities import InstrumentRulesReads
    from execbatch.venue.adapters.alpaca import AlpacaAdapter
    from execbatch.venue.adapters.paper import PaperVenueAdmin
    from execbatch.venue.paper.service.process import VenueProcess

    account, symbols = "acct-bench-rules", ["AAPL", "MSFT"]
    with tempfile.TemporaryDirectory() as tmp:
        async with VenueProcess(Path(tmp) / "venue.db") as venue:
            async with PaperVenueAdmin(venue.base_url) as admin:
                await admin.fund_account(account, Decimal("1000000"))
                await admin.set_prices({"AAPL": Decimal("100"), "MSFT": Decimal("200")})
            async with AlpacaAdapter(
                account, "secret", account=account, base_url=venue.base_url, timeout=5.0
            ) as adapter:
                for reuse in (0.0, 30.0, 0.0, 30.0):
                    reads = InstrumentRulesReads(adapter, reuse)
                    await reads.rules(symbols)
                    cpu, wall = time.process_time(), time.perf_counter()
                    for _ in range(count):
                        await reads.rules(symbols)
                    wall_ms = (time.perf_counter() - wall) / count * 1000
                    cpu_ms = (time.process_time() - cpu) / count * 1000
                    print(
                        f"reuse {reuse:4.0f} s: {wall_ms:7.3f} ms wall,"
                        f" {cpu_ms:7.3f} ms worker CPU per 2-symbol check"
                    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.micro", description=__doc__)
    parser.add_argument("what", choices=("sandbox", "http", "server", "dispatch", "rules"))
    parser.add_argument("--count", type=int, help="iterations (default 50/1000/300/40/40)")
    parser.add_argument("--concurrency", type=int, default=8, help="server: workflows in flight")
    parser.add_argument("--stub-sniffio", action="store_true", help="http: sniffio absent")
    args = parser.parse_args(argv)
    if args.stub_sniffio and "sniffio" not in sys.modules:
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # import fails fast
    if args.what == "sandbox":
        bench_sandbox(args.count or 50)
    elif args.what == "http":
        asyncio.run(bench_http(args.count or 1000))
    elif args.what == "dispatch":
        asyncio.run(bench_dispatch(args.count or 40))
    elif args.what == "rules":
        asyncio.run(bench_rules(args.count or 40))
    else:
        asyncio.run(bench_server(args.count or 300, args.concurrency))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
