"""REDUCING end to end: a desk flattening from many batches at once never sells past
flat (docs/RISK.md, "Reducing claims").

The dev server, 2 worker processes and the real paper venue; the account is long
100 AAPL and trading is REDUCING; ten `execbatch submit` processes each sell 30 AAPL
at once. The reducing claims let three of them through (90 sold) and refuse the rest
before anything of theirs is placed; the account is never short. Then again with the
worker processes killed (SIGKILL) and restarted while the claims are being decided.
Positions and orders are the venue's own. Nothing here asserts on speed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from execbatch.cli.common import EXIT_TRADING_REFUSED
from execbatch.client.trading import TradingControl
from execbatch.config.connection import connect
from execbatch.core.order_ids import placement_order_id
from execbatch.core.workflow_ids import batch_id_for
from execbatch.devstack import DevStack
from execbatch.venue.adapters import PaperVenueAdmin
from tests.cli.conftest import clean_env, execbatch

pytestmark = pytest.mark.devserver

ACCOUNT = "default"
"""The account `execbatch submit` trades (the stack is this module's own)."""
BATCHES = 10
SELL = Decimal(30)
LONG = Decimal(100)
REFUSED = "refused by submit"
"""`execbatch submit` refused it (exit 4): it saw the room already sold."""


@pytest.fixture(scope="module")
def reducing_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with DevStack.on_free_ports(tmp_path_factory.mktemp("reducing-stack"), workers=2) as stack:
        yield stack


def cli_env(stack: DevStack) -> dict[str, str]:
    return clean_env(
        **{k: v for k, v in stack.worker_env().items() if k.startswith(("TEMPORAL_", "EXECBATCH_"))}
    )


def sell_document(path: Path, tag: str, quantity: Decimal = SELL) -> Path:
    path.write_text(
        json.dumps(
            {
                "directive": {
                    "directive_id": f"flatten-{tag}-{uuid.uuid4().hex[:8]}",
                    "strategy_id": "flatten",
                    "target_plan_ids": ["p1"],
                    "execution_policy": {"mode": "COORDINATED", "timeout_seconds": 300},
                },
                "commands": [
                    {
                        "command_id": "c1",
                        "plan_id": "p1",
                        "symbol": "AAPL",
                        "side": "SELL",
                        "order_type": "MARKET",
                        "quantity": str(quantity),
                    }
                ],
            }
        )
    )
    return path


async def submit(env: dict[str, str], path: Path) -> dict[str, object]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "execbatch.cli.app",
        "submit",
        str(path),
        "--wait",
        "--json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), timeout=600)
    if proc.returncode == EXIT_TRADING_REFUSED:
        # Refused before it started: the room was gone when it was submitted.
        return {"batch_id": path.stem, "status": REFUSED, "reason": stderr.decode(), "legs": []}
    assert stdout, stderr.decode()
    result: dict[str, object] = json.loads(stdout)
    return result


async def go_long(stack: DevStack, admin: PaperVenueAdmin, env: dict[str, str]) -> None:
    """ACTIVE, then buy what makes the account long exactly 100 AAPL."""
    resume = await asyncio.to_thread(execbatch, "resume", "--reason", "refill", env=env)
    assert resume.code == 0, resume.stderr
    held = {p.symbol: p.quantity for p in await admin.positions(ACCOUNT)}.get("AAPL", Decimal(0))
    if held != LONG:
        (stack.state_dir / "buy.json").write_text(
            json.dumps(
                {
                    "directive": {
                        "directive_id": f"refill-{uuid.uuid4().hex[:8]}",
                        "strategy_id": "refill",
                        "target_plan_ids": ["p1"],
                    },
                    "commands": [
                        {
                            "command_id": "c1",
                            "plan_id": "p1",
                            "symbol": "AAPL",
                            "side": "BUY" if held < LONG else "SELL",
                            "order_type": "MARKET",
                            "quantity": str(abs(LONG - held)),
                        }
                    ],
                }
            )
        )
        result = await submit(env, stack.state_dir / "buy.json")
        assert result["status"] == "COMPLETED", result


async def flatten_from_ten_batches(
    stack: DevStack, tmp_path: Path, *, kill_workers: bool
) -> tuple[list[dict[str, object]], Decimal]:
    env = cli_env(stack)
    admin = PaperVenueAdmin(stack.venue_url)
    await go_long(stack, admin, env)
    assert {p.symbol: p.quantity for p in await admin.positions(ACCOUNT)}["AAPL"] == LONG
    reduce = await asyncio.to_thread(execbatch, "reduce", "--reason", "flatten", env=env)
    assert reduce.code == 0, reduce.stderr

    # Every placement spends 1.5 s at the venue, so the batches' claims overlap: a
    # claim is decided while earlier ones' orders are still on their way.
    await admin.add_fault(kind="latency", endpoint="place", delay_seconds="1.5")
    paths = [sell_document(tmp_path / f"sell-{i}.json", str(i)) for i in range(BATCHES)]
    runs = asyncio.gather(*(submit(env, p) for p in paths))
    if kill_workers:
        await asyncio.sleep(3.0)  # the CLI processes have started their batches
        for worker in stack.workers:
            worker.kill()
            await asyncio.sleep(1.0)
            worker.restart()
    results = await runs
    await admin.clear_faults()
    positions = {p.symbol: p.quantity for p in await admin.positions(ACCOUNT)}
    await admin.aclose()
    client = await connect(stack.config())
    assert await TradingControl(client, stack.task_queue).claims(ACCOUNT) == ()
    return results, positions.get("AAPL", Decimal(0))


def sold(results: list[dict[str, object]]) -> Decimal:
    legs = [leg for r in results for leg in r["legs"]]  # type: ignore[attr-defined]
    return sum((Decimal(leg["filled_quantity"]) for leg in legs), Decimal(0))


def report(title: str, results: list[dict[str, object]], aapl: Decimal) -> None:
    print(f"\n== {title}: venue position AAPL {aapl}, sold {sold(results)}")
    for r in sorted(results, key=lambda r: str(r["batch_id"])):
        reason = " ".join(str(r["reason"] or "").split())
        print(f"  {r['batch_id']}: {r['status']}  {reason}")


async def test_ten_batches_reducing_at_once_sell_at_most_the_position(
    reducing_stack: DevStack, tmp_path: Path
) -> None:
    results, aapl = await flatten_from_ten_batches(reducing_stack, tmp_path, kill_workers=False)
    report("10 batches selling 30 AAPL, long 100, REDUCING", results, aapl)
    assert aapl >= 0, "the account went short"
    assert aapl == LONG - sold(results)
    assert sold(results) == 90  # the room is used: three claims of 30 fit in 100
    statuses = [str(r["status"]) for r in results]
    assert statuses.count("COMPLETED") == 3
    for r in results:
        if r["status"] == "REJECTED_BY_RISK":  # nothing placed: by its claim (the room
            # was claimed, the orders on their way) or its pre-trade check (already sold)
            reason = str(r["reason"])
            assert (
                "would reduce past flat" in reason or "does not reduce the position of 10" in reason
            ), r
        elif r["status"] == REFUSED:  # by `execbatch submit`, naming leg and position
            assert "leg c1: SELL 30 AAPL does not reduce the position of 10" in str(r["reason"])
        else:
            assert r["status"] == "COMPLETED", r


async def test_with_workers_killed_during_the_claims_still_never_past_flat(
    reducing_stack: DevStack, tmp_path: Path
) -> None:
    results, aapl = await flatten_from_ten_batches(reducing_stack, tmp_path, kill_workers=True)
    report("the same, both workers SIGKILLed and restarted", results, aapl)
    assert aapl >= 0, "the account went short"
    assert aapl == LONG - sold(results)
    assert sold(results) <= LONG
    # Every batch ended: each sold its 30 or was refused by risk with nothing placed.
    for r in results:
        assert r["status"] in ("COMPLETED", "REJECTED_BY_RISK", REFUSED), r


async def test_a_sale_placed_by_a_lost_workflow_task_is_kept_not_bought_back(
    reducing_stack: DevStack, tmp_path: Path
) -> None:
    """REDUCING, long 100, one batch sells all 100. Its first workflow task claims and
    sends the order (4 s at the venue); both workers are SIGKILLed meanwhile, the order
    lands, the workers come back. The re-run check reads the position the sale itself
    emptied (0): it must keep the sale its lost attempt placed, not refuse the batch
    and buy the 100 back (it did, in a CI run: a flattening desk left long again)."""
    env = cli_env(reducing_stack)
    admin = PaperVenueAdmin(reducing_stack.venue_url)
    await go_long(reducing_stack, admin, env)
    reduce = await asyncio.to_thread(execbatch, "reduce", "--reason", "flatten", env=env)
    assert reduce.code == 0, reduce.stderr
    rule = await admin.add_fault(kind="latency", endpoint="place", delay_seconds="4", max_hits=1)
    path = sell_document(tmp_path / "sell-all.json", "all", quantity=LONG)
    directive_id = json.loads(path.read_text())["directive"]["directive_id"]
    sale = placement_order_id(batch_id_for(directive_id), "c1")
    run = asyncio.create_task(submit(env, path))
    while next(r.hits for r in await admin.faults() if r.id == rule.id) == 0:
        await asyncio.sleep(0.05)  # the sale is on its way: the first task is open
    for worker in reducing_stack.workers:
        worker.kill()
    while sale not in {o.client_order_id for o in await admin.orders(ACCOUNT, "AAPL")}:
        await asyncio.sleep(0.1)  # it landed, with no worker left to hear the answer
    for worker in reducing_stack.workers:
        worker.restart()
    result = await run
    await admin.clear_faults()
    positions = {p.symbol: p.quantity for p in await admin.positions(ACCOUNT)}
    batch_orders = [o for o in await admin.orders(ACCOUNT) if directive_id in o.client_order_id]
    await admin.aclose()
    placed = [f"{o.client_order_id} {o.side.value} {o.filled_quantity}" for o in batch_orders]
    print(f"\n== lost first task: {result['status']}, orders {placed}, positions {positions}")
    assert result["status"] == "COMPLETED", result
    assert [o.client_order_id for o in batch_orders] == [sale]  # nothing bought back
    assert positions.get("AAPL", Decimal(0)) == 0
