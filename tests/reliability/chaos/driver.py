"""The chaos run: a real stack, mixed batches, crashes at random (seeded) moments.

Stack: a venue process (``VenueProcess``, its own SQLite file), a recording
proxy in front of it, a file-backed Temporal dev server and ``workers``
``python worker.py`` processes pointed at the proxy. The driver submits the
planned batches (at most ``concurrency`` in flight) and, at seeded points of
the submission sequence, SIGKILLs workers (restarting them after a random
pause), crashes and restarts the dev server, and restarts the venue (hard or
soft, re-installing its in-memory fault rules). At seeded points too, trading
is HALTED (and the running batches swept, as ``execbatch halt`` does) or set
REDUCING, and resumed a few seconds later (``chaos.trading``). A price wiggler
moves reference prices so near-market limit orders fill at unpredictable moments.

When every batch has ended (or ``settle_timeout`` ran out) the evidence is
collected (venue orders, venue counters, the proxy's request log) and
``checks`` turns it into a ChaosReport.

With ``venue`` alpaca or binance the workers trade through the real SDK
adapters against the venue's dialect (``chaos.venues``), and the proxy reads
that dialect's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from execbatch.activities.order_activities import MAX_REVERT_ORDERS
from execbatch.client.batch_client import BatchClient, BatchRecoveryPending
from execbatch.core.enums import OrderSide, OrderType
from execbatch.core.order_ids import placement_order_id, revert_order_id
from execbatch.core.workflow_ids import recovery_workflow_id
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from execbatch.venue.paper.wire import VenueStats
from execbatch.venue.port.adapter import VenueUnavailable
from execbatch.venue.port.orders import OrderRequest
from tests.reliability.chaos import checks
from tests.reliability.chaos.config import ChaosConfig
from tests.reliability.chaos.processes import DevServer, WorkerProcess
from tests.reliability.chaos.proxy import Exchange, RecordingProxy
from tests.reliability.chaos.report import ChaosReport
from tests.reliability.chaos.scenario import (
    PlannedBatch,
    global_fault_rules,
    plan_batches,
    start_prices,
)
from tests.reliability.chaos.trading import (
    WAVE_BATCHES,
    WAVE_LONG,
    WAVE_SELL,
    FlattenWave,
    TradingFlips,
    check_placements_after_halts,
    check_reduced_past_flat,
    monotonic_to_wall,
)
from tests.reliability.chaos.venues import SEED_PREFIX, chaos_venue, id_mapper

RECOVERY_WAIT = timedelta(minutes=3)
"""How long a batch closed without a result may wait for its settlement run (workers
sweep every 5 s, but may be down)."""

log = logging.getLogger("execbatch.chaos")

OPERATOR_PATIENCE = 30.0
"""How long an operator action waits for a running batch to act on."""
KILL_PATIENCE = 60.0
"""How long a kill event waits for a worker to be running (longer than an outage)."""

VENUE_CASH = "1000000000000"
FLAT_SYMBOLS = {"paper": "FLAT", "alpaca": "FLAT", "binance": "FLAT/USDT"}
"""The symbol only the flatten waves trade (priced at FLAT_PRICE before the workers
start, so every dialect lists it), per venue."""
FLAT_PRICE = Decimal(50)
WAVE_PATIENCE = 240.0
"""How long a flatten wave waits for its batches' results (kills, restarts included)."""


