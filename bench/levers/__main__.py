"""``python -m bench.levers``: each performance lever measured on the same stack.

One dev server and one venue (plus a second venue with ``synchronous=NORMAL``
for that lever). Every configuration runs the same two cells:

* latency: 2-leg COORDINATED at concurrency 1 (light load, the p50 target);
* throughput: 3-leg COORDINATED at concurrency 64 (the batches/s target);

against the same naive and direct references. ``--profile NAME`` records the
worker of configuration NAME with py-spy during its throughput cell.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from bench.batches import ACCOUNT, ACCOUNT_CASH, BatchFactory, BatchSpec
from bench.cells import CellResult, Load, Probe, measure
from bench.levers.eager import InProcessWorker
from bench.levers.worker_options import WorkerOptions
from bench.profile import Profiler, summary
from bench.report import RESULTS_DIR, cells_table
from bench.run import RunConfig, Stack, ready
from bench.stack import WorkerProcess, worker_env
from bench.systems import DirectSystem, NaiveSystem, OursSystem, System, bench_settings
from execbatch.client.batch_client import BatchClient
from execbatch.client.embedded import EmbeddedExecutor
from execbatch.core.enums import BatchExecutionMode
from execbatch.dtos.execution import ExecutionSettings
from execbatch.temporal.sandbox import SANDBOX_ENV
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess

LATENCY = (BatchSpec(BatchExecutionMode.COORDINATED, 2), Load(concurrency=1))
THROUGHPUT = (BatchSpec(BatchExecutionMode.COORDINATED, 3), Load(concurrency=64))
PROTO = ("-m", "bench.levers.worker")


@dataclass
class Lever:
    name: str
    description: str
    worker_argv: tuple[str, ...] = ("worker.py",)
    workers: int = 1
    settings: ExecutionSettings | None = None
    venue: str = "FULL"
    in_process: WorkerOptions | None = None
    eager: bool = False
    embedded: bool = False
    """Run ``execbatch.client.embedded.EmbeddedExecutor`` (worker in this process, eager start)."""
    sandbox: bool = True


LEVERS = (
    Lever("baseline", "worker.py as shipped (local placement, sandboxed, defaults)"),
    Lever(
        "regular-placement",
        "placement as a regular activity (ExecutionSettings.local_placement=False)",
        settings=ExecutionSettings(account=ACCOUNT, local_placement=False),
    ),
    Lever("unsandboxed", "UnsandboxedWorkflowRunner", (*PROTO, "--unsandboxed")),
    Lever(
        "1-thread",
        "one thread runs every workflow activation (SDK default: one per task slot)",
        (*PROTO, "--workflow-threads", "1"),
    ),
    Lever(
        "4-threads",
        "four threads run workflow activations",
        (*PROTO, "--workflow-threads", "4"),
    ),
    Lever("2-workers", "two worker.py processes on one queue", workers=2),
    Lever("venue-normal", "venue SQLite synchronous=NORMAL", venue="NORMAL"),
    Lever(
        "in-process-eager",
        "worker in the client's process + request_eager_start",
        in_process=WorkerOptions(),
        eager=True,
    ),
    Lever(
        "gc-tuned",
        "gc.freeze() after start-up, generation-0 threshold 50000",
        (*PROTO, "--gc-threshold", "50000"),
    ),
    Lever(
        "embedded", "EmbeddedExecutor: worker.py's worker in the client, eager start", embedded=True
    ),
    Lever(
        "embedded-unsandboxed",
        "EmbeddedExecutor with EXECBATCH_WORKFLOW_SANDBOX=0",
        embedded=True,
        sandbox=False,
    ),
)


@contextmanager
def sandbox_env(sandbox: bool) -> Iterator[None]:
    """EXECBATCH_WORKFLOW_SANDBOX for a worker built in this process."""
    before = os.environ.get(SANDBOX_ENV)
    os.environ[SANDBOX_ENV] = "1" if sandbox else "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ[SANDBOX_ENV]
        else:
            os.environ[SANDBOX_ENV] = before


async def run_levers(
    names: list[str],
    duration: float,
    warmup: float,
    profile: str | None,
    console: Console,
    cells_spec: tuple[tuple[BatchSpec, Load], ...] = (LATENCY, THROUGHPUT),
    references: bool = True,
) -> dict[str, Any]:
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = uuid.uuid4().hex[:6]
    factory = BatchFactory(tag)
    stack = Stack(RunConfig(), tag)
    results: list[dict[str, Any]] = []
    cells: list[CellResult] = []
    profile_summary: dict[str, object] = {}
    async with AsyncExitStack() as exits:
        await stack.start(exits)
        normal = VenueProcess(extra_args=["--sync", "NORMAL", "--log-level", "WARNING"])
        await normal.astart()
        exits.push_async_callback(normal.aclose)
        async with PaperVenueAdmin(normal.base_url) as admin:
            await admin.fund_account(ACCOUNT, ACCOUNT_CASH)
        venues = {"FULL": stack.venue, "NORMAL": normal}

        async def cells_for(
            name: str, system: System, probe: Probe, profile_pid: int | None = None
        ) -> list[CellResult]:
            await ready(system, BatchSpec(BatchExecutionMode.INDEPENDENT, 2))
            out: list[CellResult] = []
            for spec, load in cells_spec:
                profiler = None
                if profile_pid is not None:
                    stacks = RESULTS_DIR / f"profile-{name}-{spec.label}-{load.label}-{started}.txt"
                    profiler = Profiler(profile_pid, stacks)
                cell = await measure(system, spec, load, duration, warmup, probe)
                if profiler is not None:
                    profiler.stop()
                    profile_summary[f"{name} {spec.label} {load.label}"] = summary(profiler.out)
                cell.system = name
                out.append(cell)
                console.print(
                    f"{name:>18} {cell.load:>5}: {cell.batches_per_s:7.1f} b/s "
                    f"p50 {cell.p50_ms} p99 {cell.p99_ms} err {cell.errors}/{cell.lost}"
                    f" load1 {cell.loadavg_1m}"
                )
            return out

        if references:
            stack.start_workers("naive", ["-m", "bench.naive.worker"], 1)
            naive = NaiveSystem(stack.naive_client, stack.queue("naive"), factory)
            cells += await cells_for("naive", naive, stack.probe("naive"))
            stack.stop_workers("naive")
            cells += await cells_for(
                "direct", DirectSystem(stack.http_pools, factory), stack.probe(None)
            )

        for lever in LEVERS:
            if names and lever.name not in names:
                continue
            queue = f"{lever.name}-{tag}"
            venue = venues[lever.venue]
            settings = lever.settings or bench_settings()
            stop: Callable[[], Awaitable[None]]
            if lever.embedded:
                adapter = PaperVenueAdapter(venue.base_url, account=ACCOUNT)
                with sandbox_env(lever.sandbox):
                    embedded = EmbeddedExecutor(stack.client, queue, adapter, settings=settings)
                await embedded.start()
                system: System = OursSystem(
                    stack.client, queue, factory, name=lever.name, batches=embedded.batches
                )
                pids = [os.getpid()]

                async def stop_embedded(
                    embedded: EmbeddedExecutor = embedded, adapter: PaperVenueAdapter = adapter
                ) -> None:
                    await embedded.stop()
                    await adapter.aclose()

                stop = stop_embedded
            elif lever.in_process is not None:
                inproc = InProcessWorker(
                    stack.client, queue, venue.base_url, ACCOUNT, lever.in_process
                )
                await inproc.start()
                batches = BatchClient(
                    stack.client, queue, settings=settings, eager_start=lever.eager
                )
                system = OursSystem(stack.client, queue, factory, name=lever.name, batches=batches)
                pids = [os.getpid()]
                stop = inproc.stop
            else:
                env = worker_env(stack.server.address, queue, venue.base_url, ACCOUNT)
                procs = [
                    WorkerProcess(list(lever.worker_argv), env, f"{lever.name}-{i}").start()
                    for i in range(lever.workers)
                ]
                system = OursSystem(
                    stack.client, queue, factory, name=lever.name, settings=settings
                )
                pids = [p.pid for p in procs]

                async def stop_procs(procs: list[WorkerProcess] = procs) -> None:
                    for proc in procs:
                        proc.stop()

                stop = stop_procs
            probe = Probe(
                {
                    "worker": pids,
                    "venue": [venue.pid or 0],
                    "server": [stack.server.pid],
                    "driver": [os.getpid()],
                }
            )
            try:
                lever_cells = await cells_for(
                    lever.name,
                    system,
                    probe,
                    pids[0] if profile == lever.name and lever.in_process is None else None,
                )
            finally:
                await stop()
            cells += lever_cells
            results.append(
                {
                    "lever": asdict(lever) | {"settings": None, "in_process": None},
                    "description": lever.description,
                }
            )
    document = {
        "run": {
            "started": started,
            "duration_s": duration,
            "warmup_s": warmup,
            "loadavg_at_start": os.getloadavg(),
            "temporal_storage": stack.server.storage,
        },
        "levers": results,
        "cells": [asdict(c) for c in cells],
        "profile": profile_summary,
    }
    shapes = ", ".join(f"{spec.label} {load.label}" for spec, load in cells_spec)
    console.print(cells_table(f"levers ({shapes})", cells))
    path = RESULTS_DIR / f"levers-{started}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"JSON written to {path}")
    for key, value in profile_summary.items():
        console.print(key, value)
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.levers", description=__doc__)
    parser.add_argument("--only", default="", help="comma list of lever names")
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--profile", help="lever whose worker py-spy records (every cell)")
    parser.add_argument(
        "--throughput",
        default="3x64",
        help="throughput cell as LEGSxCONCURRENCY (COORDINATED), e.g. 2x16; default 3x64",
    )
    parser.add_argument(
        "--no-references", action="store_true", help="skip the naive and direct cells"
    )
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    legs, _, concurrency = args.throughput.partition("x")
    throughput = (
        BatchSpec(BatchExecutionMode.COORDINATED, int(legs)),
        Load(concurrency=int(concurrency)),
    )
    asyncio.run(
        run_levers(
            names,
            args.duration,
            args.warmup,
            args.profile,
            Console(width=200),
            (LATENCY, throughput),
            references=not args.no_references,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
