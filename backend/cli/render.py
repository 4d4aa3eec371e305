"""How batches look in a terminal: rich tables for legs, batch lists and the demo.

Pure functions from our DTOs to rich renderables; the CLI decides where they
are printed (and ``--json`` bypasses them entirely).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from execbatch.client.batch_client import SETTLING, UNSETTLED, BatchSummary
from execbatch.core.enums import BatchStatus, LegStatus, VenueOrderStatus
from execbatch.devstack.stack import Service
from execbatch.dtos.execution import BatchResult, ExecutionCommand, LegResult
from execbatch.venue.port.orders import Position, VenueOrder

STATUS_STYLES: dict[str, str] = {
    BatchStatus.RUNNING.value: "cyan",
    BatchStatus.WINDING_DOWN.value: "yellow",
    BatchStatus.COMPLETED.value: "green",
    BatchStatus.PARTIALLY_COMPLETED.value: "yellow",
    BatchStatus.FAILED.value: "red",
    BatchStatus.COMPENSATED.value: "magenta",
    BatchStatus.NEEDS_ATTENTION.value: "bold red",
    BatchStatus.REJECTED_BY_RISK.value: "bold red",
    BatchStatus.STOPPED.value: "yellow",
    BatchStatus.TIMED_OUT.value: "red",
    BatchStatus.CANCELLED.value: "yellow",
    BatchStatus.TERMINATED.value: "red",
    BatchStatus.RUN_FAILED.value: "red",
    UNSETTLED: "bold red",
    SETTLING: "yellow",
    LegStatus.PENDING.value: "dim",
    LegStatus.PLACED.value: "cyan",
    LegStatus.PARTIALLY_FILLED.value: "yellow",
    LegStatus.FILLED.value: "green",
    LegStatus.REJECTED.value: "red",
    LegStatus.FAILED.value: "red",
    LegStatus.CANCELLED.value: "yellow",
    LegStatus.COMPENSATING.value: "magenta",
    LegStatus.COMPENSATED.value: "magenta",
    LegStatus.SKIPPED.value: "dim",
    VenueOrderStatus.NEW.value: "cyan",
    VenueOrderStatus.CANCELED.value: "yellow",
}


def styled(status: str | None) -> Text:
    if status is None:
        return Text("-", style="dim")
    return Text(status, style=STATUS_STYLES.get(status, ""))


def _qty(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def _price(value: Decimal | None) -> str:
    return "-" if value is None else format(value, "f")


def decimal_text(value: Decimal | None) -> str | None:
    """A Decimal for JSON output: fixed-point text (``"0.00000001"``), None stays None."""
    return None if value is None else format(value, "f")


def _order(leg: LegResult) -> str:
    text = f"{leg.side.value} {_qty(leg.quantity)} {leg.symbol} {leg.order_type.value}"
    return text


def legs_table(result: BatchResult, title: str | None = None) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("leg", "order", "status", "filled", "avg price", "compensated", "error"):
        table.add_column(column, justify="right" if column in {"filled", "avg price"} else "left")
    for index, leg in enumerate(result.legs, start=1):
        table.add_row(
            f"{index} {leg.command_id}",
            _order(leg),
            styled(leg.status.value),
            _qty(leg.filled_quantity),
            "-" if leg.avg_fill_price is None else format(leg.avg_fill_price, "f"),
            _qty(leg.compensated_quantity) if leg.compensated_quantity else "",
            Text(leg.error or "", style="red"),
        )
    return table


def batch_view(result: BatchResult, url: str | None = None) -> RenderableType:
    """A batch's headline (id, mode, status, reason, Web UI link) over its legs table."""
    headline = Text.assemble(
        ("batch ", "bold"),
        (result.batch_id, "bold"),
        "  ",
        (result.mode.value, "blue"),
        "  ",
        styled(result.status.value),
    )
    parts: list[RenderableType] = [headline]
    if result.reason:
        parts.append(Text(f"reason: {result.reason}", style="dim"))
    if url:
        parts.append(Text(f"Web UI: {url}", style="dim"))
    parts.append(legs_table(result))
    return Group(*parts)


def list_table(summaries: Iterable[BatchSummary]) -> Table:
    """Batches with the batch's status; the Temporal run's status only where it matters:
    Temporal closed the run without a result and a settlement run carries the status."""
    table = Table()
    table.add_column("batch id")
    table.add_column("mode")
    table.add_column("status")
    table.add_column("run closed by Temporal")
    for summary in summaries:
        closed = ""
        if summary.settled_by is not None:
            closed = f"{summary.workflow_status}; settlement run {summary.settled_by}"
        table.add_row(
            summary.batch_id,
            summary.mode or "-",
            styled(summary.status),
            Text(closed, style="dim"),
        )
    return table


