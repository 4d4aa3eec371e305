"""What the venue holds for a trader: an account's positions, and a batch's orders.

Both go through the adapter of the configured venue (``EXECBATCH_VENUE``,
``execbatch.venue.adapters.factory``) with the trading credentials a worker
uses (for the paper venue ``EXECBATCH_VENUE_API_KEY``), never the admin key:

* ``positions`` is the venue's positions call (``GET /positions?account=``);
* ``orders`` looks each order of the batch up by its client order id. The ids
  are derived from the batch id and the command ids (``execbatch.core.order_ids``:
  ``<batch>:<command>:place``, ``...:revert-1``, ``-2``, ...) and the commands are
  read back from the batch's own input in Temporal, so it needs no order listing
  (on the paper venue ``GET /orders`` lists every account's orders; Alpaca and
  Binance scope listings differently) and works on every venue that looks
  orders up by client order id. A leg the batch reports placed whose order the
  venue read does not hold means this shell reads another venue than the
  workers trade: that is an error (exit 1), never an empty table.

A venue that cannot be read (no keys, refused keys, not answering), or another
venue than the one the workers of the task queue trade (their identities name
it), is one line starting ``cannot read the venue`` and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from temporalio.client import Client
from temporalio.service import RPCError

from execbatch.cli import render
from execbatch.cli.batches import describe_batch
from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    BatchIdArg,
    CliError,
    open_client,
    out,
    resolve_batch_id,
    run,
)
from execbatch.client.batch_client import BatchClient
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import LegStatus
from execbatch.core.order_ids import placement_order_id, revert_order_id
from execbatch.devstack.health import poller_identities
from execbatch.dtos.execution import ExecutionCommand
from execbatch.dtos.execution.batch_result import BatchResult, LegResult
from execbatch.runs.read import read_run_request
from execbatch.venue.adapters.factory import ENV_VENUE, create_adapter
from execbatch.venue.port.adapter import ExchangeAdapter, OrderNotFound, VenueUnavailable

MAX_REVERTS = 100
"""Revert orders looked up per leg at most (a leg rarely needs more than one)."""

LOOKUPS_IN_FLIGHT = 16
"""Concurrent order look-ups (a 1000-leg batch is 1000 look-ups at least)."""


def _adapter(config: ExecbatchConfig) -> ExchangeAdapter:
    """The adapter a worker with this environment builds (``EXECBATCH_VENUE``, its keys)."""
    try:
        return create_adapter(
            config.venue, account=config.venue_account, paper_url=config.venue_url
        )
    except ValueError as exc:  # an unknown venue, missing keys, the live guard
        raise CliError(f"cannot read the venue: {exc}", EXIT_BAD_INPUT) from exc


def _venue_failure(config: ExecbatchConfig, exc: Exception) -> CliError:
    """One line for a venue that is down or refused the request (credentials, account)."""
    venue = f"{ENV_VENUE}={config.venue}"
    if isinstance(exc, VenueUnavailable):
        return CliError(f"cannot read the venue ({venue}): it did not answer: {exc}")
    return CliError(f"cannot read the venue ({venue}): it refused the request: {exc}")


def _placed(leg: LegResult) -> bool:
    """Whether the batch says this leg's placement reached the venue."""
    return leg.filled_quantity > 0 or leg.status in PLACED_STATUSES


PLACED_STATUSES = frozenset(
    {
        LegStatus.PLACED,
        LegStatus.PARTIALLY_FILLED,
        LegStatus.FILLED,
        LegStatus.COMPENSATING,
        LegStatus.COMPENSATED,
    }
)
"""Leg statuses only an order at the venue gives a leg."""


def missing_orders(
    config: ExecbatchConfig, result: BatchResult, rows: Sequence[render.BatchOrder]
) -> CliError | None:
    """The venue read holds none of the orders the batch says it placed: this shell
    reads another venue than the workers trade (``EXECBATCH_VENUE``, its URL or keys
    differ from the workers'). One line naming the first such leg, else None."""
    found = {row.command.command_id for row in rows if row.role == "place" and row.order}
    for leg in result.legs:
        if _placed(leg) and leg.command_id not in found:
            return CliError(
                f"batch {result.batch_id}'s leg {leg.command_id} is {leg.status.value}"
                f" (filled {render.decimal_text(leg.filled_quantity)} {leg.symbol}) but the"
                f" venue read here ({ENV_VENUE}={config.venue}, account"
                f" {config.venue_account}) has no order for it: this shell does not read the"
                " venue the workers trade; export the environment `execbatch dev` prints"
                " (docs/VENUES.md)"
            )
    return None


WORKERS_LOOKUP_SECONDS = 3.0
"""How long ``positions`` waits for Temporal to ask which venue the workers trade."""


