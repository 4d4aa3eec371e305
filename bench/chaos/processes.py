"""The processes a chaos run kills: a file-backed Temporal dev server and workers.

Both are real child processes so that a SIGKILL is a real crash: no graceful
shutdown, no flushed buffers, in-flight activities and workflow tasks simply
vanish and Temporal has to notice through its timeouts. The dev server keeps
its state in an SQLite file (``--db-filename``) and its port across restarts,
so workers and clients reconnect to the same address.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from temporalio.client import Client
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from backend.temporal.binaries import temporal_cli_path
from backend.temporal.converter import build_data_converter
from backend.temporal.search_attributes import dev_server_flags
from backend.venue.service.process import PROJECT_ROOT, free_port

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


class _Child:
    """One child process with its output appended to a log file."""

    def __init__(self, command: list[str], log_path: Path, env: dict[str, str]) -> None:
        self.command = command
        self.log_path = log_path
        self.env = env
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def exit_code(self) -> int | None:
        return self._proc.poll() if self._proc is not None else None

    def spawn(self) -> None:
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.command,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=PROJECT_ROOT,
        )

    def kill(self) -> None:
        """SIGKILL and reap: a crash."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.kill()
            if proc is not None:
                proc.wait(timeout=10)
        finally:
            self._close_log()

    def terminate(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
        finally:
            self._close_log()

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()


class DevServer:
    """``temporal server start-dev`` on fixed free ports with a database file."""

    def __init__(self, workdir: Path, namespace: str = "default") -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.port = free_port()
        self.http_port = free_port()
        self.metrics_port = free_port()
        self.db_path = workdir / "temporal.db"
        self._child = _Child(self._command(), workdir / "temporal.log", dict(os.environ))

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def _command(self) -> list[str]:
        return [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(self.http_port),
            "--metrics-port",
            str(self.metrics_port),
            "--headless",
            "--db-filename",
            str(self.db_path),
            "--log-level",
            "error",
            *dev_server_flags(),
        ]

    async def start(self, timeout: float = 60.0) -> None:
        self._child.spawn()
        await self._wait_ready(timeout)

    async def _wait_ready(self, timeout: float) -> None:
        """Ready when a client can connect and the namespace answers."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if not self._child.running:
                raise RuntimeError(
                    f"dev server exited with {self._child.exit_code()}; see {self._child.log_path}"
                )
            try:
                client = await Client.connect(
                    self.address, namespace=self.namespace, runtime=quiet_runtime()
                )
                await client.count_workflows()
                return
            except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
                last = exc
                await asyncio.sleep(0.25)
        raise TimeoutError(f"dev server at {self.address} not ready after {timeout}s: {last}")

    async def kill(self) -> None:
        await asyncio.to_thread(self._child.kill)

    async def restart(self) -> None:
        """Crash (SIGKILL) and start again on the same ports and database file."""
        await self.kill()
        await self.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self._child.terminate)

    async def connect(self) -> Client:
        return await Client.connect(
            self.address,
            namespace=self.namespace,
            data_converter=build_data_converter(),
            runtime=quiet_runtime(),
        )


@dataclass
class WorkerProcess:
    """``python worker.py`` against the dev server, the task queue and the venue URL."""

    index: int
    temporal_address: str
    task_queue: str
    venue_url: str
    workdir: Path
    spawns: int = 0
    unexpected_exits: list[int] = field(default_factory=list)
    _child: _Child | None = None

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            TEMPORAL_ADDRESS=self.temporal_address,
            TEMPORAL_NAMESPACE="default",
            EXECBATCH_TASK_QUEUE=self.task_queue,
            EXECBATCH_VENUE_URL=self.venue_url,
            PYTHONUNBUFFERED="1",
            PYTHONPATH=os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH")) if p),
        )
        return env

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.running

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        command = [sys.executable, str(PROJECT_ROOT / "worker.py")]
        self._child = _Child(command, self.workdir / f"worker-{self.index}.log", self._env())
        self._child.spawn()
        self.spawns += 1

    def check_alive(self) -> bool:
        """False (and the exit code recorded) if the worker died on its own."""
        if self._child is None:
            return False
        code = self._child.exit_code()
        if code is None:
            return True
        self.unexpected_exits.append(code)
        self._child = None
        return False

    def kill(self) -> None:
        if self._child is not None:
            self._child.kill()
            self._child = None

    def stop(self) -> None:
        if self._child is not None:
            self._child.terminate()
            self._child = None