class _Stack:
    """The running processes and what happened to them."""

    def __init__(self, config: ChaosConfig, workdir: Path, rng: random.Random) -> None:
        self.config = config
        self.workdir = workdir
        self.rng = rng
        self.task_queue = f"chaos-{uuid.uuid4().hex[:8]}"
        self.chaos_venue = chaos_venue(config.venue)
        self.prices = start_prices(config.venue)
        self.venue = VenueProcess(
            workdir / "venue.db",
            extra_args=[
                "--cash",
                VENUE_CASH,
                "--fault-seed",
                str(config.seed),
                "--log-level",
                "WARNING",
            ],
            env=self.chaos_venue.venue_env(),
        )
        self.proxy = RecordingProxy(self.venue.base_url, self.chaos_venue.dialect())
        self.server = DevServer(workdir)
        self.workers: list[WorkerProcess] = []
        self.admin: PaperVenueAdmin | None = None
        self.rules: list[dict[str, Any]] = []
        self.disruptions: list[float] = []
        self.stats_before_restarts: list[VenueStats] = []
        self.report = ChaosReport()
        self.lock = asyncio.Lock()

    async def start(self) -> None:
        await self.venue.astart()
        await self.proxy.start()
        self.admin = PaperVenueAdmin(self.venue.base_url)
        await self.chaos_venue.prepare(self.admin, self.venue.base_url, VENUE_CASH)
        await self.admin.set_prices({self.flat_symbol: FLAT_PRICE})
        await self.server.start()
        native = self.chaos_venue.name == "paper"
        for index in range(self.config.workers):
            worker = WorkerProcess(
                index=index,
                temporal_address=self.server.address,
                task_queue=self.task_queue,
                venue_url=self.proxy.base_url,
                workdir=self.workdir,
                venue_env=None if native else self.chaos_venue.worker_env(self.proxy.base_url),
            )
            worker.start()
            self.workers.append(worker)

    @property
    def flat_symbol(self) -> str:
        return FLAT_SYMBOLS[self.chaos_venue.name]

    async def flat_position(self) -> Decimal:
        """The venue account's position in the flatten symbol (riding out restarts)."""
        assert self.admin is not None
        while True:
            try:
                positions = await self.admin.positions(self.chaos_venue.account)
            except VenueUnavailable:
                await asyncio.sleep(0.5)
                continue
            return next((p.quantity for p in positions if p.symbol == self.flat_symbol), Decimal(0))

    async def seed_flat(self, number: int) -> Decimal:
        """Buy the account long WAVE_LONG of the flatten symbol (a seed order, through the
        native API, left out of the checks); returns the position then."""
        held = await self.flat_position()
        if held < WAVE_LONG:
            async with PaperVenueAdapter(
                self.venue.base_url, account=self.chaos_venue.account
            ) as native:
                while True:
                    try:
                        await native.place_order(
                            OrderRequest(
                                client_order_id=f"{SEED_PREFIX}flat-{number}",
                                account=self.chaos_venue.account,
                                symbol=self.flat_symbol,
                                side=OrderSide.BUY,
                                order_type=OrderType.MARKET,
                                quantity=WAVE_LONG - held,
                            )
                        )
                        break
                    except VenueUnavailable:
                        await asyncio.sleep(0.5)
        return await self.flat_position()

    async def install_rules(self) -> None:
        assert self.admin is not None
        for rule in self.rules:
            await self.admin.add_fault(**rule)
        await self.chaos_venue.install_controls(self.admin)

    # ------------------------------------------------------------- events

    async def kill_workers(self) -> None:
        """Kill one worker (or, one time in five, all that run), restart them shortly.

        When another event has every worker down (a kill of all, not yet restarted),
        this one waits for a worker to be back, so each kill event kills something
        (the short run asserts as many kills as events)."""
        give_up = time.monotonic() + KILL_PATIENCE
        while True:
            async with self.lock:
                alive = [w for w in self.workers if w.running]
                if alive:
                    victims = alive if self.rng.random() < 0.2 else [self.rng.choice(alive)]
                    pause = self.rng.uniform(0.2, 3.0)
                    for worker in victims:
                        worker.kill()
                        self.disruptions.append(time.monotonic())
                    self.report.worker_kills += len(victims)
                    self.report.kill_events += 1
                    log.info(
                        "killed worker(s) %s; restarting in %.1fs",
                        [w.index for w in victims],
                        pause,
                    )
                    break
            if time.monotonic() >= give_up:
                log.info("kill: no worker running within %ss", KILL_PATIENCE)
                return
            await asyncio.sleep(0.2)
        await asyncio.sleep(pause)
        async with self.lock:
            for worker in victims:
                if not worker.running:
                    worker.start()

    async def worker_outage(self) -> None:
        """Kill every worker and keep them all down past some batches' hard timeout."""
        async with self.lock:
            victims = [w for w in self.workers if w.running]
            for worker in victims:
                worker.kill()
            self.disruptions.append(time.monotonic())
            self.report.worker_kills += len(victims)
            self.report.worker_outages += 1
            log.info("all workers down for %.0fs", self.config.outage_seconds)
            await asyncio.sleep(self.config.outage_seconds)
            for worker in victims:
                if not worker.running:
                    worker.start()
            self.disruptions.append(time.monotonic())

    async def restart_server(self) -> None:
        async with self.lock:
            log.info("crashing the dev server")
            self.disruptions.append(time.monotonic())
            await self.server.kill()
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))
            await self.server.start()
            self.disruptions.append(time.monotonic())
            self.report.server_restarts += 1
            log.info("dev server back")

    async def restart_venue(self) -> None:
        async with self.lock:
            assert self.admin is not None
            hard = self.rng.random() < 0.5
            try:
                self.stats_before_restarts.append(await self.admin.stats())
            except VenueUnavailable:
                log.warning("venue stats unavailable before restart; its counters are lost")
            log.info("restarting the venue (%s)", "SIGKILL" if hard else "SIGTERM")
            await self.venue.arestart(hard=hard)
            await self.install_rules()
            self.report.venue_restarts += 1

    async def supervise(self, stop: asyncio.Event) -> None:
        """Restart workers that died on their own (and count them: they should not)."""
        while not stop.is_set():
            async with self.lock:
                for worker in self.workers:
                    if worker.running or worker.pid is None:
                        continue
                    if not worker.check_alive():
                        log.warning(
                            "worker %s exited on its own: %s", worker.index, worker.unexpected_exits
                        )
                        self.disruptions.append(time.monotonic())
                        worker.start()
            await asyncio.sleep(0.5)

    async def wiggle_prices(self, stop: asyncio.Event) -> None:
        assert self.admin is not None
        while not stop.is_set():
            symbol = self.rng.choice(list(self.prices))
            factor = Decimal(str(round(self.rng.uniform(0.985, 1.015), 4)))
            price = (self.prices[symbol] * factor).quantize(Decimal("0.01"))
            # While the venue restarts this fails; the next wiggle will do.
            with contextlib.suppress(VenueUnavailable):
                await self.admin.set_prices({symbol: price})
            await asyncio.sleep(self.rng.uniform(0.5, 2.0))

    async def close(self) -> None:
        for worker in self.workers:
            await asyncio.to_thread(worker.stop)
        await self.server.stop()
        await self.proxy.close()
        if self.admin is not None:
            await self.admin.aclose()
        await self.venue.astop()


