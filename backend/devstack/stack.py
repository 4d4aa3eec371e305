"""DevStack: the Temporal dev server, the paper venue and N workers as one unit.

    with DevStack(Path(".state")) as stack:          # fixed ports 7233/8233/8700
        stack.config()                               # ExecbatchConfig for clients
    with DevStack.on_free_ports(tmp_path) as stack:  # tests, the demo
        ...

The workers trade the paper venue's native API unless ``worker_venue_env``
says otherwise: given the venue's URL it returns the workers' venue settings
(``EXECBATCH_VENUE=alpaca`` and its keys and URL, say, to trade the paper
venue's Alpaca dialect), and ``venue_env`` is added to the venue's environment
(``EXECBATCH_PAPER_BINANCE_KEYS``). ``execbatch demo --venue`` uses both.
``temporal_args`` are added to ``temporal server start-dev`` (a benchmark's
``--dynamic-config-value``, say: ``python -m bench.throttle --partitions 1``).
``paper_venue=False`` starts no paper venue at all, for workers trading a
venue's own endpoint (``execbatch dev --venue alpaca`` with keys;
``execbatch.devstack.venues``).

Start order is Temporal, venue, workers, each waited for (Temporal answers,
``GET /health``, the task queue has a poller). Stop order is the reverse; it
runs on leaving the ``with`` block and, as a last resort, at interpreter exit.
Children also die with us if we are killed (see ``processes``). The state
folder holds the Temporal and venue databases (history survives restarts), the
children's logs and the lock that keeps a second stack off the same folder.
"""

from __future__ import annotations

import atexit
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from execbatch.config.environment import DEFAULT_TASK_QUEUE, ExecbatchConfig
from execbatch.devstack.health import (
    port_in_use,
    run_sync,
    wait_for_temporal,
    wait_for_venue,
    wait_for_worker,
)
from execbatch.devstack.lock import StackLock
from execbatch.supervision import ManagedProcess, free_port
from execbatch.temporal.binaries import temporal_cli_path
from execbatch.temporal.search_attributes import dev_server_flags
from execbatch.temporal.server_tuning import dynamic_config_flags

DEFAULT_TEMPORAL_PORT = 7233
DEFAULT_UI_PORT = 8233
DEFAULT_VENUE_PORT = 8700
DEFAULT_METRICS_PORT = 9464
"""The first worker's /metrics; worker N serves on DEFAULT_METRICS_PORT + N - 1."""
DEV_DEPLOYMENT = "execbatch-dev"
"""The Worker Deployment of the dev stack's workers (build id ``dev``; Worker Versioning)."""


class PortInUse(RuntimeError):
    """A port the stack needs is taken by something else."""


class StackFailed(RuntimeError):
    """A part of the stack did not come up or died; the message quotes its log."""


@dataclass(frozen=True)
class Service:
    name: str
    address: str
    pid: int | None
    log_path: Path


