"""Venue commands: the paper venue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    fail,
)
from execbatch.cli.usage import whole_number


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
