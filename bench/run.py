"""The benchmark run: start the stack, measure every cell, growth, soak; report.

The three systems share one dev server, one venue and one machine; their cells
are interleaved (ours, naive, direct for each shape and load) so that noise
from the shared machine hits them alike.
"""

from __future__ import annotations

import os
import platform
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from temporalio.client import Client
from temporalio.worker import Worker

from bench.actions import billable_actions
from bench.batches import ACCOUNT, ACCOUNT_CASH, BatchFactory, BatchSpec
from bench.cells import CellResult, Load, Probe, measure
from bench.first_order import fill_ttfo, first_orders
from bench.floor.workflow import FloorWorkflow
from bench.growth import GrowthResult, run_growth_point
from bench.report import (
    cells_table,
    growth_table,
    print_all,
    ratio_rows,
    ratio_table,
    write_json,
)
from bench.soak import SoakResult, soak
from bench.stack import DevServer, WorkerProcess, worker_env
from bench.systems import (
    DirectSystem,
    FloorSystem,
    NaiveSystem,
    OursSystem,
    System,
    bench_settings,
)
from execbatch.client.embedded import EmbeddedExecutor
from execbatch.core.enums import BatchExecutionMode
from execbatch.temporal.server_tuning import DYNAMIC_CONFIG
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess

MODES = tuple(BatchExecutionMode)
DIRECT_POOLS = 8
"""Small httpx pools the direct reference spreads its requests over."""


@dataclass
class RunConfig:
    duration: float = 4.0
    warmup: float = 1.0
    legs: Sequence[int] = (2, 3)
    modes: Sequence[BatchExecutionMode] = MODES
    concurrencies: Sequence[int] = (1, 16, 64)
    rate: float = 20.0
    open_loop_legs: int = 3
    growth_legs: Sequence[int] = (1, 10, 100, 1000)
    compensating_legs: Sequence[int] = (3, 1000)
    growth_timeout: float = 45.0
    soak_seconds: float = 0.0
    workers: int = 1
    worker_argv: Sequence[str] = ("worker.py",)
    venue_sync: str = "FULL"
    db_filename: Path | None = None
    tuned_server: bool = True
    systems: Sequence[str] = ("floor", "ours", "naive", "direct")
    json_path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Stack:
    """Dev server + venue + workers for one run; ``close`` stops all of them."""

    def __init__(self, config: RunConfig, tag: str) -> None:
        self.config = config
        self.tag = tag
        self.server = DevServer(db_filename=config.db_filename, tuned=config.tuned_server)
        self.venue = VenueProcess(
            extra_args=["--sync", config.venue_sync, "--log-level", "WARNING"]
        )
        self.workers: dict[str, list[WorkerProcess]] = {}
        self.client: Client
        self.naive_client: Client
        self.http_pools: list[httpx.AsyncClient]

    async def start(self, exits: AsyncExitStack) -> None:
        exits.callback(self.server.stop)
        self.client = await self.server.start()
        self.naive_client = await Client.connect(self.server.address)
        await self.venue.astart()
        exits.push_async_callback(self.venue.aclose)
        async with PaperVenueAdmin(self.venue.base_url) as admin:
            await admin.fund_account(ACCOUNT, ACCOUNT_CASH)
        self.http_pools = [
            httpx.AsyncClient(
                base_url=self.venue.base_url,
                limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
            )
            for _ in range(DIRECT_POOLS)
        ]
        for pool in self.http_pools:
            exits.push_async_callback(pool.aclose)
        exits.callback(self.stop_workers)

    def queue(self, name: str) -> str:
        return f"{name}-{self.tag}"

    def start_workers(self, name: str, argv: Sequence[str], count: int) -> list[WorkerProcess]:
        env = worker_env(self.server.address, self.queue(name), self.venue.base_url, ACCOUNT)
        procs = [
            WorkerProcess(argv=list(argv), env=env, name=f"{name}-{i}").start()
            for i in range(count)
        ]
        self.workers[name] = procs
        return procs

    def stop_workers(self, name: str | None = None) -> None:
        for key in [name] if name else list(self.workers):
            for proc in self.workers.pop(key, []):
                proc.stop()

    def probe(self, worker_name: str | None) -> Probe:
        worker_pids = [w.pid for w in self.workers.get(worker_name or "", [])]
        return Probe(
            {
                "worker": worker_pids,
                "venue": [self.venue.pid] if self.venue.pid else [],
                "server": [self.server.pid],
                "driver": [os.getpid()],
            }
        )