def legs_summary(result: BatchResult) -> str:
    """``"3/3 filled"`` when every leg filled, otherwise each leg's status in order."""
    filled = sum(1 for leg in result.legs if leg.status is LegStatus.FILLED)
    if filled == len(result.legs):
        return f"{filled}/{len(result.legs)} filled"
    return ", ".join(f"{leg.command_id} {leg.status.value}" for leg in result.legs)


@dataclass(frozen=True)
class PositionChange:
    symbol: str
    before: Decimal
    after: Decimal

    def describe(self) -> str:
        delta = self.after - self.before
        sign = "+" if delta > 0 else ""
        return f"{self.symbol} {_qty(self.after)} ({sign}{_qty(delta)})"


@dataclass(frozen=True)
class DemoRow:
    scenario: str
    result: BatchResult
    expected: BatchStatus
    positions: Sequence[PositionChange]

    @property
    def as_expected(self) -> bool:
        return self.result.status is self.expected


def demo_table(rows: Sequence[DemoRow]) -> Table:
    table = Table(title="execbatch demo", title_justify="left")
    table.add_column("scenario")
    table.add_column("mode")
    table.add_column("status")
    table.add_column("legs")
    table.add_column("venue net position after (change)")
    table.add_column("expected")
    for row in rows:
        table.add_row(
            row.scenario,
            row.result.mode.value,
            styled(row.result.status.value),
            legs_summary(row.result),
            ", ".join(p.describe() for p in row.positions),
            Text("ok", style="green")
            if row.as_expected
            else Text(f"expected {row.expected.value}", style="bold red"),
        )
    return table


def services_table(services: Iterable[Service]) -> Table:
    table = Table(title="execbatch dev", title_justify="left")
    for column in ("service", "address", "pid", "log"):
        table.add_column(column)
    for service in services:
        table.add_row(service.name, service.address, str(service.pid or "-"), str(service.log_path))
    return table


def positions_table(positions: Iterable[Position], account: str) -> Table:
    table = Table(title=f"positions of account {account}", title_justify="left")
    table.add_column("symbol")
    table.add_column("quantity", justify="right")
    table.add_column("avg price", justify="right")
    for position in positions:
        quantity = Text(_qty(position.quantity), style="red" if position.quantity < 0 else "")
        table.add_row(position.symbol, quantity, _price(position.avg_price))
    return table


@dataclass(frozen=True)
class BatchOrder:
    """One venue order of a batch: the leg it belongs to, what it is for, its state."""

    command: ExecutionCommand
    role: str
    """``place``, or ``revert-1``, ``revert-2``, ... (a COORDINATED leg bought back)."""
    client_order_id: str
    order: VenueOrder | None
    """The venue's order; None when the venue has none with that id."""

    def as_json(self) -> dict[str, Any]:
        order = self.order
        return {
            "command_id": self.command.command_id,
            "role": self.role,
            "client_order_id": self.client_order_id,
            "symbol": order.symbol if order else self.command.symbol,
            "side": order.side.value if order else None,
            "quantity": decimal_text(order.quantity) if order else None,
            "filled_quantity": decimal_text(order.filled_quantity) if order else None,
            "avg_fill_price": decimal_text(order.avg_fill_price) if order else None,
            "status": order.status.value if order else None,
            "fenced": order.fenced if order else False,
        }


def orders_table(rows: Iterable[BatchOrder], batch_id: str) -> Table:
    table = Table(title=f"venue orders of batch {batch_id}", title_justify="left")
    for column in ("leg", "order", "client order id", "side", "symbol", "quantity", "filled"):
        table.add_column(column, justify="right" if column in {"quantity", "filled"} else "left")
    table.add_column("avg price", justify="right")
    table.add_column("status")
    for row in rows:
        order = row.order
        if order is None:
            table.add_row(
                row.command.command_id,
                row.role,
                row.client_order_id,
                "-",
                row.command.symbol,
                "-",
                "-",
                "-",
                Text("not at the venue", style="dim"),
            )
            continue
        status = styled(order.status.value)
        if order.fenced:
            status = Text.assemble(status, (" (fenced before placement)", "dim"))
        elif order.reject_error:
            status = Text.assemble(status, (f" {order.reject_error}", "red"))
        table.add_row(
            row.command.command_id,
            row.role,
            row.client_order_id,
            order.side.value,
            order.symbol or row.command.symbol,
            _qty(order.quantity),
            _qty(order.filled_quantity),
            _price(order.avg_fill_price),
            status,
        )
    return table
