"""Venue commands: the paper venue, and checking the configured venue before trading."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from execbatch.cli.common import EXIT_BAD_INPUT, EXIT_ERROR, CliError, fail, out, run
from execbatch.cli.usage import whole_number

if TYPE_CHECKING:
    from execbatch.dtos.execution import ExecutionCommand


def venue(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", parser=whole_number(1), help="TCP port.")
    ] = 8700,
    db: Annotated[Path, typer.Option(help="SQLite file (created if missing).")] = Path("venue.db"),
    prices: Annotated[Path | None, typer.Option(help='JSON file {"AAPL": "190.00", ...}.')] = None,
    cash: Annotated[str, typer.Option(help="Cash of account 'default' when created.")] = "1000000",
) -> None:
    """Run the paper venue in the foreground (see docs/VENUE.md)."""
    from execbatch.venue.paper.service import run_venue
    from execbatch.venue.paper.service.config import parse_cash

    try:
        initial_cash = parse_cash(cash)
    except ValueError as exc:
        fail(f"--cash: {exc}", EXIT_BAD_INPUT)
    if prices is not None and not prices.is_file():
        fail(f"--prices: no such file {prices}", EXIT_BAD_INPUT)
    run_venue(host=host, port=port, db_path=db, prices_file=prices, initial_cash=initial_cash)


def venue_check(
    file: Annotated[
        Path | None,
        typer.Argument(help="A directive document whose legs must fit the venue (optional)."),
    ] = None,
) -> None:
    """Check the configured venue before trading for real: connectivity, credentials,
    account status and buying power, clock skew, (with FILE) whether every leg is
    tradable within the venue's quantity and price rules, and whether it is the venue
    the workers of the task queue trade. Places nothing.

    The venue is the worker's: EXECBATCH_VENUE (paper, alpaca, ccxt:binance) and its
    keys from the environment (docs/VENUES.md). Exit codes: 0 every check passed,
    1 a check failed (each problem on its own line), 2 bad input.
    """
    from execbatch.cli.documents import load_batch
    from execbatch.cli.trading import compare_workers_venue
    from execbatch.config.environment import ExecbatchConfig
    from execbatch.venue.adapters.factory import create_adapter
    from execbatch.venue.check import CheckLine
    from execbatch.venue.check import venue_check as run_checks

    config = ExecbatchConfig.from_env()
    commands: tuple[ExecutionCommand, ...] = ()
    if file is not None:
        try:
            commands = load_batch(file).commands
        except CliError as exc:
            fail(str(exc), exc.code)
    try:
        adapter = create_adapter(
            config.venue, account=config.venue_account, paper_url=config.venue_url
        )
    except ValueError as exc:
        fail(str(exc), EXIT_BAD_INPUT)

    async def go() -> list[CheckLine]:
        try:
            lines = await run_checks(adapter, commands)
        finally:
            await adapter.aclose()
        ok, detail = await compare_workers_venue(config)
        return [*lines, CheckLine("the workers' venue", ok, detail)]

    lines = run(go(), config)
    for line in lines:
        mark = "[green]ok[/]  " if line.ok else "[bold red]FAIL[/]"
        out.print(f"{mark} {line.check}: {line.detail}", highlight=False, soft_wrap=True)
    if not all(line.ok for line in lines):
        raise typer.Exit(EXIT_ERROR)
