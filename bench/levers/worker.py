"""``python -m bench.levers.worker [options]``: our worker with lever options.

Same environment as ``worker.py`` (TEMPORAL_ADDRESS, EXECBATCH_TASK_QUEUE,
EXECBATCH_VENUE_URL, EXECBATCH_VENUE_ACCOUNT); see ``WorkerOptions``.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from bench.levers.worker_options import WorkerOptions
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig


async def run(options: WorkerOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    config = ExecbatchConfig.from_env()
    client = await connect(config)
    adapter = options.adapter(config.venue_url, config.venue_account)
    try:
        async with options.build(client, config.task_queue, adapter):
            await stop.wait()
    finally:
        await adapter.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.levers.worker")
    WorkerOptions.add_arguments(parser)
    asyncio.run(run(WorkerOptions.from_args(parser.parse_args())))


if __name__ == "__main__":
    main()
