"""The processes a benchmark run needs: a Temporal dev server, a paper venue, workers.

Everything runs on loopback on ports the OS picks, is started by the run and
stopped by it (by PID, never by name). The dev server is in-memory unless a
``db_filename`` is given; the run reports which.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from temporalio.client import Client

from backend.temporal.binaries import temporal_cli_path
from backend.temporal.converter import build_data_converter
from backend.temporal.search_attributes import dev_server_flags
from backend.venue.service.process import PROJECT_ROOT, free_port


def _child_env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(
        part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
    )
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM, then SIGKILL if it lingers; only this one PID."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@dataclass
class DevServer:
    """``temporal server start-dev`` on free ports, headless."""

    db_filename: Path | None = None
    eager_start: bool = True
    port: int = field(default_factory=free_port)
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-temporal-")) / "server.log"
    )
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    @property
    def storage(self) -> str:
        return f"file {self.db_filename}" if self.db_filename else "in-memory"

    def command(self) -> list[str]:
        cmd = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--http-port",
            str(free_port()),
            "--metrics-port",
            str(free_port()),
            "--headless",
            "--log-level",
            "error",
            *dev_server_flags(),
        ]
        if self.eager_start:
            cmd += ["--dynamic-config-value", "system.enableEagerWorkflowStart=true"]
        if self.db_filename is not None:
            cmd += ["--db-filename", str(self.db_filename)]
        return cmd

    async def start(self) -> Client:
        """Start the server and return a client once it answers."""
        log = self.log_path.open("ab")
        # a quick fork/exec; the wait for readiness below is async
        self._proc = subprocess.Popen(  # noqa: ASYNC220
            self.command(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + 60
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"dev server exited with {self._proc.returncode}: "
                    f"{self.log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                client = await Client.connect(self.address, data_converter=build_data_converter())
                await client.service_client.check_health()
                return client
            except RuntimeError as exc:  # connection refused while it boots
                last = exc
                await asyncio.sleep(0.2)
        raise TimeoutError(f"dev server on {self.address} not up after 60s: {last}")

    def stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None


@dataclass
class WorkerProcess:
    """One worker as a child process: ``python worker.py`` or a bench worker module."""

    argv: Sequence[str]
    env: Mapping[str, str]
    name: str
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
    )
    _proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> WorkerProcess:
        log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, *self.argv],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_child_env(self.env),
            cwd=str(PROJECT_ROOT),
        )
        log.close()
        return self

    def check_alive(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError(
                f"worker {self.name} died: {self.log_path.read_text(errors='replace')[-3000:]}"
            )

    def stop(self) -> None:
        if self._proc is not None:
            _terminate(self._proc)
            self._proc = None


def worker_env(address: str, task_queue: str, venue_url: str, account: str) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": address,
        "EXECBATCH_TASK_QUEUE": task_queue,
        "EXECBATCH_VENUE_URL": venue_url,
        "EXECBATCH_VENUE_ACCOUNT": account,
    }


def rss_mb(pids: Sequence[int]) -> float:
    """Resident memory of these processes, in MiB (0 for ones that are gone)."""
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 2**20


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time these processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total
