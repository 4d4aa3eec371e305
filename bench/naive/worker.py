"""``python -m bench.naive.worker``: the naive worker, default ``Worker`` options.

Reads TEMPORAL_ADDRESS, EXECBATCH_TASK_QUEUE and EXECBATCH_VENUE_URL like ours.
"""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
from temporalio.client import Client
from temporalio.worker import Worker

from bench.naive.activities import VenueActivities
from bench.naive.workflow import NaiveBatchWorkflow


async def run() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    async with httpx.AsyncClient(base_url=os.environ["EXECBATCH_VENUE_URL"]) as http:
        activities = VenueActivities(http)
        async with Worker(
            client,
            task_queue=os.environ["EXECBATCH_TASK_QUEUE"],
            workflows=[NaiveBatchWorkflow],
            activities=[activities.place_order],
        ):
            await stop.wait()


if __name__ == "__main__":
    asyncio.run(run())
