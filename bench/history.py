"""``python -m bench.history``: what one batch costs the server, event by event.

Starts the usual stack (dev server, venue, one worker), runs a few warm-up
batches, then one batch of the given shape for ``ours`` (and ``naive`` with
``--naive``), and prints its history: every event with its time offset from
the first, type, and size. The number of workflow tasks, timers and
search-attribute upserts is what the server's CPU per batch follows.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from contextlib import AsyncExitStack
from datetime import UTC
from typing import Any

from rich.console import Console
from temporalio.api.enums.v1 import EventType

from bench.batches import BatchFactory, BatchSpec
from bench.run import RunConfig, Stack, ready
from bench.systems import NaiveSystem, OursSystem, bench_settings
from execbatch.client.batch_client import BatchClient
from execbatch.core.enums import BatchExecutionMode


def _event_rows(history: Any) -> list[tuple[float, str, int, str]]:
    rows = []
    first = history.events[0].event_time.ToDatetime()
    for event in history.events:
        name = EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")
        offset = (event.event_time.ToDatetime() - first).total_seconds() * 1000
        attrs = event.WhichOneof("attributes") or ""
        detail = ""
        if name == "MARKER_RECORDED":
            detail = event.marker_recorded_event_attributes.marker_name
        elif name == "ACTIVITY_TASK_SCHEDULED":
            detail = event.activity_task_scheduled_event_attributes.activity_type.name
        elif name == "TIMER_STARTED":
            timer = event.timer_started_event_attributes
            detail = f"{timer.start_to_fire_timeout.ToTimedelta().total_seconds():g}s"
        rows.append((offset, name, event.ByteSize(), detail or attrs.removesuffix("_attributes")))
    return rows


async def show(system: str, handle: Any, console: Console) -> None:
    history = await handle.fetch_history()
    rows = _event_rows(history)
    console.print(
        f"[bold]{system}[/]: {len(rows)} events, {sum(e.ByteSize() for e in history.events)} bytes"
    )
    for offset, name, size, detail in rows:
        console.print(f"  {offset:7.1f} ms  {name:<40} {size:5d} B  {detail}")
    counts = Counter(name for _, name, _, _ in rows)
    console.print("  " + ", ".join(f"{n} {k}" for k, n in counts.most_common()))


async def main_async(args: argparse.Namespace, console: Console) -> None:
    tag = uuid.uuid4().hex[:6]
    factory = BatchFactory(tag)
    spec = BatchSpec(BatchExecutionMode(args.mode), args.legs)
    stack = Stack(RunConfig(), tag)
    async with AsyncExitStack() as exits:
        await stack.start(exits)
        argv = args.worker.split() if args.worker else ["worker.py"]
        stack.start_workers("ours", argv, 1)
        ours = OursSystem(stack.client, stack.queue("ours"), factory)
        await ready(ours, spec)
        for _ in range(args.warmup):
            await ours.run_batch(spec)
        batches = BatchClient(stack.client, stack.queue("ours"), settings=bench_settings())
        for _ in range(args.samples):
            batch = factory.batch(spec, "ours")
            if args.timeout:
                batch = batch.model_copy(update={"timeout_seconds": args.timeout})
            t0 = time.time()
            submission = await batches.start_batch(batch)
            t1 = time.time()
            await submission.handle.result()
            t2 = time.time()
            history = await submission.handle.fetch_history()
            first = history.events[0].event_time.ToDatetime().replace(tzinfo=UTC).timestamp()
            last = history.events[-1].event_time.ToDatetime().replace(tzinfo=UTC).timestamp()
            console.print(
                f"client: start RPC {1000 * (t1 - t0):.1f} ms (started event at "
                f"+{1000 * (first - t0):.1f}), history {1000 * (last - first):.1f} ms, "
                f"result at +{1000 * (t2 - last):.1f} ms after the last event; "
                f"total {1000 * (t2 - t0):.1f} ms"
            )
        await show("ours", submission.handle, console)
        if args.naive:
            stack.start_workers("naive", ["-m", "bench.naive.worker"], 1)
            naive = NaiveSystem(stack.naive_client, stack.queue("naive"), factory)
            await ready(naive, spec)
            before = factory.next_id("probe")  # the next naive batch id follows this one
            await naive.run_batch(spec)
            number = int(before.rsplit("-", 1)[1]) + 1
            handle = stack.naive_client.get_workflow_handle(f"naive-{tag}-{number}")
            await show("naive", handle, console)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.history", description=__doc__)
    parser.add_argument("--mode", default="COORDINATED")
    parser.add_argument("--legs", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--timeout", type=int, help="batch timeout_seconds (deadline timer)")
    parser.add_argument("--samples", type=int, default=5, help="timed batches of ours")
    parser.add_argument("--naive", action="store_true", help="also show the naive reference")
    parser.add_argument("--worker", help="worker argv instead of worker.py")
    args = parser.parse_args(argv)
    asyncio.run(main_async(args, Console(width=160)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
