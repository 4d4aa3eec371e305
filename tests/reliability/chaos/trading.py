"""The kill switch under chaos: trading HALTED (and swept) or REDUCING at seeded moments,
resumed a few seconds later, and the check that nothing was placed while halted.

A halt does what ``execbatch halt`` does (``TradingControl.set_state`` and then
``wind_down_batches``); the run keeps its acknowledgement and the moment the following
resume was applied. Between the two, no placement may reach the venue: not one
placement request through the recording proxy (the workers' only way to the venue),
and not one placement order stored by the venue. Reverts and cancels may, and
nothing is claimed outside the windows (a placement that read ACTIVE may land between
the halt being recorded and acknowledged: that is what the quiet period is for).

Clocks: the acknowledgement is stamped by the Temporal server (workflow time), the
venue stamps its orders, the proxy times requests with ``time.monotonic()`` in this
process, converted to wall time here; all on one machine.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from temporalio.client import Client, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.service import RPCError

from execbatch.client.trading import TradingControl
from execbatch.risk.states import StateChangeAck, TradingState
from execbatch.venue.port.orders import VenueOrder
from tests.reliability.chaos.proxy import Exchange
from tests.reliability.chaos.report import ChaosReport

log = logging.getLogger("execbatch.chaos")

PLACED_AFTER_HALT = "placement after halt"
REDUCED_PAST_FLAT = "reduced past flat"
WAVE_BATCHES = 6
"""Batches of a flatten wave: each sells WAVE_SELL of a WAVE_LONG position at once."""
WAVE_LONG = Decimal(100)
WAVE_SELL = Decimal(30)
SUBMITTED_WHILE_OFF = 3
"""Batches the driver submits during a halt or reduce before it waits for the resume."""
HOLD_SECONDS = (0.5, 2.0)
"""How long a halt or reduce holds after its acknowledgement. Short: with the 8 s
quiet period before it, a flip already keeps trading off for ~10 s of a run whose
submissions may take only ~20 s (a short run refused nearly every batch with 2-6 s)."""
GATE_ERRORS = ("TRADING_HALTED", "RISK_LIMIT")
"""Error types of a leg the risk gate refused (docs/RISK.md)."""


@dataclass(frozen=True)
class HaltWindow:
    acknowledged: datetime
    """When the halt was acknowledged (the ``set_state`` Update returned it)."""
    resumed: datetime
    """When the following resume was applied (recorded in the entity's history)."""


@dataclass
class TradingFlips:
    """Halts and reduces of one chaos run, one at a time (a lock keeps windows apart)."""

    client: Client
    task_queue: str
    rng: random.Random
    report: ChaosReport
    windows: list[HaltWindow] = field(default_factory=list)
    during_reduce: Callable[[], Awaitable[None]] | None = None
    """Run while REDUCING is in force (after its acknowledgement): the flatten wave."""
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _active: asyncio.Event = field(default_factory=asyncio.Event)
    _submitted_while_off: int = 0

    def __post_init__(self) -> None:
        self._active.set()

    async def before_submit(self) -> None:
        """Let a few batches be submitted while trading is off (a strategy that has not
        heard yet: the gate must refuse them), then wait for the resume. Refused batches
        end at once, so without this the driver would pour most of a short run into
        the halt window and little would trade."""
        if self._active.is_set():
            return
        self._submitted_while_off += 1
        if self._submitted_while_off > SUBMITTED_WHILE_OFF:
            await self._active.wait()

    @property
    def control(self) -> TradingControl:
        return TradingControl(self.client, self.task_queue)

    async def _set(self, state: TradingState, reason: str) -> StateChangeAck:
        """Set the state, retrying while the server or every worker is down (a retry
        records the change again: the audit shows it twice, the state is the same)."""
        while True:
            try:
                return await self.control.set_state(state, reason, who="chaos")
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
                log.info("set trading %s failed (%s); retrying", state.value, exc)
                await asyncio.sleep(1.0)

    async def halt(self) -> None:
        async with self._lock:
            self._off()
            ack = await self._set(TradingState.HALTED, "chaos halt")
            log.info("trading HALTED, acknowledged %s", ack.acknowledged_at.isoformat())
            try:
                swept = await self.control.wind_down_batches("trading HALTED: chaos halt")
            except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as exc:
                # Best effort, as documented: the gate refuses placements anyway.
                log.info("halt sweep cut short (%s)", exc)
                swept = []
            self.report.trading_halts += 1
            self.report.batches_swept_by_halts += len(swept)
            await asyncio.sleep(self.rng.uniform(*HOLD_SECONDS))
            resumed = await self._set(TradingState.ACTIVE, "chaos resume")
            self.windows.append(HaltWindow(ack.acknowledged_at, resumed.recorded_at))
            self._active.set()

    async def reduce(self) -> None:
        async with self._lock:
            self._off()
            await self._set(TradingState.REDUCING, "chaos reduce")
            self.report.trading_reduces += 1
            if self.during_reduce is not None:
                await self.during_reduce()
            await asyncio.sleep(self.rng.uniform(*HOLD_SECONDS))
            await self._set(TradingState.ACTIVE, "chaos resume")
            self._active.set()

    def _off(self) -> None:
        self._active.clear()
        self._submitted_while_off = 0


def monotonic_to_wall() -> Callable[[float], datetime]:
    """This process's ``time.monotonic()`` readings as wall-clock times."""
    offset = time.time() - time.monotonic()
    return lambda moment: datetime.fromtimestamp(moment + offset, UTC)


def _is_placement(client_order_id: str) -> bool:
    return client_order_id.rsplit(":", 1)[-1] == "place"


def check_placements_after_halts(
    windows: Sequence[HaltWindow],
    exchanges: Iterable[Exchange],
    orders: Iterable[VenueOrder],
    ours: Callable[[str], str],
    wall: Callable[[float], datetime],
    report: ChaosReport,
) -> None:
    """No placement request reached the venue, and no placement order was stored by it,
    between a halt's acknowledgement and the following resume. ``exchanges`` carry our
    client order ids; ``orders`` the venue's (``ours`` maps them back)."""
    report.add(PLACED_AFTER_HALT)
    if not windows:
        return
    requests = [
        (wall(e.started), e.client_order_id)
        for e in exchanges
        if e.endpoint == "place" and e.client_order_id and _is_placement(e.client_order_id)
    ]
    stored = [
        (o.created_at, ours(o.client_order_id))
        for o in orders
        if not o.fenced and _is_placement(ours(o.client_order_id))
    ]
    for window in windows:

        def inside(at: datetime, w: HaltWindow = window) -> bool:
            return w.acknowledged < at < w.resumed

        span = f"halt acknowledged {window.acknowledged.isoformat()}"
        for at, cid in requests:
            if inside(at):
                report.add(PLACED_AFTER_HALT, f"{cid}: request at {at.isoformat()}, {span}")
        for at, cid in stored:
            if inside(at):
                report.add(PLACED_AFTER_HALT, f"{cid}: stored at {at.isoformat()}, {span}")


def refused_by_gate(error: str | None) -> bool:
    """A leg the risk gate refused (the trading state, a limit). The refusing attempt sent
    nothing; an earlier attempt of the same placement may have."""
    return error is not None and error.startswith(GATE_ERRORS)


@dataclass(frozen=True)
class FlattenWave:
    """WAVE_BATCHES batches that each sell WAVE_SELL of one symbol at once, in REDUCING,
    from an account holding ``position`` of it (nothing else trades that symbol)."""

    number: int
    symbol: str
    position: Decimal
    batch_ids: tuple[str, ...]


def check_reduced_past_flat(
    waves: Sequence[FlattenWave],
    orders: Iterable[VenueOrder],
    ours: Callable[[str], str],
    report: ChaosReport,
) -> None:
    """The wave's placements together filled at most the position they reduced (the
    venue's own fills): REDUCING never took the account past flat."""
    report.add(REDUCED_PAST_FLAT)
    fills: dict[str, Decimal] = {}
    for order in orders:
        cid = ours(order.client_order_id)
        if _is_placement(cid):
            batch_id = cid.split(":", 1)[0]
            fills[batch_id] = fills.get(batch_id, Decimal(0)) + order.filled_quantity
    for wave in waves:
        sold = sum((fills.get(b, Decimal(0)) for b in wave.batch_ids), Decimal(0))
        report.flatten_sold.append((wave.position, sold))
        if sold > wave.position:
            report.add(
                REDUCED_PAST_FLAT,
                f"wave {wave.number}: {len(wave.batch_ids)} batches sold {sold} {wave.symbol} "
                f"of a position of {wave.position}",
            )
