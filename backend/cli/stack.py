"""Stack commands: the worker, the embedded dev stack, the demo."""

from __future__ import annotations

import asyncio
import signal
import time
from enum import Enum
from pathlib import Path
from types import FrameType
from typing import Annotated

import httpx
import typer

from execbatch.cli import render
from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    CliError,
    err,
    error_line,
    fail,
    open_client,
    out,
    run,
)
from execbatch.cli.usage import seconds, whole_number
from execbatch.config.environment import ExecbatchConfig


async def _wait_for_venue(config: ExecbatchConfig, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=2.0) as http:
        while True:
            try:
                (await http.get(f"{config.venue_url.rstrip('/')}/health")).raise_for_status()
                return
            except httpx.HTTPError as exc:
                if time.monotonic() >= deadline:
                    raise CliError(
                        f"venue at {config.venue_url} is not reachable after {seconds:g}s "
                        f"({type(exc).__name__}); start it (`execbatch venue`) or set "
                        "EXECBATCH_VENUE_URL"
                    ) from exc
            await asyncio.sleep(0.5)


def worker(
    venue_wait: Annotated[
        float,
        typer.Option(
            metavar="SECONDS",
            parser=seconds,
            help="Seconds to wait for the venue before giving up.",
        ),
    ] = 30.0,
) -> None:
    """Run a worker (configuration from the environment; see docs/OPERATING.md)."""
    from execbatch.risk.limits import RiskConfigError, load_limits
    from execbatch.worker import configure_logging, run_worker

    configure_logging()
    config = ExecbatchConfig.from_env()
    try:
        load_limits()  # refused at start, naming the file and the field
    except RiskConfigError as exc:
        fail(str(exc))

    async def go() -> None:
        if config.venue == "paper":
            await _wait_for_venue(config, venue_wait)
        await open_client(config)
        try:
            await run_worker(config)
        except ValueError as exc:  # EXECBATCH_VENUE or its keys (KeyConfigError)
            raise CliError(str(exc), EXIT_BAD_INPUT) from exc

    run(go(), config)


class _Terminate(Exception):
    """SIGTERM/SIGHUP, turned into an exception so the stack's ``with`` unwinds."""


def _raise_terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminate(signal.Signals(signum).name)


def dev(
    state_dir: Annotated[
        Path, typer.Option(envvar="EXECBATCH_STATE_DIR", help="Databases, logs and the lock.")
    ] = Path(".state"),
    temporal_port: Annotated[
        int, typer.Option(metavar="PORT", parser=whole_number(1), help="Temporal gRPC port.")
    ] = 7233,
    ui_port: Annotated[
        int, typer.Option(metavar="PORT", parser=whole_number(1), help="Temporal Web UI port.")
    ] = 8233,
    venue_port: Annotated[
        int, typer.Option(metavar="PORT", parser=whole_number(1), help="Paper venue port.")
    ] = 8700,
    workers: Annotated[
        int, typer.Option(metavar="N", parser=whole_number(1), help="Worker processes (1 or more).")
    ] = 1,
    metrics_port: Annotated[
        int,
        typer.Option(
            metavar="PORT",
            parser=whole_number(1),
            help="The first worker's /metrics port (worker N: + N - 1).",
        ),
    ] = 9464,
) -> None:
    """Run Temporal (dev server + Web UI), the paper venue and a worker until Ctrl-C.

    Workers serve /metrics (Prometheus) and run with Worker Versioning (deployment
    execbatch-dev, build id dev); see docs/OPERATING.md."""
    from execbatch.devstack import DevStack, PortInUse, StackAlreadyRunning, StackFailed
    from execbatch.temporal.binaries import BinaryNotFound

    stack = DevStack(
        state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        venue_port=venue_port,
        workers=workers,
        metrics_port=metrics_port,
    )
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminate)
    try:
        with err.status("starting Temporal, the paper venue and the worker..."):
            stack.start()
    except (StackAlreadyRunning, PortInUse, BinaryNotFound) as exc:
        fail(str(exc))
    except StackFailed as exc:
        fail(str(exc))
    except (KeyboardInterrupt, _Terminate):
        fail("interrupted during start-up; everything started so far was stopped", 130)
    code = 0
    try:
        out.print(render.services_table(stack.services()))
        out.print(f"Temporal Web UI: [bold]{stack.ui_url}[/]", highlight=False)
        out.print(
            f"state in {stack.state_dir}; clients use TEMPORAL_ADDRESS={stack.temporal_address}"
            f" EXECBATCH_VENUE_URL={stack.venue_url}. Ctrl-C stops everything.",
            highlight=False,
        )
        while not (dead := stack.dead()):
            time.sleep(0.5)
        names = ", ".join(f"{p.name} (exit {p.returncode}, log {p.log_path})" for p in dead)
        err.print(error_line(f"{names} stopped on its own; stopping the stack"))
        code = EXIT_ERROR
    except (KeyboardInterrupt, _Terminate):
        err.print("stopping...")
    finally:
        stack.stop()
    raise typer.Exit(code)


class DemoVenueOption(str, Enum):
    paper = "paper"
    alpaca = "alpaca"
    binance = "binance"


def demo(
    venue: Annotated[
        DemoVenueOption,
        typer.Option(
            help="paper: the paper venue's own API. alpaca: the same scenarios through"
            " alpaca-py against the paper venue's Alpaca dialect. binance: DCA on BTC/USDT"
            " and a crypto pair (completed, compensated) through ccxt against its Binance"
            " spot dialect. The last two always run on a temporary stack.",
        ),
    ] = DemoVenueOption.paper,
) -> None:
    """Run the ADR scenarios (and two failing on purpose) and print one table."""
    from execbatch.cli.demo import run_demo
    from execbatch.devstack import PortInUse, StackFailed
    from execbatch.temporal.binaries import BinaryNotFound

    config = ExecbatchConfig.from_env()
    try:
        with err.status("running the demo scenarios..."):
            outcome = run_demo(config, venue.value)
    except (StackFailed, PortInUse, BinaryNotFound, CliError) as exc:
        fail(str(exc))
    except httpx.TransportError as exc:
        fail(f"venue not reachable during the demo ({type(exc).__name__}: {exc})")
    out.print(outcome.stack_note, style="dim", highlight=False)
    out.print(render.demo_table(outcome.rows))
    if outcome.ui_url:
        out.print(f"see the batches in the Web UI: {outcome.ui_url}", highlight=False)
    if not outcome.all_as_expected:
        fail("some scenarios did not end as expected")
