"""``execbatch demo``: the ADR's section 4 scenarios, plus two that go wrong on purpose.

Four scenarios run as written in ``examples/`` and must COMPLETE; a pair trade
whose second leg the venue rejects must be COMPENSATED (its first leg reverted)
and a rotation whose second leg is rejected must STOP. Each run gets fresh
directive ids (a run id suffix), so running the demo again runs them again
instead of attaching to the old batches. The rejections are venue fault rules
matching only that batch's order ids, removed afterwards, so the demo can share
a running dev stack with other work.

``--venue`` (``DemoVenue``) runs them through a real venue's SDK against the
paper venue's dialect of that venue, on a temporary stack whose workers trade
with that venue's environment (``EXECBATCH_VENUE`` and its keys, as
``execbatch dev --venue ... --local`` runs them: ``execbatch.devstack.venues``):
``alpaca`` runs the same scenarios through alpaca-py (``/v2``), ``ccxt:binance``
(also spelled ``binance``) the DCA entries on BTC/USDT and a COORDINATED crypto
pair, completed and compensated, through ccxt (``/api/v3``). There one API key
trades one account, so every scenario trades that account, and positions are the
venue's own answer (Alpaca's positions, Binance's balances) read through the same
adapter. An example written for one venue's symbols runs only there
(``EXAMPLE_VENUES``).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
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
from execbatch.devstack.venues import (
    ALPACA,
    BINANCE,
    LOCAL_CASH,
    PAPER,
    VENUE_NAMES,
    StackVenue,
    canonical_venue,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionSettings
from execbatch.planning import BaseExecutionPlanner
from execbatch.venue.adapters.factory import create_adapter
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service import DEFAULT_PRICES
from execbatch.venue.port.adapter import ExchangeAdapter
from execbatch.venue.port.client_ids import venue_client_order_id


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
    symbols: Mapping[str, str] = field(default_factory=dict)
    """Symbols of the example traded under another name at this venue
    (``BTC/USD`` -> ``BTC/USDT`` on Binance)."""

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

BINANCE_SCENARIOS: tuple[Scenario, ...] = (
    Scenario("DCA entries", "dca", BatchStatus.COMPLETED, symbols={"BTC/USD": "BTC/USDT"}),
    Scenario("crypto pair", "crypto_pair", BatchStatus.COMPLETED),
    Scenario("crypto pair, 2nd leg rejected", "crypto_pair", BatchStatus.COMPENSATED, "c2"),
)
"""Spot: the pair sells BTC the DCA entries bought, and buys ETH (no short selling)."""


EXAMPLE_VENUES: Mapping[str, str] = {"crypto_pair": BINANCE}
"""Examples written for one venue's symbols (``ETH/USDT`` is a Binance spot symbol;
the paper venue and Alpaca trade ``ETH/USD``): the demo runs each only there.
Every other example runs on ``paper`` and ``alpaca``."""


def example_venue(example: str) -> str:
    """The venue whose demo runs ``examples/<example>.json`` as written (``paper``
    also means Alpaca's dialect: the same symbols)."""
    return EXAMPLE_VENUES.get(example, PAPER)


@dataclass(frozen=True)
class DemoVenue:
    """Where the demo's workers trade: the stack venue, and the scenarios run there."""

    name: str
    """``paper`` (the native API), ``alpaca`` or ``ccxt:binance`` (the paper venue's dialect)."""
    scenarios: tuple[Scenario, ...]
    stack: StackVenue
    description: str = ""

    @property
    def native(self) -> bool:
        return self.name == PAPER


DEMO_VENUE_ACCOUNT = "default"
"""Our name for the one account the workers' key trades (EXECBATCH_VENUE_ACCOUNT) on
the paper venue (each scenario there gets an account of its own besides)."""
DEMO_VENUE_NAMES = VENUE_NAMES


def demo_venue(name: str) -> DemoVenue:
    """The demo's venue ``name`` (one of ``VENUE_NAMES``, or the alias ``binance``)."""
    venue = canonical_venue(name)
    if venue == ALPACA:
        return DemoVenue(
            name=venue,
            scenarios=SCENARIOS,
            stack=StackVenue(ALPACA, account="alpaca-demo"),
            description="alpaca-py against the paper venue's Alpaca dialect (/v2)",
        )
    if venue == BINANCE:
        return DemoVenue(
            name=venue,
            scenarios=BINANCE_SCENARIOS,
            stack=StackVenue(BINANCE, account="binance-demo"),
            description="ccxt against the paper venue's Binance spot dialect (/api/v3)",
        )
    return DemoVenue(name=PAPER, scenarios=SCENARIOS, stack=StackVenue(PAPER))


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(2)}"


