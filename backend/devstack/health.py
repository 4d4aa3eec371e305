"""Readiness probes: Temporal answers, the venue's /health answers, a worker polls.

Each probe retries until its deadline and then raises ``TimeoutError`` naming
what it last saw, so a stack that fails to come up says why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import httpx
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    DescribeTaskQueueRequest,
)
from temporalio.client import Client

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def port_in_use(host: str, port: int) -> bool:
    """True when something accepts connections on ``host:port`` (or the port cannot be bound)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host, port)) == 0:
            return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers do: connections in TIME_WAIT from a previous run do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


async def _retry(
    what: str,
    probe: Callable[[], Awaitable[T]],
    within: float,
    alive: Callable[[], bool] = lambda: True,
) -> T:
    deadline = time.monotonic() + within
    last = "no answer yet"
    while True:
        if not alive():
            raise RuntimeError(f"{what}: the process exited during start-up")
        try:
            return await probe()
        except (OSError, RuntimeError, httpx.HTTPError, ValueError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not ready after {within:g}s ({last})")
        await asyncio.sleep(0.2)


async def wait_for_temporal(
    address: str, namespace: str, within: float, alive: Callable[[], bool] = lambda: True
) -> None:
    async def probe() -> None:
        client = await Client.connect(address, namespace=namespace)
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )

    await _retry(f"Temporal at {address}", probe, within, alive)


async def wait_for_venue(
    base_url: str, within: float, alive: Callable[[], bool] = lambda: True
) -> None:
    async with httpx.AsyncClient(timeout=1.0) as http:

        async def probe() -> None:
            answer = await http.get(f"{base_url}/health")
            if answer.status_code != 200:
                raise ValueError(f"HTTP {answer.status_code}")

        await _retry(f"venue at {base_url}", probe, within, alive)


async def task_queue_pollers(client: Client, task_queue: str) -> int:
    """How many workers poll ``task_queue`` for workflow tasks right now."""
    return len(await poller_identities(client, task_queue))


async def poller_identities(client: Client, task_queue: str) -> list[str]:
    """The identities of the workers polling ``task_queue`` for workflow tasks (ours
    name their venue: ``execbatch.worker.worker_identity``)."""
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return [poller.identity for poller in answer.pollers]


async def wait_for_worker(
    address: str,
    namespace: str,
    task_queue: str,
    within: float,
    alive: Callable[[], bool] = lambda: True,
) -> None:
    client = await Client.connect(address, namespace=namespace)

    async def probe() -> None:
        if await task_queue_pollers(client, task_queue) == 0:
            raise ValueError(f"no worker polls task queue {task_queue!r} yet")

    await _retry(f"worker on {task_queue!r}", probe, within, alive)
