"""The systems under test, each able to run one batch end to end and say if it went right.

* ``OursSystem``: ``BatchClient.start_batch`` + the workflow result (our executor);
* ``NaiveSystem``: the naive-Temporal reference in ``bench.naive``;
* ``DirectSystem``: the same legs straight to the venue with asyncio + httpx,
  no durability at all;
* ``FloorSystem``: a Temporal workflow that does nothing but return a result the
  size of ours, started eagerly on a default worker: the floor of any executor
  built on this server.

Each system notes when it sent each batch (``submits``, wall clock, the clock
the venue stamps orders with), so a run can tell the time to the first order.

``run_batch`` returns None on success, or a short error text: a batch whose
result is not what the load expects counts as an error, never as a success.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from typing import Protocol

import httpx
from temporalio.client import Client

from bench.batches import ACCOUNT, BatchFactory, BatchSpec
from bench.floor.workflow import FloorWorkflow
from bench.naive.shared import NaiveBatch, NaiveLeg
from bench.naive.workflow import NaiveBatchWorkflow
from execbatch.client.batch_client import BatchClient
from execbatch.core.enums import BatchExecutionMode, BatchStatus
from execbatch.dtos.execution import ExecutionCommandBatch, ExecutionSettings

RESULT_TIMEOUT = 120.0
"""A batch without a result after this long is counted as lost."""


class System(Protocol):
    name: str
    submits: dict[str, float]
    """Batch id -> wall-clock time (``time.time()``) its submission began."""

    async def run_batch(self, spec: BatchSpec) -> str | None: ...


def bench_settings() -> ExecutionSettings:
    return ExecutionSettings(account=ACCOUNT)


class OursSystem:
    """Our executor through its public client API."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        factory: BatchFactory,
        name: str = "ours",
        settings: ExecutionSettings | None = None,
        batches: BatchClient | None = None,
    ) -> None:
        self.name = name
        self.submits: dict[str, float] = {}
        self.result_bytes: dict[int, int] = {}
        """Legs -> size of the JSON of the last result (what the floor returns)."""
        self._batches = batches or BatchClient(
            client, task_queue, settings=settings or bench_settings()
        )
        self._factory = factory

    async def run_batch(self, spec: BatchSpec) -> str | None:
        batch = self._factory.batch(spec, self.name)
        return await self.run(batch, BatchStatus.COMPLETED)

    async def run(self, batch: ExecutionCommandBatch, expected: BatchStatus) -> str | None:
        self.submits[batch.batch_id] = time.time()
        submission = await self._batches.start_batch(batch)
        result = await asyncio.wait_for(submission.handle.result(), RESULT_TIMEOUT)
        self.result_bytes[len(batch.commands)] = len(result.model_dump_json())
        if result.status is not expected:
            return f"{batch.batch_id}: {result.status.value} ({result.reason})"
        return None


class NaiveSystem:
    """The naive-Temporal reference (default data converter, its own task queue)."""

    name = "naive"

    def __init__(self, client: Client, task_queue: str, factory: BatchFactory) -> None:
        self._client = client
        self._task_queue = task_queue
        self._factory = factory
        self.submits: dict[str, float] = {}

    async def run_batch(self, spec: BatchSpec) -> str | None:
        batch = self._factory.batch(spec, self.name)
        self.submits[batch.batch_id] = time.time()
        naive = NaiveBatch(
            batch_id=batch.batch_id,
            mode=batch.mode.value,
            legs=[
                NaiveLeg(
                    client_order_id=f"{batch.batch_id}:{c.command_id}",
                    account=ACCOUNT,
                    symbol=c.symbol,
                    side=c.side.value,
                    quantity=str(c.quantity),
                )
                for c in batch.commands
            ],
        )
        handle = await self._client.start_workflow(
            NaiveBatchWorkflow.run, naive, id=batch.batch_id, task_queue=self._task_queue
        )
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        if result.statuses != ["FILLED"] * spec.legs:
            return f"{batch.batch_id}: {result.statuses}"
        return None


class DirectSystem:
    """The floor: legs posted straight to the venue, nothing durable.

    Requests are spread round robin over several small httpx pools: one pool
    with many requests in flight spends more time in its own bookkeeping than
    the venue spends on the orders (encode/httpx#3215), and the floor should
    not carry that handicap.
    """

    name = "direct"

    def __init__(self, pools: Sequence[httpx.AsyncClient], factory: BatchFactory) -> None:
        self._pools = itertools.cycle(pools)
        self._factory = factory
        self.submits: dict[str, float] = {}

    async def run_batch(self, spec: BatchSpec) -> str | None:
        batch = self._factory.batch(spec, self.name)
        self.submits[batch.batch_id] = time.time()
        legs = [
            {
                "client_order_id": f"{batch.batch_id}:{c.command_id}",
                "account": ACCOUNT,
                "symbol": c.symbol,
                "side": c.side.value,
                "order_type": "MARKET",
                "quantity": str(c.quantity),
            }
            for c in batch.commands
        ]
        if spec.mode is BatchExecutionMode.SEQUENTIAL:
            statuses = []
            for leg in legs:
                statuses.append(await self._place(leg))
                if statuses[-1] != "FILLED":
                    break
        else:
            statuses = list(await asyncio.gather(*(self._place(leg) for leg in legs)))
        if statuses != ["FILLED"] * spec.legs:
            return f"{batch.batch_id}: {statuses}"
        return None

    async def _place(self, leg: dict[str, str]) -> str:
        response = await next(self._pools).post("/orders", json=leg)
        response.raise_for_status()
        status: str = response.json()["status"]
        return status


class FloorSystem:
    """The floor: ``FloorWorkflow`` on a default ``Worker`` in this (the driver's)
    process, started eagerly, returning as many bytes as our result for the same
    shape (``result_bytes``, measured from ours; 1 KiB per leg when ours is absent)."""

    name = "floor"

    def __init__(
        self, client: Client, task_queue: str, factory: BatchFactory, result_bytes: dict[int, int]
    ) -> None:
        self._client = client
        self._task_queue = task_queue
        self._factory = factory
        self._result_bytes = result_bytes
        self.submits: dict[str, float] = {}

    async def run_batch(self, spec: BatchSpec) -> str | None:
        batch_id = self._factory.next_id(self.name)
        size = self._result_bytes.get(spec.legs, 1024 * spec.legs)
        self.submits[batch_id] = time.time()
        handle = await self._client.start_workflow(
            FloorWorkflow.run,
            size,
            id=batch_id,
            task_queue=self._task_queue,
            request_eager_start=True,
        )
        result = await asyncio.wait_for(handle.result(), RESULT_TIMEOUT)
        if len(result) != size:
            return f"{batch_id}: {len(result)} bytes, not {size}"
        return None