async def ready(system: System, spec: BatchSpec, timeout: float = 60.0) -> None:
    """Run batches until one succeeds: the worker is up and warm."""
    deadline = time.monotonic() + timeout
    last: str | None = "never ran"
    while time.monotonic() < deadline:
        try:
            last = await system.run_batch(spec)
        except Exception as exc:  # noqa: BLE001 - keep trying until the deadline
            last = f"{type(exc).__name__}: {exc}"
        if last is None:
            return
    raise RuntimeError(f"{system.name} never completed a batch: {last}")


def run_info(config: RunConfig, stack: Stack, started: str) -> dict[str, Any]:
    return {
        "started": started,
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg(),
        "temporal_storage": stack.server.storage,
        "server_dynamic_config": DYNAMIC_CONFIG if stack.server.tuned else {},
        "venue_sync": config.venue_sync,
        "workers": config.workers,
        "worker_argv": list(config.worker_argv),
        "duration_s": config.duration,
        "warmup_s": config.warmup,
        "open_loop_rate": config.rate,
        **config.extra,
    }


FLOOR = "floor"
WITH_HISTORY = ("ours", "ours-embedded", "naive", FLOOR)
"""Systems whose batches are workflows (their actions are counted from a history)."""


def in_driver_probe(stack: Stack) -> Probe:
    """Process groups of a system whose worker runs in this (the driver's) process: its
    CPU is the worker column, and the driver column stays empty (one process)."""
    return Probe(
        {
            "worker": [os.getpid()],
            "venue": [stack.venue.pid] if stack.venue.pid else [],
            "server": [stack.server.pid],
            "driver": [],
        }
    )


async def start_floor(
    stack: Stack, factory: BatchFactory, result_bytes: dict[int, int], exits: AsyncExitStack
) -> tuple[System, Probe]:
    """The floor's default ``Worker`` in this (the driver's) process, where an eager
    start can hand it the first workflow task; its CPU is the worker column."""
    worker = Worker(stack.client, task_queue=stack.queue(FLOOR), workflows=[FloorWorkflow])
    await exits.enter_async_context(worker)
    system = FloorSystem(stack.client, stack.queue(FLOOR), factory, result_bytes)
    return system, in_driver_probe(stack)


async def count_actions(
    client: Client, cells: Sequence[tuple[CellResult, dict[str, float]]]
) -> None:
    """Each workflow cell's actions per batch, from the history of its last batch."""
    for cell, submits in cells:
        if cell.system not in WITH_HISTORY or not submits:
            continue
        batch_id = max(submits, key=submits.__getitem__)
        history = await client.get_workflow_handle(batch_id).fetch_history()
        cell.actions_per_batch = sum(billable_actions(history).values())


async def time_to_first_order(
    base_url: str, cells: Sequence[tuple[CellResult, dict[str, float]]]
) -> None:
    """Every cell's submit-to-first-order percentiles, from the venue's orders."""
    async with PaperVenueAdmin(base_url) as admin:
        first = first_orders(await admin.orders(account=ACCOUNT))
    for cell, submits in cells:
        fill_ttfo(cell, submits, first)


EMBEDDED = "ours-embedded"
"""Our executor with its worker in the driver process (``EmbeddedExecutor``, eager start)."""


async def start_embedded(
    stack: Stack, factory: BatchFactory, exits: AsyncExitStack
) -> tuple[System, Probe]:
    """``EmbeddedExecutor`` on its own task queue, in this (the driver's) process.

    Its CPU is reported in the worker column and the driver column stays empty:
    worker and submitter are one process, so the two cannot be told apart.
    """
    adapter = PaperVenueAdapter(stack.venue.base_url, account=ACCOUNT)
    exits.push_async_callback(adapter.aclose)
    executor = EmbeddedExecutor(
        stack.client, stack.queue(EMBEDDED), adapter, settings=bench_settings()
    )
    await executor.start()
    exits.push_async_callback(executor.stop)
    system = OursSystem(
        stack.client, stack.queue(EMBEDDED), factory, name=EMBEDDED, batches=executor.batches
    )
    return system, in_driver_probe(stack)


