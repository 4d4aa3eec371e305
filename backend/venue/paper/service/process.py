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
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from execbatch.supervision import (
    PROJECT_ROOT,
    ManagedProcess,
    free_port,
    python_child_env,
)

__all__ = ["PROJECT_ROOT", "VenueProcess", "free_port", "start_venue_process"]


class VenueProcess(ManagedProcess):
    """``python -m execbatch.venue`` as a child process on a loopback port.

    ``db_path=None`` uses a fresh temporary directory, removed by ``close()``
    (and by leaving the ``with`` block). The port is chosen once and kept
    across restarts so ``base_url`` stays valid. The venue's output goes to
    ``log_path`` (appended across restarts; set it before ``start()`` to put
    the log elsewhere); start-up failures quote it. Supervision (``stop()``:
    SIGTERM then SIGKILL, ``kill()``: a crash, ``restart()``) is
    ``ManagedProcess``'s; the child stays in our process group, so a Ctrl-C
    reaches it.
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
        self._extra_env = dict(env or {})
        super().__init__(
            "venue", self.command(), self.db_path.with_suffix(".log"), own_session=False
        )

    # ------------------------------------------------------------ properties

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self.alive

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "execbatch.venue",
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
        return self.log_tail(chars=sys.maxsize)

    # ------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Launch the venue and block until ``/health`` answers from *this* process."""
        if self.alive:
            return self
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        # Command line and environment as they are at each (re)start.
        self.argv = self.command()
        self._env = python_child_env(self._extra_env)
        super().start()
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no answer yet"
        with httpx.Client(timeout=1.0) as client:
            while time.monotonic() < deadline:
                self.ensure_alive()
                try:
                    answer = client.get(f"{self.base_url}/health")
                    if answer.status_code == 200 and answer.json().get("pid") == self.pid:
                        return
                    last_error = f"HTTP {answer.status_code} from pid {answer.json().get('pid')}"
                except httpx.TransportError as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.05)
        raise TimeoutError(
            f"venue at {self.base_url} not healthy after {self.startup_timeout}s"
            f" ({last_error}); its log:\n{self.log_tail(4000)}"
        )

    def close(self) -> None:
        """Stop the venue and remove the temporary directory if we created it."""
        self.stop()
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

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
