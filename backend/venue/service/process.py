"""Run the venue as a real child process, for tests, benchmarks and demos.

A real process (not an in-process ASGI app) is the point: restarts, crashes
(SIGKILL) and client timeouts then behave as they will in production, and
the SQLite file is only ever touched by the venue itself.

    with VenueProcess() as venue:             # temp DB, free loopback port
        adapter = PaperVenueAdapter(venue.base_url)
        ...
        venue.restart()                        # same port, same DB
        venue.restart(hard=True)               # SIGKILL first: a crash

From async code use ``await venue.astart()`` / ``astop()`` / ``arestart()`` (or
``async with``), which run the blocking parts in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpx

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class VenueProcess:
    """``python -m backend.venue`` as a child process on a loopback port.

    ``db_path=None`` uses a fresh temporary directory, removed by ``close()``
    (and by leaving the ``with`` block). The port is chosen once and kept
    across restarts so ``base_url`` stays valid. The venue's output goes to
    ``log_path`` (appended across restarts); start-up failures quote it.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._tmpdir: Path | None = None
        if db_path is None:
            self._tmpdir = Path(tempfile.mkdtemp(prefix="paper-venue-"))
            db_path = self._tmpdir / "venue.db"
        self.db_path = Path(db_path).resolve()
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.log_path = self.db_path.with_suffix(".log")
        self._env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    # ------------------------------------------------------------ properties

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "backend.venue",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            str(self.db_path),
            *self.extra_args,
        ]

    def log_text(self) -> str:
        """Everything the venue wrote so far (all runs)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # ------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Launch the venue and block until ``/health`` answers from *this* process."""
        if self.running:
            return self
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self._env}
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if part
        )
        env.setdefault("PYTHONUNBUFFERED", "1")
        self._log = self.log_path.open("ab")
        self._proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, env=env
        )
        try:
            self._wait_healthy(self._proc)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                code = proc.poll()
                if code is not None:
                    raise RuntimeError(
                        f"venue exited with code {code} during start-up; its log:\n"
                        f"{self.log_text()[-4000:]}"
                    )
                try:
                    answer = client.get(f"{self.base_url}/health")
                    if answer.status_code == 200 and answer.json().get("pid") == proc.pid:
                        return
                    last_error = f"HTTP {answer.status_code} from pid {answer.json().get('pid')}"
                except httpx.TransportError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)
        raise TimeoutError(
            f"venue at {self.base_url} not healthy after {self.startup_timeout}s"
            f" ({last_error}); its log:\n{self.log_text()[-4000:]}"
        )

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (graceful: in-flight requests get a moment, the DB is closed),
        SIGKILL if it does not exit within ``timeout``."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=timeout)
        finally:
            self._close_log()

    def kill(self) -> None:
        """SIGKILL: simulate a crash (no graceful shutdown at all)."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10.0)
        finally:
            self._close_log()

    def restart(self, *, hard: bool = False) -> Self:
        """Stop (or crash, with ``hard=True``) and start again on the same port and DB."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the venue and remove the temporary directory if we created it."""
        self.stop()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def _close_log(self) -> None:
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ async forms

    async def astart(self) -> Self:
        return await asyncio.to_thread(self.start)

    async def astop(self) -> None:
        await asyncio.to_thread(self.stop)

    async def arestart(self, *, hard: bool = False) -> Self:
        return await asyncio.to_thread(self.restart, hard=hard)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def start_venue_process(
    db_path: str | Path | None = None,
    port: int | None = None,
    extra_args: Sequence[str] = (),
) -> VenueProcess:
    """A started ``VenueProcess``; use it as a context manager to stop it."""
    return VenueProcess(db_path, port=port, extra_args=extra_args).start()
