"""The processes a chaos run kills: a file-backed Temporal dev server and workers.

Both are real child processes so that a SIGKILL is a real crash: no graceful
shutdown, no flushed buffers, in-flight activities and workflow tasks simply
vanish and Temporal has to notice through its timeouts. The dev server keeps
its state in an SQLite file (``--db-filename``) and its port across restarts,
so workers and clients reconnect to the same address.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from execbatch.devstack.dev_server import dev_server_argv, wait_for_dev_server
from execbatch.supervision import PROJECT_ROOT, ManagedProcess, free_port, python_child_env
from execbatch.temporal.converter import build_data_converter
from execbatch.temporal.server_tuning import dynamic_config_flags

_QUIET_RUNTIME: Runtime | None = None


def quiet_runtime() -> Runtime:
    """A Temporal runtime that logs only errors: a restarting server makes the
    client's retry warnings fill the terminal otherwise."""
    global _QUIET_RUNTIME
    if _QUIET_RUNTIME is None:
        _QUIET_RUNTIME = Runtime(
            telemetry=TelemetryConfig(
                logging=LoggingConfig(
                    filter=TelemetryFilter(core_level="ERROR", other_level="ERROR")
                )
            )
        )
    return _QUIET_RUNTIME


def _child(
    name: str, argv: list[str], log_path: Path, env: dict[str, str] | None
) -> ManagedProcess:
    # Our process group, as before: a Ctrl-C on the chaos run reaches the children too.
    return ManagedProcess(name, argv, log_path, env=env, cwd=PROJECT_ROOT, own_session=False)


class DevServer:
    """``temporal server start-dev`` on fixed free ports with a database file."""

    def __init__(self, workdir: Path, namespace: str = "default") -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.db_path = workdir / "temporal.db"
        argv = dev_server_argv(
            self.port,
            http_port=self.http_port,
            metrics_port=self.metrics_port,
            db_filename=self.db_path,
            extra=dynamic_config_flags(),  # the cluster configuration we recommend
        )
        self._child = _child("dev server", argv, workdir / "temporal.log", None)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    async def start(self, timeout: float = 60.0) -> None:
        """Start (again: same ports, same database file) and wait until it answers."""
        self._child.start()
        await wait_for_dev_server(
            self._child,
            self.address,
            namespace=self.namespace,
            within=timeout,
            runtime=quiet_runtime(),
        )

    async def kill(self) -> None:
        """SIGKILL: a crash."""
        await asyncio.to_thread(self._child.kill)

    async def restart(self) -> None:
        """Crash (SIGKILL) and start again on the same ports and database file."""
        await self.kill()
        await self.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._child.stop, 15.0)

    async def connect(self) -> Client:
        return await Client.connect(
            self.address,
            namespace=self.namespace,
            data_converter=build_data_converter(),
            runtime=quiet_runtime(),
        )


@dataclass
class WorkerProcess:
    """``python worker.py`` against the dev server, the task queue and the venue URL
    (``venue_env``: the environment of another venue's adapter, which replaces it)."""

    index: int
    temporal_address: str
    task_queue: str
    venue_url: str
    workdir: Path
    venue_env: Mapping[str, str] | None = None
    spawns: int = 0
    unexpected_exits: list[int] = field(default_factory=list)
    _child: ManagedProcess | None = None

    def _env(self) -> dict[str, str]:
        venue = (
            dict(self.venue_env)
            if self.venue_env is not None
            else {"EXECBATCH_VENUE_URL": self.venue_url}
        )
        return python_child_env(
            {
                "TEMPORAL_ADDRESS": self.temporal_address,
                "TEMPORAL_NAMESPACE": "default",
                "EXECBATCH_TASK_QUEUE": self.task_queue,
                **venue,
            }
        )

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.alive

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        command = [sys.executable, str(PROJECT_ROOT / "worker.py")]
        log_path = self.workdir / f"worker-{self.index}.log"
        self._child = _child(f"worker-{self.index}", command, log_path, self._env())
        self._child.start()
        self.spawns += 1

    def check_alive(self) -> bool:
        """False (and the exit code recorded) if the worker died on its own."""
        if self._child is None:
            return False
        code = self._child.returncode
        if code is None:
            return True
        self.unexpected_exits.append(code)
        self._child = None
        return False

    def kill(self) -> None:
        """SIGKILL: a crash."""
        if self._child is not None:
            self._child.kill()
            self._child = None

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop(15.0)
            self._child = None
