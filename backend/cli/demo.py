"""``execbatch demo``: the ADR's section 4 scenarios, plus two that go wrong on purpose.

Four scenarios run as written in ``examples/`` and must COMPLETE; a pair trade
whose second leg the venue rejects must be COMPENSATED (its first leg reverted)
and a rotation whose second leg is rejected must STOP. Each run gets fresh
directive ids (a run id suffix), so running the demo again runs them again
instead of attaching to the old batches. The rejections are venue fault rules
matching only that batch's order ids, removed afterwards, so the demo can share
a running dev stack with other work.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from execbatch.cli.render import DemoRow, PositionChange
from execbatch.client.batch_client import BatchClient
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import BatchStatus
from execbatch.core.order_ids import placement_order_id
from execbatch.devstack import DevStack
from execbatch.devstack.health import task_queue_pollers
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.planning import BaseExecutionPlanner
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service import DEFAULT_PRICES


def _examples_dir() -> Path:
    """The repository's examples/ (editable install), else ./examples (the Docker image)."""
    beside_package = Path(__file__).resolve().parents[2] / "examples"
    return beside_package if beside_package.is_dir() else Path.cwd() / "examples"


EXAMPLES_DIR = _examples_dir()
RESULT_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class Scenario:
    name: str
    example: str
    expected: BatchStatus
    reject_command_id: str | None = None
    """The leg the venue is told to reject, if any."""

    @property
    def tag(self) -> str:
        return "reject" if self.reject_command_id else "ok"


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("flash crash close", "flash_crash_close", BatchStatus.COMPLETED),
    Scenario("pair trade", "pair_trade", BatchStatus.COMPLETED),
    Scenario("DCA entries", "dca", BatchStatus.COMPLETED),
    Scenario("rotation", "rotation", BatchStatus.COMPLETED),
    Scenario("pair trade, 2nd leg rejected", "pair_trade", BatchStatus.COMPENSATED, "c2"),
    Scenario("rotation, 2nd leg rejected", "rotation", BatchStatus.STOPPED, "c2"),
)


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def load_scenario(scenario: Scenario, run_id: str, examples_dir: Path) -> DirectiveDocument:
    document = DirectiveDocument.from_file(examples_dir / f"{scenario.example}.json")
    directive_id = f"{document.directive.directive_id}-{scenario.tag}-{run_id}"
    directive = document.directive.model_copy(update={"directive_id": directive_id})
    return document.model_copy(update={"directive": directive})


async def stack_problem(config: ExecbatchConfig) -> str | None:
    """Why the configured addresses do not hold a usable dev stack, or None if they do."""
    try:
        client = await asyncio.wait_for(connect(config), timeout=5)
    except (RuntimeError, TimeoutError):
        return f"no Temporal reachable at {config.address}"
    try:
        async with PaperVenueAdmin(config.venue_url, timeout=3) as admin:
            await admin.health()
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"; we say which
        return f"no venue reachable at {config.venue_url} ({type(exc).__name__})"
    if await task_queue_pollers(client, config.task_queue) == 0:
        return f"no worker polls task queue {config.task_queue!r} at {config.address}"
    return None


DEMO_ACCOUNT_CASH = Decimal("1000000")


async def _net_positions(admin: PaperVenueAdmin, account: str) -> dict[str, Decimal]:
    return {p.symbol: p.quantity for p in await admin.positions(account)}


async def run_scenario(
    scenario: Scenario,
    document: DirectiveDocument,
    batches: BatchClient,
    admin: PaperVenueAdmin,
    account: str,
) -> DemoRow:
    batch = BaseExecutionPlanner().create_batch(document.directive, document.commands)
    symbols = sorted({c.symbol for c in batch.commands})
    rule_id: int | None = None
    if scenario.reject_command_id:
        rule = await admin.add_fault(
            kind="reject",
            client_order_id_prefix=placement_order_id(batch.batch_id, scenario.reject_command_id),
            error="INVALID_ORDER",
            message=f"demo: the venue refuses leg {scenario.reject_command_id}",
        )
        rule_id = rule.id
    before = await _net_positions(admin, account)
    try:
        submission = await batches.start_batch(batch)
        result = await asyncio.wait_for(submission.handle.result(), RESULT_TIMEOUT_SECONDS)
    finally:
        if rule_id is not None:
            await admin.delete_fault(rule_id)
    after = await _net_positions(admin, account)
    changes = [
        PositionChange(s, before.get(s, Decimal(0)), after.get(s, Decimal(0))) for s in symbols
    ]
    return DemoRow(scenario.name, result, scenario.expected, changes)


async def run_scenarios(
    config: ExecbatchConfig,
    scenarios: Sequence[Scenario] = SCENARIOS,
    run_id: str | None = None,
    examples_dir: Path = EXAMPLES_DIR,
) -> list[DemoRow]:
    """Run the scenarios one after the other (so position changes are each one's own)."""
    run_id = run_id or new_run_id()
    documents = [load_scenario(s, run_id, examples_dir) for s in scenarios]
    client = await connect(config)
    async with PaperVenueAdmin(config.venue_url) as admin:
        # Reference prices back to the venue defaults for the symbols we trade, so
        # the DCA limits (61000/60500/60000 vs BTC/USD 60000) are marketable.
        symbols = {c.symbol for d in documents for c in d.commands}
        await admin.set_prices({s: DEFAULT_PRICES[s] for s in symbols if s in DEFAULT_PRICES})
        rows = []
        for index, (scenario, document) in enumerate(zip(scenarios, documents, strict=True)):
            # Each scenario trades in its own funded account, so the positions shown
            # after it are that scenario's alone (net zero after a compensation).
            account = f"demo-{run_id}-{index + 1}"
            await admin.fund_account(account, DEMO_ACCOUNT_CASH)
            batches = BatchClient(client, config.task_queue, ExecutionSettings(account=account))
            rows.append(await run_scenario(scenario, document, batches, admin, account))
        return rows


@dataclass(frozen=True)
class DemoRun:
    rows: list[DemoRow]
    stack_note: str
    ui_url: str | None
    """Where the batches can be looked at afterwards (None: the temporary stack is gone)."""

    @property
    def all_as_expected(self) -> bool:
        return all(row.as_expected for row in self.rows)


def run_demo(config: ExecbatchConfig) -> DemoRun:
    """On the running dev stack if there is one at ``config``, else on a temporary one."""
    problem = asyncio.run(stack_problem(config))
    if problem is None:
        rows = asyncio.run(run_scenarios(config))
        return DemoRun(rows, f"on the running dev stack at {config.address}", config.ui_url)
    # DevStack is started from this (main) thread: its children die with it.
    with (
        tempfile.TemporaryDirectory(prefix="execbatch-demo-") as state,
        DevStack.on_free_ports(Path(state)) as stack,
    ):
        rows = asyncio.run(run_scenarios(stack.config()))
    return DemoRun(rows, f"on a temporary dev stack ({problem})", None)