def _event_schedule(config: ChaosConfig, rng: random.Random) -> dict[int, list[str]]:
    """Which events fire after which submission (by batch index)."""
    schedule: dict[int, list[str]] = {}
    span = max(config.batches, 1)

    def place(event: str, count: int, low: float, high: float) -> None:
        for _ in range(count):
            index = int(rng.uniform(low, high) * span)
            schedule.setdefault(min(index, span - 1), []).append(event)

    place("kill", config.kills, 0.02, 1.0)
    place("server", config.server_restarts, 0.2, 0.8)
    place("venue", config.venue_restarts, 0.15, 0.85)
    place("outage", config.worker_outages, 0.3, 0.7)
    # Operator actions draw from their own generator, so adding them leaves the
    # crash schedule of a seed exactly as it was.
    operator_rng = random.Random(f"operator-{config.seed}")
    for event, count in (("terminate", config.terminations), ("reset", config.resets)):
        for _ in range(count):
            index = int(operator_rng.uniform(0.05, 0.95) * span)
            schedule.setdefault(min(index, span - 1), []).append(event)
    # Trading-state flips: their own generator too (the crash schedule stays the seed's).
    trading_rng = random.Random(f"trading-{config.seed}")
    for event, count in (("halt", config.halts), ("reduce", config.reduces)):
        for _ in range(count):
            index = int(trading_rng.uniform(0.1, 0.9) * span)
            schedule.setdefault(min(index, span - 1), []).append(event)
    return schedule


async def _submit(batch_client: BatchClient, plan: PlannedBatch) -> None:
    """Start the batch, retrying while the server is down (starting is idempotent)."""
    while True:
        try:
            await batch_client.submit_document(plan.document)
            return
        except RPCError as exc:
            log.info("submit %s failed (%s); retrying", plan.batch_id, exc)
            await asyncio.sleep(1.0)


