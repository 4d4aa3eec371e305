"""Run the venue: ``run_venue(...)`` for code, ``main(argv)`` for the command line.

``python -m execbatch.venue --port 8700 --db venue.db`` and ``execbatch venue``
both end up in ``serve_venue``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import uvicorn

from execbatch.observability.logs import TEXT_FORMAT, log_format_from_env
from execbatch.observability.logs import configure_logging as configure_log_output
from execbatch.observability.tracing import configure_tracing
from execbatch.venue.paper.service.app import create_app
from execbatch.venue.paper.service.config import (
    DEFAULT_CASH,
    DEFAULT_HOST,
    DEFAULT_PORT,
    SyncMode,
    VenueSettings,
    load_instruments_file,
    load_prices_file,
    parse_cash,
    parse_price,
    parse_price_flag,
)
from execbatch.venue.paper.service.log_redaction import (
    AccessLogRedaction,
    OrderDataLog,
    redact_order_data_from_env,
)

LOG_FORMAT = TEXT_FORMAT


def configure_logging(level: str, *, redact_order_data: bool = False) -> None:
    """Send our log lines somewhere unless the embedding program already does
    (text, or JSON with ``EXECBATCH_LOG_FORMAT=json``), and traces where the
    standard ``OTEL_*`` variables say.

    ``redact_order_data`` also drops a record's extra fields from JSON events
    (as the worker does with the codec on) and takes the query string and
    symbols out of uvicorn's access log paths.
    """
    configure_log_output(level=level.upper(), codec_on=redact_order_data)
    logging.getLogger("execbatch.venue").setLevel(level.upper())
    if redact_order_data:
        access = logging.getLogger("uvicorn.access")
        if not any(isinstance(f, AccessLogRedaction) for f in access.filters):
            access.addFilter(AccessLogRedaction(OrderDataLog(redact=True)))
    configure_tracing("execbatch-venue", redact=redact_order_data)


def build_settings(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db_path: str | Path = "venue.db",
    prices_file: str | Path | None = None,
    prices: Mapping[str, Decimal | str] | None = None,
    initial_cash: Decimal | str | int = DEFAULT_CASH,
    seed: int = 0,
    synchronous: SyncMode = "FULL",
    log_level: str = "INFO",
    access_log: bool = False,
    redact_order_data: bool | None = None,
    instruments_file: str | Path | None = None,
) -> VenueSettings:
    """Settings from plain arguments; ``prices`` win over ``prices_file``;
    ``instruments_file`` lists instruments (replacing the stored rules of each);
    ``redact_order_data=None`` asks the environment (``redact_order_data_from_env``)."""
    overrides: dict[str, Decimal] = {}
    if prices_file is not None:
        overrides.update(load_prices_file(Path(prices_file)))
    for symbol, price in (prices or {}).items():
        overrides[symbol] = price if isinstance(price, Decimal) else parse_price(price)
    return VenueSettings(
        host=host,
        port=port,
        db_path=Path(db_path),
        price_overrides=overrides,
        instrument_overrides=(
            tuple(load_instruments_file(Path(instruments_file))) if instruments_file else ()
        ),
        initial_cash=Decimal(initial_cash),
        fault_seed=seed,
        synchronous=synchronous,
        log_level=log_level,
        access_log=access_log,
        redact_order_data=(
            redact_order_data_from_env() if redact_order_data is None else redact_order_data
        ),
    )


def serve_venue(settings: VenueSettings) -> None:
    """Serve until SIGINT/SIGTERM; the store is closed cleanly on the way out."""
    configure_logging(settings.log_level, redact_order_data=settings.redact_order_data)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        timeout_graceful_shutdown=int(max(1, round(settings.graceful_shutdown_seconds))),
        lifespan="on",
        # JSON logs: uvicorn's own loggers go through our root handler, one event a line
        log_config=None if log_format_from_env() == "json" else uvicorn.config.LOGGING_CONFIG,
    )
    uvicorn.Server(config).run()


def run_venue(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    db_path: str | Path = "venue.db",
    prices_file: str | Path | None = None,
    initial_cash: Decimal | str | int = DEFAULT_CASH,
    seed: int = 0,
    *,
    prices: Mapping[str, Decimal | str] | None = None,
    synchronous: SyncMode = "FULL",
    log_level: str = "INFO",
    access_log: bool = False,
    redact_order_data: bool | None = None,
    instruments_file: str | Path | None = None,
) -> None:
    """Run the paper venue in this process until interrupted (blocking).

    ``prices_file`` / ``prices`` override stored reference prices at start-up;
    ``initial_cash`` funds the ``default`` account only when it is created;
    ``seed`` is the fault seed that rules without their own seed derive from.
    """
    serve_venue(
        build_settings(
            host=host,
            port=port,
            db_path=db_path,
            prices_file=prices_file,
            prices=prices,
            initial_cash=initial_cash,
            seed=seed,
            synchronous=synchronous,
            log_level=log_level,
            access_log=access_log,
            redact_order_data=redact_order_data,
            instruments_file=instruments_file,
        )
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m execbatch.venue",
        description="Run the execbatch paper venue (HTTP API, state in SQLite).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default %(default)s)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="default %(default)s")
    parser.add_argument("--db", default="venue.db", help="SQLite file (default %(default)s)")
    parser.add_argument("--prices", metavar="FILE.json", help='{"AAPL": "190.00", ...}')
    parser.add_argument(
        "--price",
        action="append",
        default=[],
        metavar="SYMBOL=PRICE",
        help="set a reference price (repeatable; wins over --prices)",
    )
    parser.add_argument(
        "--instruments",
        metavar="FILE.json",
        help='list instruments and their rules: [{"symbol": "AAPL", "quantity_step": "1",'
        ' "price_tick": "0.01"}, ...] (replaces the stored rules of each)',
    )
    parser.add_argument(
        "--cash",
        default=str(DEFAULT_CASH),
        help="cash of the 'default' account when first created (default %(default)s)",
    )
    parser.add_argument("--fault-seed", type=int, default=0, help="seed for fault rules")
    parser.add_argument(
        "--sync",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="SQLite synchronous mode (default %(default)s: durable at every commit)",
    )
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--access-log", action="store_true", help="log every HTTP request")
    parser.add_argument(
        "--redact-order-data",
        action="store_true",
        default=None,
        help="keep symbols, quantities and prices out of the log (default: on when"
        " EXECBATCH_VENUE_REDACT_ORDER_DATA=true or the payload codec is configured)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        prices = dict(parse_price_flag(flag) for flag in args.price)
        cash = parse_cash(args.cash)
        if args.instruments:
            load_instruments_file(Path(args.instruments))
    except (ValueError, OSError) as exc:
        _parser().error(str(exc))
    sync: SyncMode = "NORMAL" if args.sync == "NORMAL" else "FULL"
    run_venue(
        host=args.host,
        port=args.port,
        db_path=args.db,
        prices_file=args.prices,
        prices=prices,
        initial_cash=cash,
        seed=args.fault_seed,
        synchronous=sync,
        log_level=args.log_level,
        access_log=args.access_log,
        redact_order_data=args.redact_order_data,
        instruments_file=args.instruments,
    )
    return 0
