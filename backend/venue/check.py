"""Before trading for real: is the configured venue reachable, are the keys good, can the
account trade, is the clock right, and does every leg of a directive fit the venue?

``execbatch venue-check`` prints one line per check and exits non-zero on any
problem. It places nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.venue.port.adapter import ExchangeAdapter, VenueRejection, VenueUnavailable
from execbatch.venue.port.rules import rule_breaks

MAX_CLOCK_SKEW_SECONDS = 1.0
"""Binance refuses a request stamped more than 1 s ahead of its clock; beyond that, the
landing bounds in docs/VENUES.md no longer hold either."""


@dataclass(frozen=True)
class CheckLine:
    check: str
    ok: bool
    detail: str


async def venue_check(
    adapter: ExchangeAdapter,
    commands: Sequence[ExecutionCommand] = (),
    now: datetime | None = None,
) -> list[CheckLine]:
    """Run every check; an answer the venue refuses is a failed check, not an exception."""
    venue = adapter.capabilities.venue
    lines: list[CheckLine] = []
    try:
        overview = await adapter.account_overview()
    except (VenueUnavailable, VenueRejection, RuntimeError, ValueError) as exc:
        return [CheckLine("connectivity and credentials", False, f"{venue}: {exc}")]
    lines.append(CheckLine("connectivity and credentials", True, f"{venue} answered"))
    lines.append(
        CheckLine(
            "account",
            overview.can_trade,
            f"{overview.account}: {overview.status}"
            + ("" if overview.can_trade else " (it cannot trade)"),
        )
    )
    if overview.buying_power is not None:
        lines.append(
            CheckLine(
                "buying power",
                overview.buying_power > 0,
                f"{overview.buying_power} (cash {overview.cash})",
            )
        )
    if overview.venue_time is not None:
        skew = (overview.venue_time - (now or datetime.now(UTC))).total_seconds()
        allowed = MAX_CLOCK_SKEW_SECONDS + overview.clock_resolution_seconds
        lines.append(
            CheckLine(
                "clock skew",
                abs(skew) <= allowed,
                f"the venue's clock is {skew:+.2f} s from ours "
                f"(at most {MAX_CLOCK_SKEW_SECONDS:g} s allowed"
                + (
                    f", +{overview.clock_resolution_seconds:g} s for its clock's resolution)"
                    if overview.clock_resolution_seconds
                    else ")"
                ),
            )
        )
    else:
        lines.append(CheckLine("clock skew", True, f"{venue} does not tell its time"))
    if commands:
        lines += await _legs(adapter, commands)
    return lines


async def _legs(adapter: ExchangeAdapter, commands: Sequence[ExecutionCommand]) -> list[CheckLine]:
    symbols = sorted({c.symbol for c in commands})
    try:
        rules = await adapter.instrument_rules(symbols)
    except VenueRejection:
        rules = {}
        for symbol in symbols:
            try:
                rules.update(await adapter.instrument_rules([symbol]))
            except VenueRejection:
                continue
    lines = []
    for command in commands:
        breaks = rule_breaks(
            symbol=command.symbol,
            quantity=Decimal(command.quantity),
            order_type=command.order_type,
            limit_price=command.limit_price,
            rules=rules.get(command.symbol),
            capabilities=adapter.capabilities,
        )
        lines.append(
            CheckLine(
                f"leg {command.command_id}",
                not breaks,
                f"{command.describe()}: "
                + ("; ".join(breaks) if breaks else "fits the venue's rules"),
            )
        )
    return lines