async def _batches_with_lost_workflow_tasks(
    client: Client, exchanges: Sequence[Exchange]
) -> frozenset[str]:
    """Batches (among those the venue rejected) with a timed-out or failed workflow task.

    Placement is a local activity: its answer becomes durable only when the
    workflow task completes. If that task is lost (its worker killed or stalled),
    the next attempt runs the placement again with the same client order id:
    the venue answers with the stored order, so nothing is placed twice, but it
    is a re-execution, not a retry of a rejection.
    """
    rejected = {
        e.client_order_id.split(":", 1)[0]
        for e in exchanges
        if e.client_order_id is not None and (e.status == 422 or checks.is_rejection(e))
    }
    lost_task_events = {
        EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT,
        EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED,
    }
    found: set[str] = set()
    for batch_id in sorted(rejected):
        history = await client.get_workflow_handle(batch_id).fetch_history()
        if any(event.event_type in lost_task_events for event in history.events):
            found.add(batch_id)
    return frozenset(found)


async def _await_result(
    batch_client: BatchClient, batch_id: str, recovered: set[str]
) -> BatchResult | str:
    """The batch's result, riding out server restarts; a string says why there is none.

    A batch whose run Temporal closed without a result (hard timeout, an
    operator's Terminate) gets its result from the settlement run a worker's
    sweeper starts, and a reset run is followed to its newer run
    (``BatchClient.result``); a settled batch is counted in ``recovered`` and
    checked like any other.
    """
    while True:
        try:
            result = await batch_client.result(batch_id, RECOVERY_WAIT)
            if await batch_client.has_recovery(batch_id):
                recovered.add(batch_id)
            return result
        except BatchRecoveryPending as exc:
            return str(exc)
        except WorkflowFailureError as exc:
            return f"workflow did not complete: {exc.cause!r}"
        except RPCError:
            await asyncio.sleep(1.0)


async def _running(client: Client, batch_ids: Sequence[str]) -> list[str]:
    running = []
    for batch_id in batch_ids:
        with contextlib.suppress(RPCError):
            description = await client.get_workflow_handle(batch_id).describe()
            if description.status is WorkflowExecutionStatus.RUNNING:
                running.append(batch_id)
    return running


async def operator_terminate(client: Client, batch_id: str) -> bool:
    """What Terminate in the Web UI does; False if the batch closed first."""
    try:
        await client.get_workflow_handle(batch_id).terminate(reason="chaos: operator")
    except RPCError as exc:
        log.info("terminate %s refused (%s)", batch_id, exc)
        return False
    return True


async def operator_reset(client: Client, batch_id: str, rng: random.Random) -> bool:
    """What Reset in the Web UI does, to a random completed workflow task of the run."""
    handle = client.get_workflow_handle(batch_id)
    try:
        points = [
            event.event_id
            async for event in handle.fetch_history_events()
            if event.event_type is EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
        ]
        if not points:
            return False
        await client.workflow_service.reset_workflow_execution(
            ResetWorkflowExecutionRequest(
                namespace=client.namespace,
                workflow_execution=WorkflowExecution(workflow_id=batch_id),
                reason="chaos: operator reset",
                workflow_task_finish_event_id=rng.choice(points),
                request_id=str(uuid.uuid4()),
            )
        )
    except RPCError as exc:
        log.info("reset %s refused (%s)", batch_id, exc)
        return False
    return True


async def check_settlements(
    batch_client: BatchClient, batch_ids: Sequence[str], report: ChaosReport
) -> None:
    """No batch closed without a result is left unsettled; no continued batch is settled."""
    report.add(checks.UNSETTLED)
    report.add(checks.SETTLED_LIVE)
    for batch_id in batch_ids:
        latest = await batch_client.handle(batch_id).describe()
        settled = await batch_client.has_recovery(batch_id)
        if latest.status in UNSETTLED_ENDINGS:
            recovery = batch_client.handle(recovery_workflow_id(batch_id))
            try:
                done = (await recovery.describe()).status is WorkflowExecutionStatus.COMPLETED
            except RPCError:
                done = False
            if not done:
                status = latest.status.name if latest.status else "?"
                report.add(checks.UNSETTLED, f"{batch_id}: run {status}, no settlement completed")
        elif latest.status is WorkflowExecutionStatus.COMPLETED and settled:
            report.add(checks.SETTLED_LIVE, f"{batch_id}: completed run and a settlement run")