def load_scenario(scenario: Scenario, run_id: str, examples_dir: Path) -> DirectiveDocument:
    document = DirectiveDocument.from_file(examples_dir / f"{scenario.example}.json")
    directive_id = f"{document.directive.directive_id}-{scenario.tag}-{run_id}"
    directive = document.directive.model_copy(update={"directive_id": directive_id})
    commands = tuple(
        c.model_copy(update={"symbol": scenario.symbols.get(c.symbol, c.symbol)})
        for c in document.commands
    )
    return document.model_copy(update={"directive": directive, "commands": commands})


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


Positions = Callable[[], Awaitable[dict[str, Decimal]]]


def _admin_positions(admin: PaperVenueAdmin, account: str) -> Positions:
    async def read() -> dict[str, Decimal]:
        return {p.symbol: p.quantity for p in await admin.positions(account)}

    return read


def _venue_positions(adapter: ExchangeAdapter, account: str) -> Positions:
    """What the venue itself answers (Alpaca's positions, Binance's balances, which
    carry 8 decimal places: shown without the trailing zeros)."""

    async def read() -> dict[str, Decimal]:
        return {p.symbol: p.quantity.normalize() for p in await adapter.positions(account)}

    return read


def _as_sent(adapter: ExchangeAdapter | None) -> Callable[[str], str]:
    """Our client order id -> the one the venue holds (Binance's derived form)."""
    if adapter is None:
        return lambda client_order_id: client_order_id
    capabilities = adapter.capabilities
    return lambda client_order_id: venue_client_order_id(
        client_order_id,
        max_length=capabilities.max_client_order_id_length,
        pattern=capabilities.client_order_id_pattern,
    )


async def run_scenario(
    scenario: Scenario,
    document: DirectiveDocument,
    batches: BatchClient,
    admin: PaperVenueAdmin,
    positions: Positions,
    as_sent: Callable[[str], str] = lambda client_order_id: client_order_id,
) -> DemoRow:
    batch = BaseExecutionPlanner().create_batch(document.directive, document.commands)
    symbols = sorted({c.symbol for c in batch.commands})
    rule_id: int | None = None
    if scenario.reject_command_id:
        placement = placement_order_id(batch.batch_id, scenario.reject_command_id)
        rule = await admin.add_fault(
            kind="reject",
            client_order_id_prefix=as_sent(placement),
            error="INVALID_ORDER",
            message=f"demo: the venue refuses leg {scenario.reject_command_id}",
        )
        rule_id = rule.id
    before = await positions()
    try:
        submission = await batches.start_batch(batch)
        result = await asyncio.wait_for(submission.handle.result(), RESULT_TIMEOUT_SECONDS)
    finally:
        if rule_id is not None:
            await admin.delete_fault(rule_id)
    after = await positions()
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
            await admin.fund_account(account, LOCAL_CASH)
            batches = BatchClient(client, config.task_queue, ExecutionSettings(account=account))
            positions = _admin_positions(admin, account)
            rows.append(await run_scenario(scenario, document, batches, admin, positions))
        return rows


