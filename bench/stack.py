"""The processes a benchmark run needs: a Temporal dev server, a paper venue, workers.

Everything runs on loopback on ports the OS picks, is started by the run and
stopped by it (by PID, never by name). The dev server is in-memory unless a
``db_filename`` is given; the run reports which.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from temporalio.client import Client

from execbatch.devstack.dev_server import dev_server_argv, wait_for_dev_server
from execbatch.supervision import PROJECT_ROOT, ManagedProcess, free_port, python_child_env
from execbatch.temporal.converter import build_data_converter
from execbatch.temporal.server_tuning import dynamic_config_flags


@dataclass
class DevServer:
    """``temporal server start-dev`` on free ports, headless."""

    db_filename: Path | None = None
    tuned: bool = True
    """Run with ``execbatch.temporal.server_tuning.DYNAMIC_CONFIG`` (eager start, fast
    transfer/timer queue reads); False: the dev server's defaults."""
    port: int = field(default_factory=free_port)
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-temporal-")) / "server.log"
    )
    _process: ManagedProcess | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self._process is not None and self._process.pid is not None
        return self._process.pid

    @property
    def storage(self) -> str:
        return f"file {self.db_filename}" if self.db_filename else "in-memory"

    def command(self) -> list[str]:
        return dev_server_argv(
            self.port,
            http_port=free_port(),
            metrics_port=free_port(),
            db_filename=self.db_filename,
            extra=dynamic_config_flags() if self.tuned else (),
        )

    async def start(self) -> Client:
        """Start the server and return a client once it answers."""
        # Our process group: a Ctrl-C on the run reaches the server too.
        self._process = ManagedProcess(
            "dev server", self.command(), self.log_path, own_session=False
        )
        self._process.start()
        await wait_for_dev_server(self._process, self.address)
        return await Client.connect(self.address, data_converter=build_data_converter())

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


@dataclass
class WorkerProcess:
    """One worker as a child process: ``python worker.py`` or a bench worker module."""

    argv: Sequence[str]
    env: Mapping[str, str]
    name: str
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-worker-")) / "worker.log"
    )
    _process: ManagedProcess | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None and self._process.pid is not None
        return self._process.pid

    def start(self) -> WorkerProcess:
        self._process = ManagedProcess(
            self.name,
            [sys.executable, *self.argv],
            self.log_path,
            env=python_child_env(self.env),
            cwd=PROJECT_ROOT,
            own_session=False,
        )
        self._process.start()
        return self

    def check_alive(self) -> None:
        if self._process is None or not self._process.alive:
            tail = self._process.log_tail() if self._process is not None else ""
            raise RuntimeError(f"worker {self.name} died: {tail}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None


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
