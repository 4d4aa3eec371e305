"""Stack commands: the worker, the embedded dev stack, the demo."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from execbatch.devstack import DevStack
    from execbatch.devstack.venues import StackVenue


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
    venue: Annotated[
        str,
        typer.Option(
            envvar="EXECBATCH_VENUE",
            metavar="VENUE",
            help="What the workers trade: paper, alpaca or ccxt:binance (docs/VENUES.md).",
        ),
    ] = "paper",
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="alpaca, ccxt:binance: trade the paper venue's dialect of that venue"
            " (offline, keys of its own) instead of the venue's endpoint with your keys.",
        ),
    ] = False,
    account: Annotated[
        str,
        typer.Option(
            envvar="EXECBATCH_VENUE_ACCOUNT",
            metavar="ACCOUNT",
            help="The account the workers trade (EXECBATCH_VENUE_ACCOUNT).",
        ),
    ] = "default",
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
    """Run Temporal (dev server + Web UI), the venue and workers trading it until Ctrl-C.

    The paper venue runs when it is what the workers trade: --venue paper, or
    --local (its Alpaca or Binance dialect). alpaca / ccxt:binance without
    --local trade that venue's endpoint with the keys in the environment
    (docs/VENUES.md, "Going live"). The banner prints what a second shell
    exports. Workers serve /metrics (Prometheus) and run with Worker Versioning
    (deployment execbatch-dev, build id dev); see docs/OPERATING.md."""
    from execbatch.devstack import DevStack, PortInUse, StackAlreadyRunning, StackFailed
    from execbatch.devstack.venues import StackVenue, canonical_venue
    from execbatch.temporal.binaries import BinaryNotFound

    try:
        name = canonical_venue(venue)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    traded = StackVenue(name, account=account, local=local or name == "paper")
    if not traded.runs_paper_venue:
        try:
            traded.describe(f"http://127.0.0.1:{venue_port}")  # keys, the live guard
        except ValueError as exc:
            fail(f"{exc} (or --local: the paper venue's dialect, offline)", EXIT_BAD_INPUT)
    stack = DevStack(
        state_dir,
        temporal_port=temporal_port,
        ui_port=ui_port,
        venue_port=venue_port,
        workers=workers,
        metrics_port=metrics_port,
        venue_args=traded.venue_args(),
        venue_env=traded.venue_env(),
        worker_venue_env=traded.worker_env,
        paper_venue=traded.runs_paper_venue,
    )
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_terminate)
    parts = "the paper venue and the worker" if traded.runs_paper_venue else "the worker"
    try:
        with err.status(f"starting Temporal, {parts}..."):
            stack.start()
            if traded.runs_paper_venue:
                asyncio.run(_open_paper_account(stack.venue_url, traded.paper_account))
    except (StackAlreadyRunning, PortInUse, BinaryNotFound) as exc:
        fail(str(exc))
    except StackFailed as exc:
        fail(str(exc))
    except (KeyboardInterrupt, _Terminate):
        stack.stop()
        fail("interrupted during start-up; everything started so far was stopped", 130)
    except BaseException:
        stack.stop()
        raise
    code = 0
    try:
        _banner(stack, traded)
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


async def _open_paper_account(venue_url: str, account: str) -> None:
    """The paper account the workers trade, created and funded if it does not exist
    (an existing one keeps its cash and positions: the stack's state survives restarts)."""
    from execbatch.devstack.venues import LOCAL_CASH
    from execbatch.venue.adapters.paper import PaperVenueAdmin

    async with PaperVenueAdmin(venue_url) as admin:
        try:
            await admin.account(account)
        except RuntimeError as exc:
            if "ACCOUNT_NOT_FOUND" not in str(exc):
                raise
            await admin.fund_account(account, LOCAL_CASH)


def _banner(stack: DevStack, traded: StackVenue) -> None:
    """What runs, what the workers trade, and the exact environment of a second shell."""
    facts = traded.describe(stack.venue_url)
    out.print(render.services_table(stack.services()))

    def line(text: str) -> None:
        out.print(text, highlight=False, markup=False, soft_wrap=True)

    line(f"venue:    {traded.name}, {facts.kind}")
    line(f"endpoint: {facts.endpoint}")
    line(f"account:  {traded.account} (batches trade it)")
    line(f"Temporal Web UI: {stack.ui_url}")
    line("A second shell (submit, status, orders, positions, venue-check) exports:")
    env = {
        "TEMPORAL_ADDRESS": stack.temporal_address,
        "TEMPORAL_NAMESPACE": stack.namespace,
        "EXECBATCH_TASK_QUEUE": stack.task_queue,
        "EXECBATCH_UI_URL": stack.ui_url,
        **traded.client_env(stack.venue_url),
    }
    for variable, value in env.items():
        line(f"export {variable}={value}")
    for secret in traded.secrets_to_set():
        line(f"# and {secret} as in this shell (not shown)")
    line(f"state in {stack.state_dir}. Ctrl-C stops everything.")


def demo(
    venue: Annotated[
        str,
        typer.Option(
            metavar="VENUE",
            help="paper: the paper venue's own API. alpaca: the same scenarios through"
            " alpaca-py against the paper venue's Alpaca dialect. ccxt:binance (or"
            " binance): DCA on BTC/USDT and a crypto pair (completed, compensated) through"
            " ccxt against its Binance spot dialect. The last two always run on a"
            " temporary stack.",
        ),
    ] = "paper",
) -> None:
    """Run the ADR scenarios (and two failing on purpose) and print one table."""
    from execbatch.cli.demo import run_demo
    from execbatch.devstack import PortInUse, StackFailed
    from execbatch.devstack.venues import canonical_venue
    from execbatch.temporal.binaries import BinaryNotFound

    try:
        name = canonical_venue(venue)
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    config = ExecbatchConfig.from_env()
    try:
        with err.status("running the demo scenarios..."):
            outcome = run_demo(config, name)
    except (StackFailed, PortInUse, BinaryNotFound, CliError) as exc:
        fail(str(exc))
    except httpx.TransportError as exc:
        fail(f"venue not reachable during the demo ({type(exc).__name__}: {exc})")
    out.print(outcome.stack_note, style="dim", highlight=False)
    out.print(render.demo_table(outcome.rows))
    for note in outcome.notes:
        out.print(note, style="dim", highlight=False)
    if outcome.ui_url:
        out.print(f"see the batches in the Web UI: {outcome.ui_url}", highlight=False)
    if not outcome.all_as_expected:
        fail("some scenarios did not end as expected")