async def run_venue_scenarios(
    config: ExecbatchConfig,
    venue: DemoVenue,
    worker_env: Mapping[str, str],
    run_id: str | None = None,
    examples_dir: Path = EXAMPLES_DIR,
) -> list[DemoRow]:
    """The scenarios of a real venue's dialect: every one trades the account the
    workers' key names; positions come from the venue through the same adapter the
    workers use (built from ``worker_env``)."""
    run_id = run_id or new_run_id()
    scenarios = venue.scenarios
    documents = [load_scenario(s, run_id, examples_dir) for s in scenarios]
    client = await connect(config)
    account = venue.stack.account
    adapter = create_adapter(
        venue.name, account=account, paper_url=config.venue_url, environ=worker_env
    )
    try:
        async with PaperVenueAdmin(config.venue_url) as admin:
            await admin.fund_account(venue.stack.paper_account, LOCAL_CASH)
            symbols = {c.symbol for d in documents for c in d.commands}
            await admin.set_prices(
                {s: DEFAULT_PRICES[s] for s in symbols if s in DEFAULT_PRICES}
                | dict(venue.stack.local_prices())
            )
            settings = ExecutionSettings(account=account)
            batches = BatchClient(client, config.task_queue, settings)
            positions = _venue_positions(adapter, account)
            as_sent = _as_sent(adapter)
            return [
                await run_scenario(scenario, document, batches, admin, positions, as_sent)
                for scenario, document in zip(scenarios, documents, strict=True)
            ]
    finally:
        await adapter.aclose()


@dataclass(frozen=True)
class DemoRun:
    rows: list[DemoRow]
    stack_note: str
    ui_url: str | None
    """Where the batches can be looked at afterwards (None: the temporary stack is gone)."""

    notes: tuple[str, ...] = ()
    """Examples this venue does not run, and the demo that does."""

    @property
    def all_as_expected(self) -> bool:
        return all(row.as_expected for row in self.rows)


def elsewhere(venue: DemoVenue, examples_dir: Path = EXAMPLES_DIR) -> tuple[str, ...]:
    """One line per example of ``examples_dir`` this venue's demo does not run, naming
    the demo that runs it."""
    ran = {s.example for s in venue.scenarios}
    return tuple(
        f"examples/{path.name} trades {example_venue(path.stem)}'s symbols:"
        f" `execbatch demo --venue {example_venue(path.stem)}` runs it"
        for path in sorted(examples_dir.glob("*.json"))
        if path.stem not in ran and example_venue(path.stem) != venue.name
    )


def run_demo(config: ExecbatchConfig, venue: str = "paper") -> DemoRun:
    """On the running dev stack if there is one at ``config``, else on a temporary one.

    With ``venue`` alpaca or binance always on a temporary stack whose workers trade
    the paper venue's dialect of that venue through its SDK.
    """
    chosen = demo_venue(venue)
    if not chosen.native:
        return _run_on_dialect(chosen)
    problem = asyncio.run(stack_problem(config))
    if problem is None:
        rows = asyncio.run(run_scenarios(config))
        return DemoRun(
            rows, f"on the running dev stack at {config.address}", config.ui_url, elsewhere(chosen)
        )
    # DevStack is started from this (main) thread: its children die with it.
    # The temporary stack's workers trade the paper venue whatever EXECBATCH_VENUE says.
    with (
        tempfile.TemporaryDirectory(prefix="execbatch-demo-") as state,
        DevStack.on_free_ports(Path(state), worker_venue_env=chosen.stack.worker_env) as stack,
    ):
        rows = asyncio.run(run_scenarios(stack.config()))
    return DemoRun(rows, f"on a temporary dev stack ({problem})", None, elsewhere(chosen))


def _run_on_dialect(venue: DemoVenue) -> DemoRun:
    prefix = f"execbatch-demo-{venue.stack.name.replace(':', '-')}-"
    with (
        tempfile.TemporaryDirectory(prefix=prefix) as state,
        DevStack.on_free_ports(
            Path(state),
            venue_args=venue.stack.venue_args(),
            venue_env=venue.stack.venue_env(),
            worker_venue_env=venue.stack.worker_env,
        ) as stack,
    ):
        rows = asyncio.run(
            run_venue_scenarios(stack.config(), venue, venue.stack.worker_env(stack.venue_url))
        )
    return DemoRun(rows, f"on a temporary dev stack: {venue.description}", None, elsewhere(venue))
