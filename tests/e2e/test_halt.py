"""The kill switch end to end: `execbatch halt` on the dev server, 2 worker processes,
the real paper venue, ~20 batches of every mode in flight.

What the halt promises (docs/RISK.md): once it is acknowledged, no order placement
reaches the venue (cancels and compensating reverts still do), the running batches
wind down (the visibility sweep cancels them; COORDINATED ones compensate), and new
submissions are refused. The proof is read from the venue's own order log: every
order row carries the venue's time of the request (``created_at``, taken when the
venue stored it, so no earlier than its arrival); the venue, the Temporal server
(whose workflow clock stamps the acknowledgement) and this test share one machine
clock. Nothing here asserts on speed.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.client.batch_client import BatchClient, Submission
from execbatch.client.trading import TradingControl
from execbatch.config.connection import connect
from execbatch.core.enums import (
    BatchExecutionMode,
    BatchStatus,
    LegStatus,
    OrderType,
    TimeInForce,
    VenueOrderStatus,
)
from execbatch.devstack import DevStack
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.risk.states import STATE_READ_REUSE_SECONDS, TradingState
from execbatch.venue.adapters import PaperVenueAdmin
from execbatch.venue.port.orders import VenueOrder
from tests.cli.conftest import Run, clean_env, execbatch

pytestmark = pytest.mark.devserver

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
STALL_SYMBOL = "GOOGL"
"""Symbol of the SEQUENTIAL batches whose first leg rests until the test fills it
(by moving the price) after the halt is recorded: their next leg is then an
attempt that must read HALTED and be refused."""


@pytest.fixture(scope="module")
def halt_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """A stack of its own: a global halt stops every batch on it. Started from the
    main thread (the parent-death signal is tied to it), with 2 worker processes."""
    with DevStack.on_free_ports(tmp_path_factory.mktemp("halt-stack"), workers=2) as stack:
        yield stack


def cli_env(stack: DevStack) -> dict[str, str]:
    env = clean_env(
        **{k: v for k, v in stack.worker_env().items() if k.startswith(("TEMPORAL_", "EXECBATCH_"))}
    )
    env["COLUMNS"] = "250"  # one line per message: the acknowledgement is parsed from it
    return env


def document(
    name: str, mode: BatchExecutionMode, *, resting: dict[str, str] | None = None
) -> DirectiveDocument:
    """An example with a fresh directive id, ``mode``, a deadline far past the test,
    and the legs in ``resting`` (command id -> limit price) as LIMIT GTC orders far
    from the market."""
    raw = json.loads((EXAMPLES / f"{name}.json").read_text())
    raw["directive"]["directive_id"] = f"halt-{name}-{uuid.uuid4().hex[:8]}"
    raw["directive"]["execution_policy"] = {"mode": mode.value, "timeout_seconds": 600}
    for command in raw["commands"]:
        if resting and command["command_id"] in resting:
            command.update(
                order_type=OrderType.LIMIT.value,
                limit_price=resting[command["command_id"]],
                time_in_force=TimeInForce.GTC.value,
            )
    return DirectiveDocument.model_validate(raw)


def sequence(legs: list[tuple[str, str, str, str | None]]) -> DirectiveDocument:
    """A SEQUENTIAL batch of several legs (symbol, side, quantity, limit price or
    None for MARKET)."""
    plan_ids = [f"p{i}" for i in range(1, len(legs) + 1)]
    commands = []
    for i, (symbol, side, quantity, limit) in enumerate(legs, 1):
        command: dict[str, str] = {
            "command_id": f"c{i}",
            "plan_id": f"p{i}",
            "symbol": symbol,
            "side": side,
            "order_type": "MARKET" if limit is None else "LIMIT",
            "quantity": quantity,
        }
        if limit is not None:
            command.update(limit_price=limit, time_in_force="GTC")
        commands.append(command)
    return DirectiveDocument.model_validate(
        {
            "directive": {
                "directive_id": f"halt-seq-{uuid.uuid4().hex[:8]}",
                "strategy_id": "halt-test",
                "target_plan_ids": plan_ids,
                "execution_policy": {"mode": "SEQUENTIAL", "timeout_seconds": 600},
            },
            "commands": commands,
        }
    )


def batches_of_every_mode() -> list[DirectiveDocument]:
    """21 batches, 7 per mode: plain ones that finish, ones with a resting LIMIT GTC
    leg that stay open until wound down, and SEQUENTIAL ones of several legs."""
    docs: list[DirectiveDocument] = []
    for i in range(7):
        rest = i % 2 == 1
        docs.append(
            document(
                "flash_crash_close",
                BatchExecutionMode.INDEPENDENT,
                resting={"c1": "9999"} if rest else None,  # SELL far above the market
            )
        )
        docs.append(
            document(
                "pair_trade",
                BatchExecutionMode.COORDINATED,
                resting={"c2": "9999"} if rest else None,  # SELL MSFT: rests, c1 reverted
            )
        )
        if i < 3:  # rests on GOOGL until filled after the halt; the rest must be refused
            legs = [(STALL_SYMBOL, "BUY", "5", "150"), ("AMZN", "BUY", "5", None)]
            legs += [("SPY", "SELL", "3", None), ("QQQ", "BUY", "3", None)]
        else:  # several market legs one after the other: placements on the wire
            legs = [("SPY", "SELL", "2", None), ("QQQ", "BUY", "2", None)]
            legs += [("AMZN", "BUY", "2", None), ("NVDA", "SELL", "2", None)]
            legs += [("TSLA", "BUY", "2", None), ("AAPL", "SELL", "2", None)]
        docs.append(sequence(legs))
    return docs


@dataclass(frozen=True)
class Event:
    at: datetime
    what: str
    order: VenueOrder


def action_of(client_order_id: str) -> str:
    """The action in our derived client order id (execbatch.core.order_ids)."""
    return client_order_id.rsplit(":", 1)[-1]


def venue_log(orders: list[VenueOrder]) -> list[Event]:
    """The venue's order log as events at the venue's clock: each request that created
    a row (a placement, a revert, or a cancel that fenced an id never placed), and
    each cancel of an order (its last update)."""
    events = []
    for order in orders:
        if order.fenced:
            events.append(Event(order.created_at, "cancel(fence)", order))
            continue
        kind = "revert" if action_of(order.client_order_id).startswith("revert-") else "place"
        events.append(Event(order.created_at, kind, order))
        if order.status is VenueOrderStatus.CANCELED:
            events.append(Event(order.updated_at, "cancel", order))
    return sorted(events, key=lambda e: e.at)


def print_log_around(
    events: list[Event], recorded: datetime, ack: datetime, before: int = 6, after: int = 12
) -> None:
    """The log from a few events before the halt was recorded to a few after its
    acknowledgement, with both moments marked (printed for ``pytest -s``)."""
    first = next((i for i, e in enumerate(events) if e.at > recorded), len(events))
    mark = next((i for i, e in enumerate(events) if e.at > ack), len(events))
    print(f"\nvenue order log (venue clock) around the halt, {len(events)} events in all:")
    for index in range(max(0, first - before), min(len(events), mark + after) + 1):
        if index == first:
            print(f"  ---------- halt recorded      {recorded.isoformat()} ----------")
        if index == mark:
            print(f"  ---------- halt acknowledged  {ack.isoformat()} ----------")
        if index == len(events):
            break
        e = events[index]
        o = e.order
        print(
            f"  {e.at.isoformat(timespec='milliseconds')} {e.what:13} {o.client_order_id:46} "
            f"{o.side.value:4} {o.symbol:5} {o.quantity} {o.status.value}"
        )


def parse_halt(run: Run) -> tuple[datetime, datetime, list[str]]:
    """(recorded, acknowledged, batches the sweep wound down) from `execbatch halt`."""
    text = " ".join(run.stdout.split())
    times = re.search(r"recorded (\S+), acknowledged (\S+)", text)
    assert times, run.stdout
    swept = re.search(r"winding down \d+ running batches: (.*)$", text)
    ids = [i.strip() for i in swept.group(1).split(",")] if swept else []
    return (
        datetime.fromisoformat(times.group(1)),
        datetime.fromisoformat(times.group(2)),
        ids,
    )


async def test_halt_places_nothing_after_its_acknowledgement_and_winds_batches_down(
    halt_stack: DevStack, tmp_path: Path
) -> None:
    stack = halt_stack
    env = cli_env(stack)
    client = await connect(stack.config())
    admin = PaperVenueAdmin(stack.venue_url)
    account = f"halt-{uuid.uuid4().hex[:8]}"
    control = TradingControl(client, stack.task_queue)
    try:
        await admin.fund_account(account, Decimal("10000000"))
        # Every placement (and revert) spends 0.3 s at the venue before it is stored,
        # so some are on the wire when the halt comes; far below the 2 s the quiet
        # period allows a request received just before its attempt was abandoned.
        await admin.add_fault(kind="latency", endpoint="place", delay_seconds="0.3")
        batches = BatchClient(
            client,
            stack.task_queue,
            settings=ExecutionSettings(
                account=account, poll_interval_seconds=0.2, heartbeat_timeout_seconds=2
            ),
        )
        docs = batches_of_every_mode()
        submissions: list[Submission] = await asyncio.gather(
            *(batches.submit_document(d) for d in docs)
        )
        stalled = [s for s, d in zip(submissions, docs, strict=True) if _stalls(d)]
        async with asyncio.timeout(120):  # every batch has placed something
            while len({o.client_order_id.split(":")[0] for o in await admin.orders(account)}) < len(
                docs
            ):
                await asyncio.sleep(0.1)

        halt = asyncio.create_task(
            asyncio.to_thread(execbatch, "halt", "--reason", "e2e halt test", env=env)
        )
        async with asyncio.timeout(60):  # the halt is recorded: every attempt reads HALTED
            while (await control.view()).state is not TradingState.HALTED:
                await asyncio.sleep(0.05)
        # Fill the stalled SEQUENTIAL batches' first legs once a worker's reuse of a
        # read from before the halt has run out: their next leg's placement attempt
        # starts after the halt was recorded and reads it.
        await asyncio.sleep(STATE_READ_REUSE_SECONDS)
        await admin.set_prices({STALL_SYMBOL: Decimal("140")})
        run = await halt
        returned_at = datetime.now().astimezone()
        assert run.code == 0, run.stderr
        recorded, acknowledged, swept = parse_halt(run)
        print(f"\n$ execbatch halt --reason 'e2e halt test'\n{run.stdout}")
        print(f"halt recorded {recorded}, acknowledged {acknowledged}, CLI returned {returned_at}")

        async with asyncio.timeout(240):
            results: list[BatchResult] = [await s.handle.result() for s in submissions]

        # A new submission afterwards: the CLI refuses it with the documented
        # message; one started through the library anyway is refused by the gate.
        path = tmp_path / "after.json"
        after = document("pair_trade", BatchExecutionMode.COORDINATED)
        path.write_text(after.model_dump_json())
        refused = await asyncio.to_thread(execbatch, "submit", str(path), env=env)
        late = await batches.submit_document(document("pair_trade", BatchExecutionMode.COORDINATED))
        late_result = await late.handle.result()

        # Every order of the stack (it is this test's alone): a cancel that fenced an id
        # never placed is stored without an account.
        orders = await admin.orders()
        await control.set_state(TradingState.ACTIVE, "e2e halt test done")
    finally:
        await admin.clear_faults()
        await admin.aclose()

    events = venue_log(orders)
    print_log_around(events, recorded, acknowledged)
    print(
        f"\n{len(results)} batches: "
        + ", ".join(f"{r.mode.value} {r.status.value}" for r in results)
    )

    # 1. No placement reached the venue after the acknowledgement (reverts may).
    placed_after = [e for e in events if e.at > acknowledged and e.what == "place"]
    assert placed_after == [], [e.order.client_order_id for e in placed_after]
    assert acknowledged <= returned_at
    assert any(e.what == "place" for e in events if e.at <= acknowledged)

    # 2. Attempts that started after the halt was recorded (and a worker's reuse of an
    #    older read ran out) were refused at the gate.
    for submission in stalled:
        result = next(r for r in results if r.batch_id == submission.batch.batch_id)
        assert result.status is BatchStatus.STOPPED, result
        assert result.legs[0].status is LegStatus.FILLED
        assert result.legs[1].status is LegStatus.REJECTED
        # refused by the pre-leg check (RISK_LIMIT: trading state: HALTED ...) or, had
        # the check read ACTIVE, by place_leg_checked's own read (TRADING_HALTED)
        assert "HALTED (global HALTED: e2e halt test)" in (result.legs[1].error or "") or (
            "TRADING_HALTED" in (result.legs[1].error or "")
        ), result.legs[1]
        # nothing placed for c2; its settlement may have fenced the id (a tombstone)
        assert not any(
            o.client_order_id.startswith(f"{result.batch_id}:c2:") and not o.fenced for o in orders
        )

    # 3. Every batch wound down: nothing open at the venue, nothing left exposed,
    #    none ran into its deadline; the sweep cancelled those still running.
    assert all(r.status.is_final for r in results)
    assert [o.client_order_id for o in orders if o.open_quantity > 0] == []
    assert all(leg.exposed_quantity == 0 for r in results for leg in r.legs)
    assert not any(r.status is BatchStatus.TIMED_OUT for r in results)
    resting_ids = {s.batch.batch_id for s, d in zip(submissions, docs, strict=True) if _rests(d)}
    assert resting_ids and resting_ids <= set(swept), (resting_ids, swept)
    by_id = {r.batch_id: r for r in results}
    for batch_id in resting_ids:
        result = by_id[batch_id]
        assert "trading HALTED: e2e halt test" in (result.reason or ""), result
        assert result.status is BatchStatus.CANCELLED, result
        if result.mode is BatchExecutionMode.COORDINATED:  # c1 filled, reverted after the halt
            assert [leg.status for leg in result.legs] == [
                LegStatus.COMPENSATED,
                LegStatus.CANCELLED,
            ], result
            assert any(
                e.what == "revert" and e.order.client_order_id.startswith(f"{batch_id}:c1:")
                for e in events
            )

    # 4. New submissions are refused.
    assert refused.code == 4, refused
    assert "trading is HALTED for account 'default' (global HALTED: e2e halt test)" in (
        refused.stderr
    )
    assert "new batches are refused until `execbatch resume`" in refused.stderr
    assert late_result.status is BatchStatus.REJECTED_BY_RISK
    assert "HALTED" in (late_result.reason or "")
    assert not any(
        o.client_order_id.startswith(f"{late_result.batch_id}:") and not o.fenced for o in orders
    )


def _rests(document: DirectiveDocument) -> bool:
    """A batch with a leg resting far from the market (it stays open until wound down)."""
    return any(
        c.order_type is OrderType.LIMIT and c.limit_price == Decimal("9999")
        for c in document.commands
    )


def _stalls(document: DirectiveDocument) -> bool:
    return document.commands[0].symbol == STALL_SYMBOL


async def test_a_cancel_reaching_a_run_whose_first_task_was_lost_reverts_what_it_placed(
    halt_stack: DevStack,
) -> None:
    """A COORDINATED pair's first workflow task sends both placements; both workers
    are SIGKILLed before it completes, and both orders land. A cancel (a halt's sweep)
    is sent while no worker runs, so the task's re-run winds down before placing
    anything again. It must look both legs up and revert them: reported SKIPPED, the
    fills would be unknown and the pair left naked (a chaos run at Binance: a leg
    SKIPPED that the venue had filled)."""
    stack = halt_stack
    client = await connect(stack.config())
    admin = PaperVenueAdmin(stack.venue_url)
    account = f"lost-{uuid.uuid4().hex[:8]}"
    await admin.fund_account(account, Decimal("10000000"))
    batches = BatchClient(client, stack.task_queue, settings=ExecutionSettings(account=account))
    doc = document("pair_trade", BatchExecutionMode.COORDINATED)
    rule = await admin.add_fault(kind="latency", endpoint="place", delay_seconds="3", max_hits=1)
    try:
        submission = await batches.submit_document(doc)
        batch_id = submission.batch.batch_id
        while next(r.hits for r in await admin.faults() if r.id == rule.id) == 0:
            await asyncio.sleep(0.05)  # a placement is on the wire: the first task is open
        for worker in stack.workers:
            worker.kill()
        placements = {f"{batch_id}:{c.command_id}:place" for c in doc.commands}
        while not placements <= {o.client_order_id for o in await admin.orders(account)}:
            await asyncio.sleep(0.1)  # both landed, with no worker left to hear the answers
        cancel = asyncio.create_task(batches.request_cancel(batch_id, "trading HALTED: desk"))
        await asyncio.sleep(3.0)  # the cancel waits for the task's re-run (10 s timeout)
        for worker in stack.workers:
            worker.restart()
        await cancel
        result = await submission.handle.result()
        positions = {p.symbol: p.quantity for p in await admin.positions(account)}
    finally:
        await admin.clear_faults()
        await admin.aclose()
    statuses = {leg.command_id: leg.status.value for leg in result.legs}
    print(f"\n== lost first task, then a cancel: {result.status.value} {statuses} {positions}")
    assert result.status is BatchStatus.CANCELLED, result.reason
    assert all(leg.status is LegStatus.COMPENSATED for leg in result.legs), statuses
    assert all(quantity == 0 for quantity in positions.values()), positions