async def run_bench(config: RunConfig, console: Console) -> dict[str, Any]:
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    tag = uuid.uuid4().hex[:6]
    factory = BatchFactory(tag)
    stack = Stack(config, tag)
    cells: list[CellResult] = []
    submitted: list[tuple[CellResult, dict[str, float]]] = []
    growth: list[GrowthResult] = []
    soak_result: SoakResult | None = None
    async with AsyncExitStack() as exits:
        await stack.start(exits)
        systems: dict[str, tuple[System, Probe]] = {}
        if "ours" in config.systems:
            stack.start_workers("ours", config.worker_argv, config.workers)
            ours = OursSystem(stack.client, stack.queue("ours"), factory)
            systems["ours"] = (ours, stack.probe("ours"))
        if "naive" in config.systems:
            stack.start_workers("naive", ["-m", "bench.naive.worker"], 1)
            naive = NaiveSystem(stack.naive_client, stack.queue("naive"), factory)
            systems["naive"] = (naive, stack.probe("naive"))
        if "direct" in config.systems:
            systems["direct"] = (DirectSystem(stack.http_pools, factory), stack.probe(None))
        if EMBEDDED in config.systems:
            systems[EMBEDDED] = await start_embedded(stack, factory, exits)
        if FLOOR in config.systems:
            ours_sizes = next(
                (s.result_bytes for s, _ in systems.values() if isinstance(s, OursSystem)), {}
            )
            systems[FLOOR] = await start_floor(stack, factory, ours_sizes, exits)
        warm = BatchSpec(BatchExecutionMode.INDEPENDENT, 2)
        for system, _ in systems.values():
            await ready(system, warm)
        info = run_info(config, stack, started)
        console.print(f"[bold]run[/bold] {info}")

        for legs in config.legs:
            for mode in config.modes:
                spec = BatchSpec(mode, legs)
                for concurrency in config.concurrencies:
                    for system, probe in systems.values():
                        cell = await measure(
                            system,
                            spec,
                            Load(concurrency=concurrency),
                            config.duration,
                            config.warmup,
                            probe,
                        )
                        cells.append(cell)
                        submitted.append((cell, dict(system.submits)))
                        console.print(_line(cell))
        if config.rate > 0:
            for mode in config.modes:
                spec = BatchSpec(mode, config.open_loop_legs)
                for system, probe in systems.values():
                    cell = await measure(
                        system, spec, Load(rate=config.rate), config.duration, config.warmup, probe
                    )
                    cells.append(cell)
                    submitted.append((cell, dict(system.submits)))
                    console.print(_line(cell))

        if "ours" in systems and (config.growth_legs or config.compensating_legs):
            ours_system = systems["ours"][0]
            assert isinstance(ours_system, OursSystem)
            async with PaperVenueAdmin(stack.venue.base_url) as admin:
                for mode in config.modes:
                    for legs in config.growth_legs:
                        point = await run_growth_point(
                            ours_system,
                            stack.client,
                            factory,
                            admin,
                            mode,
                            legs,
                            timeout=config.growth_timeout,
                        )
                        growth.append(point)
                        console.print(f"growth {point}")
                for legs in config.compensating_legs:
                    point = await run_growth_point(
                        ours_system,
                        stack.client,
                        factory,
                        admin,
                        BatchExecutionMode.COORDINATED,
                        legs,
                        compensating=True,
                        timeout=config.growth_timeout,
                    )
                    growth.append(point)
                    console.print(f"growth {point}")

        if config.soak_seconds > 0 and "ours" in systems:
            system, probe = systems["ours"]
            soak_result = await soak(
                system,
                BatchSpec(BatchExecutionMode.COORDINATED, 3),
                16,
                config.soak_seconds,
                probe,
            )
            console.print(f"soak {soak_result.cell} growth {soak_result.rss_growth_mb}")
        for procs in stack.workers.values():
            for proc in procs:
                proc.check_alive()
        await time_to_first_order(stack.venue.base_url, submitted)
        await count_actions(stack.client, submitted)

    rows = ratio_rows(cells)
    embedded_rows = ratio_rows(cells, ours=EMBEDDED)
    document: dict[str, Any] = {
        "run": info,
        "cells": cells,
        "ratios": rows,
        "ratios_embedded": embedded_rows,
        "growth": growth,
        "soak": soak_result,
        "loadavg_at_end": os.getloadavg(),
    }
    tables = [cells_table("closed and open loop", cells), ratio_table(rows)]
    if embedded_rows:
        tables.append(ratio_table(embedded_rows, EMBEDDED))
    if growth:
        tables.append(growth_table(growth))
    print_all(console, *tables)
    path = write_json(document, config.json_path)
    console.print(f"JSON written to {path}")
    return document


def _line(c: CellResult) -> str:
    return (
        f"{c.system:>13} {c.mode:<11} x{c.legs} {c.load:>6}: {c.batches_per_s:7.1f} b/s "
        f"cpu {c.cpu_ms_per_batch} "
        f"p50 {c.p50_ms} p99 {c.p99_ms} max {c.max_ms} err {c.errors} lost {c.lost} "
        f"load1 {c.loadavg_1m}"
    )