async def compare_workers_venue(
    config: ExecbatchConfig, client: Client | None = None
) -> tuple[bool, str]:
    """Whether this shell's ``EXECBATCH_VENUE`` is the venue the workers of its task
    queue trade (their poller identities name it: ``execbatch.worker.worker_identity``),
    and a line saying so. Not comparable (Temporal not reachable, no worker polling)
    is not a mismatch: the venue can be read without workers."""
    from execbatch.worker import identity_venue

    where = f"task queue {config.task_queue} at {config.address}"
    if client is None:
        try:
            client = await asyncio.wait_for(connect(config), WORKERS_LOOKUP_SECONDS)
        except (RuntimeError, TimeoutError):
            return True, f"Temporal at {config.address} did not answer: not compared"
    try:
        identities = await poller_identities(client, config.task_queue)
    except RPCError as exc:
        return True, f"{where} could not be described ({exc.status.name}): not compared"
    venues = sorted({v for i in identities if (v := identity_venue(i)) is not None})
    if not venues:
        return True, f"no worker polls {where}: not compared"
    if config.venue in venues:
        return True, f"the workers on {where} trade {config.venue}"
    return False, (
        f"the workers on {where} trade {', '.join(venues)} but this shell reads"
        f" {ENV_VENUE}={config.venue}: export the environment `execbatch dev` prints"
        " (docs/VENUES.md)"
    )


async def refuse_another_venue(config: ExecbatchConfig, client: Client | None = None) -> None:
    ok, detail = await compare_workers_venue(config, client)
    if not ok:
        raise CliError(f"cannot read the venue the workers trade: {detail}")


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def positions(
    account: Annotated[
        str | None,
        typer.Option(
            metavar="ACCOUNT",
            help="The venue account (default: EXECBATCH_VENUE_ACCOUNT, else 'default').",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Show an account's net positions at the venue (negative = short)."""
    config = ExecbatchConfig.from_env()
    name = account or config.venue_account

    async def go() -> list[Any]:
        await refuse_another_venue(config)
        adapter = _adapter(config)
        try:
            return sorted(await adapter.positions(name), key=lambda p: p.symbol)
        except (VenueUnavailable, RuntimeError) as exc:
            if "ACCOUNT_NOT_FOUND" in str(exc):
                raise CliError(f"the venue has no account {name!r}") from exc
            raise _venue_failure(config, exc) from exc
        finally:
            await adapter.aclose()

    held = run(go(), config)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "symbol": p.symbol,
                        "quantity": render.decimal_text(p.quantity),
                        "avg_price": render.decimal_text(p.avg_price),
                    }
                    for p in held
                ],
                indent=2,
            )
        )
        return
    if not held:
        out.print(f"no positions in account {name}", highlight=False)
        return
    out.print(render.positions_table(held, name))


async def _lookup(adapter: ExchangeAdapter, client_order_id: str) -> Any:
    try:
        return await adapter.get_order(client_order_id)
    except OrderNotFound:
        return None


async def _leg_orders(
    adapter: ExchangeAdapter, batch_id: str, command: ExecutionCommand, slots: asyncio.Semaphore
) -> list[render.BatchOrder]:
    async with slots:
        placement = placement_order_id(batch_id, command.command_id)
        rows = [render.BatchOrder(command, "place", placement, await _lookup(adapter, placement))]
        if rows[0].order is None:
            return rows  # never placed (or not yet): nothing to revert
        for attempt in range(1, MAX_REVERTS + 1):
            revert = revert_order_id(batch_id, command.command_id, attempt)
            order = await _lookup(adapter, revert)
            if order is None:
                break
            rows.append(render.BatchOrder(command, f"revert-{attempt}", revert, order))
        return rows


async def batch_orders(
    adapter: ExchangeAdapter, batch_id: str, commands: Sequence[ExecutionCommand]
) -> list[render.BatchOrder]:
    """Every venue order of the batch's legs, by derived client order id, leg by leg."""
    slots = asyncio.Semaphore(LOOKUPS_IN_FLIGHT)
    per_leg = await asyncio.gather(*(_leg_orders(adapter, batch_id, c, slots) for c in commands))
    return [row for rows in per_leg for row in rows]


def orders(
    given: BatchIdArg,
    as_json: JsonOpt = False,
) -> None:
    """Show a batch's orders at the venue: each leg's placement and its reverts."""
    config = ExecbatchConfig.from_env()

    async def go() -> tuple[str, list[render.BatchOrder]]:
        client = await open_client(config)
        batch_id = await resolve_batch_id(client, given, config)
        request = await read_run_request(client, batch_id)
        await refuse_another_venue(config, client)
        adapter = _adapter(config)
        try:
            rows = await batch_orders(adapter, batch_id, request.batch.commands)
        except (VenueUnavailable, RuntimeError) as exc:
            raise _venue_failure(config, exc) from exc
        finally:
            await adapter.aclose()
        try:
            result, _ = await describe_batch(
                BatchClient(client, config.task_queue), batch_id, config
            )
        except CliError:
            return batch_id, rows  # a closed run not settled yet: nothing to hold them against
        problem = missing_orders(config, result, rows)
        if problem is not None:
            raise problem
        return batch_id, rows

    batch_id, rows = run(go(), config)
    if as_json:
        typer.echo(json.dumps([row.as_json() for row in rows if row.order], indent=2))
        return
    out.print(render.orders_table(rows, batch_id))