class DevStack:
    def __init__(
        self,
        state_dir: Path,
        *,
        temporal_port: int = DEFAULT_TEMPORAL_PORT,
        ui_port: int = DEFAULT_UI_PORT,
        venue_port: int = DEFAULT_VENUE_PORT,
        host: str = "127.0.0.1",
        namespace: str = "default",
        task_queue: str = DEFAULT_TASK_QUEUE,
        workers: int = 1,
        venue_args: tuple[str, ...] = (),
        temporal_args: tuple[str, ...] = (),
        venue_env: Mapping[str, str] | None = None,
        worker_venue_env: Callable[[str], Mapping[str, str]] | None = None,
        startup_timeout: float = 60.0,
        metrics_port: int | None = DEFAULT_METRICS_PORT,
        metrics_ports: tuple[int, ...] = (),
        build_id: str = "dev",
        paper_venue: bool = True,
    ) -> None:
        self.state_dir = state_dir.resolve()
        self.host = host
        self.temporal_port = temporal_port
        self.ui_port = ui_port
        self.venue_port = venue_port
        self.namespace = namespace
        self.task_queue = task_queue
        self.worker_count = workers
        self.venue_args = venue_args
        self.temporal_args = temporal_args
        self.venue_env = dict(venue_env or {})
        self.worker_venue_env = worker_venue_env
        self.startup_timeout = startup_timeout
        self.metrics_port = metrics_port
        self.metrics_ports = metrics_ports
        self.build_id = build_id
        self.paper_venue = paper_venue
        self._lock = StackLock(self.state_dir)
        self._processes: list[ManagedProcess] = []
        self._atexit_registered = False

    @classmethod
    def on_free_ports(cls, state_dir: Path, **options: object) -> DevStack:
        """A stack whose ports the OS picked (for tests and the demo): one /metrics port
        per worker, each picked on its own, because the port after a free one may be
        anybody's (a CI run lost a worker to exactly that: ``Address already in use``)."""
        workers = options.get("workers", 1)
        assert isinstance(workers, int)
        ports: dict[str, object] = {
            "temporal_port": free_port(),
            "ui_port": free_port(),
            "venue_port": free_port(),
        }
        if "metrics_port" not in options:
            metrics = tuple(free_port() for _ in range(workers))
            ports.update(metrics_port=metrics[0], metrics_ports=metrics)
        return cls(state_dir, **{**ports, **options})  # type: ignore[arg-type]

    # -------------------------------------------------------------- addresses

    @property
    def temporal_address(self) -> str:
        return f"{self.host}:{self.temporal_port}"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.ui_port}"

    @property
    def venue_url(self) -> str:
        return f"http://{self.host}:{self.venue_port}"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    def config(self) -> ExecbatchConfig:
        """How clients and workers reach this stack."""
        return ExecbatchConfig(
            task_queue=self.task_queue,
            venue_url=self.venue_url,
            ui_url=self.ui_url,
            temporal={"target_host": self.temporal_address, "namespace": self.namespace},
        )

    def worker_env(self, number: int = 1) -> dict[str, str]:
        """Worker ``number``'s environment: ours, minus any Temporal settings pointing
        elsewhere; its /metrics port, Worker Versioning (deployment ``execbatch-dev``),
        and the venue settings ``worker_venue_env`` gives for this stack's venue."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
        env.update(
            TEMPORAL_ADDRESS=self.temporal_address,
            TEMPORAL_NAMESPACE=self.namespace,
            EXECBATCH_TASK_QUEUE=self.task_queue,
            EXECBATCH_VENUE_URL=self.venue_url,
            EXECBATCH_UI_URL=self.ui_url,
            EXECBATCH_DEPLOYMENT_NAME=DEV_DEPLOYMENT,
            EXECBATCH_BUILD_ID=self.build_id,
            PYTHONUNBUFFERED="1",
        )
        if self.metrics_port is not None:
            env["EXECBATCH_METRICS_PORT"] = str(self.worker_metrics_port(number))
        else:
            env.pop("EXECBATCH_METRICS_PORT", None)
        if self.worker_venue_env is not None:
            env.update(self.worker_venue_env(self.venue_url))
        return env

    def worker_metrics_port(self, number: int) -> int:
        """Worker ``number``'s /metrics port: the one picked for it, else counted up from
        ``metrics_port`` (``./run dev``: 9464, 9465, ...)."""
        assert self.metrics_port is not None
        if number <= len(self.metrics_ports):
            return self.metrics_ports[number - 1]
        return self.metrics_port + number - 1

    def services(self) -> list[Service]:
        addresses = {
            "temporal": f"{self.temporal_address} (Web UI {self.ui_url})",
            "venue": self.venue_url,
        }
        return [
            Service(
                p.name, addresses.get(p.name, f"task queue {self.task_queue}"), p.pid, p.log_path
            )
            for p in self._processes
        ]

    # -------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self._lock.acquire(
            {
                "ui_url": self.ui_url,
                "temporal": self.temporal_address,
                "venue": self.venue_url if self.paper_venue else "none",
            }
        )
        try:
            self._check_ports()
            if not self._atexit_registered:
                atexit.register(self.stop)
                self._atexit_registered = True
            self._start_temporal()
            if self.paper_venue:
                self._start_venue()
            self._start_workers()
        except BaseException:
            self.stop()
            raise
        return self

    def _check_ports(self) -> None:
        ports = [("Temporal", self.temporal_port), ("the Temporal Web UI", self.ui_port)]
        if self.paper_venue:
            ports.append(("the paper venue", self.venue_port))
        for what, port in ports:
            if port_in_use(self.host, port):
                raise PortInUse(
                    f"port {port} on {self.host} (for {what}) is already in use by another "
                    "program: stop it or choose other ports"
                )

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> ManagedProcess:
        process = ManagedProcess(name, argv, self.logs_dir / f"{name}.log", env=env)
        self._processes.append(process)
        process.start()
        return process

    def _await(self, process: ManagedProcess, probe: Coroutine[Any, Any, None]) -> None:
        try:
            run_sync(probe)
        except (TimeoutError, RuntimeError) as exc:
            raise StackFailed(
                f"{process.name} did not start: {exc}\n--- {process.log_path} ---\n"
                f"{process.log_tail()}"
            ) from exc

    def _start_temporal(self) -> None:
        argv = [
            str(temporal_cli_path()),
            "server",
            "start-dev",
            "--ip",
            self.host,
            "--port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            "--db-filename",
            str(self.state_dir / "temporal.db"),
            "--log-level",
            "error",
            "--ui-disable-news-fetch",
            *dev_server_flags(),
            *dynamic_config_flags(),
            *self.temporal_args,
        ]
        process = self._spawn("temporal", argv)
        self._await(
            process,
            wait_for_temporal(
                self.temporal_address, self.namespace, self.startup_timeout, lambda: process.alive
            ),
        )

    def _start_venue(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "execbatch.venue",
            "--host",
            self.host,
            "--port",
            str(self.venue_port),
            "--db",
            str(self.state_dir / "venue.db"),
            *self.venue_args,
        ]
        process = self._spawn("venue", argv, venue_process_env(self.venue_env))
        self._await(
            process, wait_for_venue(self.venue_url, self.startup_timeout, lambda: process.alive)
        )

    def _start_workers(self) -> None:
        argv = [sys.executable, "-m", "execbatch.cli.app", "worker"]
        started = [
            self._spawn(f"worker-{n}", argv, self.worker_env(n))
            for n in range(1, self.worker_count + 1)
        ]
        for process in started:
            self._await(
                process,
                wait_for_worker(
                    self.temporal_address,
                    self.namespace,
                    self.task_queue,
                    self.startup_timeout,
                    _alive(process),
                ),
            )

    @property
    def workers(self) -> list[ManagedProcess]:
        """The worker processes (to kill and restart one, as a crash would)."""
        return [p for p in self._processes if p.name.startswith("worker-")]

    def dead(self) -> list[ManagedProcess]:
        """Children that have exited on their own."""
        return [p for p in self._processes if not p.alive]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop workers, venue, then Temporal (reverse start order); idempotent."""
        processes, self._processes = self._processes, []
        try:
            for process in reversed(processes):
                process.stop(timeout)
        finally:
            self._lock.release()
            if self._atexit_registered:
                atexit.unregister(self.stop)
                self._atexit_registered = False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def venue_process_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The paper venue's environment: ours plus ``extra``, without the codec keys.

    The venue needs no codec (it never sees a Temporal payload), so the keys stay
    with the workers. It does need to know that the deployment keeps order data
    confidential: with the codec configured, ``EXECBATCH_VENUE_REDACT_ORDER_DATA``
    is set to true (unless ``extra`` or the environment says false), and the venue
    logs ids and statuses without symbols, quantities or prices.
    """
    from execbatch.security.keys import ENV_KEY_FILE, ENV_KEY_ID, ENV_KEYS
    from execbatch.venue.paper.service.log_redaction import (
        ENV_REDACT,
        redact_order_data_from_env,
    )

    env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
    env[ENV_REDACT] = "true" if redact_order_data_from_env(env) else "false"
    for name in (ENV_KEYS, ENV_KEY_FILE, ENV_KEY_ID):
        env.pop(name, None)
    return env


def _alive(process: ManagedProcess) -> Callable[[], bool]:
    return lambda: process.alive