UNSETTLED_ENDINGS = frozenset(
    {
        WorkflowExecutionStatus.TERMINATED,
        WorkflowExecutionStatus.FAILED,
        WorkflowExecutionStatus.TIMED_OUT,
    }
)


async def _describe_unfinished(client: Client, batch_ids: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for batch_id in batch_ids:
        try:
            description = await client.get_workflow_handle(batch_id).describe()
            status = description.status.name if description.status else "UNKNOWN"
            out[batch_id] = f"no result in time, workflow {status}"
        except RPCError as exc:
            out[batch_id] = f"no result in time, describe failed: {exc}"
    return out


async def _collect_stats(stack: _Stack) -> None:
    assert stack.admin is not None
    snapshots = [*stack.stats_before_restarts, await stack.admin.stats()]
    for stats in snapshots:
        stack.report.faults_injected.update(stats.faults_injected)
        stack.report.venue_requests.update(stats.requests)
        stack.report.place_outcomes.update(stats.place_outcomes)


def _flatten_documents(run_id: str, number: int, symbol: str) -> list[PlannedBatch]:
    return [
        PlannedBatch(
            index=-1,
            document=DirectiveDocument.model_validate(
                {
                    "directive": {
                        "directive_id": f"{run_id}-flat{number}-{i}",
                        "strategy_id": "chaos-flatten",
                        "target_plan_ids": ["p1"],
                        "execution_policy": {"mode": "INDEPENDENT", "timeout_seconds": 60},
                    },
                    "commands": [
                        {
                            "command_id": "c1",
                            "plan_id": "p1",
                            "symbol": symbol,
                            "side": "SELL",
                            "order_type": "MARKET",
                            "quantity": str(WAVE_SELL),
                        }
                    ],
                }
            ),
            rejected_command_ids=(),
            resting=False,
        )
        for i in range(WAVE_BATCHES)
    ]


async def _run_batches(
    stack: _Stack,
    planned: Sequence[PlannedBatch],
    client: Client,
    flips: TradingFlips,
    run_id: str,
    waves: list[FlattenWave],
    wave_batches: list[PlannedBatch],
) -> dict[str, BatchResult | str]:
    """Run the planned batches; in each REDUCING window, a flatten wave too (its
    batches are added to ``wave_batches`` and ``waves``, checked like the others)."""
    config = stack.config
    settings = ExecutionSettings()
    batch_client = BatchClient(client, stack.task_queue, settings=settings)
    schedule = _event_schedule(config, stack.rng)
    slots = asyncio.Semaphore(config.concurrency)
    outcomes: dict[str, BatchResult | str] = {}
    recovered: set[str] = set()
    waiters: dict[str, asyncio.Task[None]] = {}
    events: list[asyncio.Task[None]] = []

    async def follow(plan: PlannedBatch) -> None:
        try:
            outcomes[plan.batch_id] = await _await_result(batch_client, plan.batch_id, recovered)
        finally:
            slots.release()

    actions = {
        "kill": stack.kill_workers,
        "server": stack.restart_server,
        "venue": stack.restart_venue,
        "outage": stack.worker_outage,
    }

    operator_rng = random.Random(f"operator-actions-{config.seed}")

    async def flatten_wave() -> None:
        """Long WAVE_LONG, WAVE_BATCHES batches each selling WAVE_SELL at once."""
        number = len(waves) + 1
        position = await stack.seed_flat(number)
        batches = _flatten_documents(run_id, number, stack.flat_symbol)
        wave_batches.extend(batches)
        waves.append(
            FlattenWave(number, stack.flat_symbol, position, tuple(b.batch_id for b in batches))
        )
        await asyncio.gather(*(_submit(batch_client, b) for b in batches))

        async def one(batch: PlannedBatch) -> None:
            outcomes[batch.batch_id] = await _await_result(batch_client, batch.batch_id, recovered)

        _done, pending = await asyncio.wait(
            [asyncio.create_task(one(b)) for b in batches], timeout=WAVE_PATIENCE
        )
        for task in pending:
            task.cancel()
        log.info("flatten wave %d: %s", number, [outcomes.get(b.batch_id) for b in batches])

    flips.during_reduce = flatten_wave

    async def operator(event: str) -> None:
        """Terminate or reset a running batch; most batches end within a second, so the
        operator waits (up to OPERATOR_PATIENCE) for one that is still running."""
        await asyncio.sleep(operator_rng.uniform(0.0, 2.0))
        loop = asyncio.get_running_loop()
        give_up = loop.time() + OPERATOR_PATIENCE
        while True:
            candidates = await _running(client, [b for b, t in waiters.items() if not t.done()])
            for batch_id in operator_rng.sample(candidates, len(candidates)):
                if event == "terminate" and await operator_terminate(client, batch_id):
                    stack.report.operator_terminations += 1
                    return
                if event == "reset" and await operator_reset(client, batch_id, operator_rng):
                    stack.report.operator_resets += 1
                    return
            if loop.time() >= give_up:
                log.info("%s: no running batch to act on within %ss", event, OPERATOR_PATIENCE)
                return
            await asyncio.sleep(0.5)

    async def fire(event: str) -> None:
        if event in ("terminate", "reset"):
            await operator(event)
            return
        if event in ("halt", "reduce"):
            await asyncio.sleep(flips.rng.uniform(0.0, 2.0))
            await (flips.halt() if event == "halt" else flips.reduce())
            return
        await asyncio.sleep(stack.rng.uniform(0.0, 2.0))
        await actions[event]()

    for plan in planned:
        await slots.acquire()
        await flips.before_submit()
        await _submit(batch_client, plan)
        stack.report.batches_by_mode[plan.mode.value] += 1
        waiters[plan.batch_id] = asyncio.create_task(follow(plan))
        for event in schedule.get(plan.index, []):
            events.append(asyncio.create_task(fire(event)))
        if plan.index % 50 == 49:
            log.info("submitted %d/%d, %d finished", plan.index + 1, len(planned), len(outcomes))
    await asyncio.gather(*events)
    _done, pending = await asyncio.wait(waiters.values(), timeout=config.settle_timeout)
    for task in pending:
        task.cancel()
    unfinished = [bid for bid, task in waiters.items() if task in pending]
    outcomes.update(await _describe_unfinished(client, unfinished))
    missing = [b.batch_id for b in wave_batches if b.batch_id not in outcomes]
    outcomes.update(await _describe_unfinished(client, missing))
    stack.report.batches_recovered = len(recovered)
    await check_settlements(
        batch_client, [plan.batch_id for plan in (*planned, *wave_batches)], stack.report
    )
    return outcomes


async def run_chaos(config: ChaosConfig, command: str = "") -> ChaosReport:
    """Run the whole scenario and return its report (``report.ok`` is the verdict)."""
    started = time.monotonic()
    workdir = config.workdir or Path(tempfile.mkdtemp(prefix="execbatch-chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(config.seed)
    run_id = f"chaos{config.seed}-{uuid.uuid4().hex[:6]}"
    planned = plan_batches(config.batches, config.seed, run_id, config.mix, config.venue)
    stack = _Stack(config, workdir, rng)
    report = stack.report
    report.command = command
    report.venue = config.venue
    report.batches_planned = len(planned)
    stop = asyncio.Event()
    background: list[asyncio.Task[None]] = []
    try:
        await stack.start()
        venue = stack.chaos_venue
        stack.rules = [rule for plan in planned for rule in plan.reject_rules(venue.venue_id)]
        stack.rules += global_fault_rules(config.fault_rates, config.seed)
        await stack.install_rules()
        client = await stack.server.connect()
        if config.fuzz_examples:
            from tests.reliability.chaos.fuzz import run_submit_fuzz

            fuzz = await run_submit_fuzz(
                client, stack.server.address, stack.task_queue, config.fuzz_examples, config.seed
            )
            report.inputs_tried = fuzz.tried
            report.inputs_wrongly_accepted = len(fuzz.failures)
            for failure in fuzz.failures:
                report.add("bad inputs accepted", failure)
        background = [
            asyncio.create_task(stack.supervise(stop)),
            asyncio.create_task(stack.wiggle_prices(stop)),
        ]
        flips = TradingFlips(
            client, stack.task_queue, random.Random(f"trading-hold-{config.seed}"), report
        )
        waves: list[FlattenWave] = []
        wave_batches: list[PlannedBatch] = []
        outcomes = await _run_batches(stack, planned, client, flips, run_id, waves, wave_batches)
        checked = [*planned, *wave_batches]
        report.batches_planned = len(checked)
        stop.set()
        await asyncio.gather(*background)
        for worker in stack.workers:
            report.worker_unexpected_exits += len(worker.unexpected_exits)
        assert stack.admin is not None
        await _collect_stats(stack)
        orders = [
            o for o in await stack.admin.orders() if not o.client_order_id.startswith(SEED_PREFIX)
        ]
        report.venue_orders = len(orders)
        report.batches_run = sum(1 for o in outcomes.values() if not isinstance(o, str))
        settings = ExecutionSettings()
        ours = id_mapper(venue, _client_order_ids(checked))
        exchanges = [
            e
            if e.client_order_id is None
            else dataclasses.replace(e, client_order_id=ours(e.client_order_id))
            for e in stack.proxy.exchanges
        ]
        view = checks.VenueView(
            ours=ours,
            stores_refusals=venue.stores_refusals,
            refusals_visible=venue.refusals_visible,
            refused=frozenset(
                e.client_order_id
                for e in exchanges
                if e.client_order_id is not None
                and e.endpoint == "place"
                and checks.is_rejection(e)
            ),
            ignore_prefix=SEED_PREFIX,
        )
        checks.check_batches(checked, outcomes, orders, report, view)
        check_reduced_past_flat(waves, orders, view.ours, report)
        check_placements_after_halts(
            flips.windows, exchanges, orders, view.ours, monotonic_to_wall(), report
        )
        for detail in checks.duplicate_ids_in_db(stack.venue.db_path):
            report.add(checks.DUPLICATES, detail)
        if report.place_outcomes.get("conflict"):
            report.add(
                checks.DUPLICATES, f"venue answered {report.place_outcomes['conflict']} x 409"
            )
        checks.check_requests(
            exchanges,
            stack.disruptions,
            settings.placement_attempts,
            settings.compensation_attempts,
            report,
            lost=frozenset(bid for bid, outcome in outcomes.items() if isinstance(outcome, str)),
            reexecuted=await _batches_with_lost_workflow_tasks(client, exchanges),
            settled_ids_final=venue.settled_ids_final,
        )
        _save_evidence(workdir, stack.proxy, outcomes)
    finally:
        stop.set()
        for task in background:
            task.cancel()
        await stack.close()
        report.seconds = time.monotonic() - started
        if config.workdir is None and not config.keep_workdir and report.ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log.info("logs and databases kept in %s", workdir)
    return report


def _client_order_ids(planned: Sequence[PlannedBatch]) -> list[str]:
    """Every client order id the run's batches can use: placements and their reverts."""
    return [
        order_id
        for plan in planned
        for command in plan.document.commands
        for order_id in (
            placement_order_id(plan.batch_id, command.command_id),
            *(
                revert_order_id(plan.batch_id, command.command_id, k)
                for k in range(1, MAX_REVERT_ORDERS + 1)
            ),
        )
    ]


def _save_evidence(
    workdir: Path, proxy: RecordingProxy, outcomes: dict[str, BatchResult | str]
) -> None:
    """The request log and every batch's outcome, for a post-mortem of a failed run."""
    with (workdir / "exchanges.jsonl").open("w", encoding="utf-8") as out:
        for exchange in proxy.exchanges:
            out.write(json.dumps(dataclasses.asdict(exchange)) + "\n")
    dump = {
        bid: outcome if isinstance(outcome, str) else outcome.model_dump(mode="json")
        for bid, outcome in outcomes.items()
    }
    (workdir / "outcomes.json").write_text(json.dumps(dump, indent=1), encoding="utf-8")


def summary_counts(report: ChaosReport) -> Counter[str]:
    """The must-be-zero figures by name (for tests)."""
    return Counter({name: len(found) for name, found in report.violations.items()})
