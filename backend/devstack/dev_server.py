"""``temporal server start-dev`` for the harnesses: its command line and its readiness wait.

The benchmark, the chaos suite and the security tests each run their own dev
server (free ports, their own flags) as a ``ManagedProcess``; this is the one
place that spells the command and decides when the server is ready.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import Runtime

from execbatch.supervision import ManagedProcess
from execbatch.temporal.binaries import temporal_cli_path
from execbatch.temporal.search_attributes import dev_server_flags


def dev_server_argv(
    port: int,
    *,
    http_port: int,
    metrics_port: int,
    host: str = "127.0.0.1",
    ui_port: int | None = None,
    db_filename: Path | None = None,
    log_level: str = "error",
    extra: Sequence[str] = (),
) -> list[str]:
    """The dev server on ``host:port`` with our search attributes.

    ``ui_port=None`` runs it headless; ``db_filename=None`` keeps its state in
    memory (a restart then starts empty). ``extra`` is appended as given.
    """
    argv = [
        str(temporal_cli_path()),
        "server",
        "start-dev",
        "--ip",
        host,
        "--port",
        str(port),
        "--http-port",
        str(http_port),
        "--metrics-port",
        str(metrics_port),
        "--log-level",
        log_level,
    ]
    if ui_port is None:
        argv.append("--headless")
    else:
        argv += ["--ui-ip", host, "--ui-port", str(ui_port), "--ui-disable-news-fetch"]
    if db_filename is not None:
        argv += ["--db-filename", str(db_filename)]
    return [*argv, *dev_server_flags(), *extra]


async def wait_for_dev_server(
    process: ManagedProcess,
    address: str,
    *,
    namespace: str = "default",
    within: float = 60.0,
    runtime: Runtime | None = None,
) -> None:
    """Return once a client can connect and list workflows in ``namespace``
    (within ``within`` seconds);
    ``RuntimeError`` (quoting the log) if the server exits first."""
    deadline = time.monotonic() + within
    last: BaseException | None = None
    while time.monotonic() < deadline:
        process.ensure_alive()
        try:
            client = await Client.connect(address, namespace=namespace, runtime=runtime)
            await client.count_workflows()
            return
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last = exc
            await asyncio.sleep(0.25)
    raise TimeoutError(f"dev server at {address} not ready after {within:g}s: {last}")
