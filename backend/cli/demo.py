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
with that venue's environment (``EXECBATCH_VENUE`` and its keys): ``alpaca``
runs the same scenarios through alpaca-py (``/v2``), ``binance`` the DCA
entries on BTC/USDT and a COORDINATED crypto pair, completed and compensated,
through ccxt (``/api/v3``). There one API key trades one account, so every
scenario trades that account, and positions are the venue's own answer
(Alpaca's positions, Binance's balances) read through the same adapter.
"""

from __future__ import annotations

import asyncio
import os
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


@dataclass(frozen=True)
class DemoVenue:
    """Where the demo's workers trade and what that venue needs set up."""

    name: str
    """``paper`` (the native API), ``alpaca`` or ``binance`` (the paper venue's dialect)."""
    scenarios: tuple[Scenario, ...]
    prices: Mapping[str, Decimal]
    """Reference prices of the symbols traded (set before the workers start)."""
    venue_account: str = ""
    """The paper venue account the workers' key trades (empty for ``paper``: each
    scenario gets an account of its own)."""
    key_id: str = ""
    secret: str = ""
    description: str = ""

    @property
    def native(self) -> bool:
        return self.name == "paper"

    def venue_env(self) -> dict[str, str]:
        """The venue process's extra environment: Binance API keys and their account."""
        if self.name == "binance":
            return {
                "EXECBATCH_PAPER_BINANCE_KEYS": f"{self.key_id}:{self.secret}:{self.venue_account}"
            }
        return {}

    def venue_args(self) -> tuple[str, ...]:
        """Prices at start-up: a Binance symbol trades (and ccxt caches it as trading)
        only once it has a price."""
        return tuple(
            arg for symbol, price in self.prices.items() for arg in ("--price", f"{symbol}={price}")
        )

    def worker_env(self, venue_url: str) -> dict[str, str]:
        """What a deployment sets for the workers to trade this venue (docs/VENUES.md)."""
        if self.name == "alpaca":
            return {
                "EXECBATCH_VENUE": "alpaca",
                "APCA_API_KEY_ID": self.key_id,
                "APCA_API_SECRET_KEY": self.secret,
                "EXECBATCH_ALPACA_URL": venue_url,
                "EXECBATCH_VENUE_ACCOUNT": DEMO_VENUE_ACCOUNT,
            }
        if self.name == "binance":
            return {
                "EXECBATCH_VENUE": "ccxt:binance",
                "EXECBATCH_CCXT_API_KEY": self.key_id,
                "EXECBATCH_CCXT_SECRET": self.secret,
                "EXECBATCH_CCXT_API_URL": venue_url,
                "EXECBATCH_VENUE_ACCOUNT": DEMO_VENUE_ACCOUNT,
            }
        return {"EXECBATCH_VENUE": "paper"}


DEMO_VENUE_ACCOUNT = "default"
"""Our name for the one account the workers' key trades (EXECBATCH_VENUE_ACCOUNT)."""
DEMO_VENUE_NAMES = ("paper", "alpaca", "binance")


def demo_venue(name: str) -> DemoVenue:
    """The demo's venue ``name`` (one of ``DEMO_VENUE_NAMES``)."""
    if name == "alpaca":
        # The key id names the paper account it trades; the venue takes any secret
        # when it has no keys, else one of its keys.
        return DemoVenue(
            name="alpaca",
            scenarios=SCENARIOS,
            prices={},
            venue_account="alpaca-demo",
            key_id="alpaca-demo",
            secret=os.environ.get("EXECBATCH_VENUE_API_KEY") or "paper-demo-secret",
            description="alpaca-py against the paper venue's Alpaca dialect (/v2)",
        )
    if name == "binance":
        return DemoVenue(
            name="binance",
            scenarios=BINANCE_SCENARIOS,
            prices={"BTC/USDT": Decimal("60000.00"), "ETH/USDT": Decimal("3000.00")},
            venue_account="binance-demo",
            key_id="demoBinanceKey0001",
            secret="demoBinanceSecret0001",
            description="ccxt against the paper venue's Binance spot dialect (/api/v3)",
        )
    if name == "paper":
        return DemoVenue(name="paper", scenarios=SCENARIOS, prices={})
    raise ValueError(f"--venue {name!r}: one of {', '.join(DEMO_VENUE_NAMES)}")


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


DEMO_ACCOUNT_CASH = Decimal("1000000")


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
            await admin.fund_account(account, DEMO_ACCOUNT_CASH)
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
    adapter = create_adapter(
        worker_env["EXECBATCH_VENUE"],
        account=DEMO_VENUE_ACCOUNT,
        paper_url=config.venue_url,
        environ=worker_env,
    )
    try:
        async with PaperVenueAdmin(config.venue_url) as admin:
            await admin.fund_account(venue.venue_account, DEMO_ACCOUNT_CASH)
            symbols = {c.symbol for d in documents for c in d.commands}
            await admin.set_prices(
                {s: DEFAULT_PRICES[s] for s in symbols if s in DEFAULT_PRICES} | dict(venue.prices)
            )
            settings = ExecutionSettings(account=DEMO_VENUE_ACCOUNT)
            batches = BatchClient(client, config.task_queue, settings)
            positions = _venue_positions(adapter, DEMO_VENUE_ACCOUNT)
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

    @property
    def all_as_expected(self) -> bool:
        return all(row.as_expected for row in self.rows)


def run_demo(config: ExecbatchConfig, venue: str = "paper") -> DemoRun:
    """On the running dev stack if there is one at ``config``, else on a temporary one.

    With ``venue`` alpaca or binance always on a temporary stack whose workers trade
    the paper venue's dialect of that venue through its SDK.
    """
    if venue != "paper":
        return _run_on_dialect(demo_venue(venue))
    problem = asyncio.run(stack_problem(config))
    if problem is None:
        rows = asyncio.run(run_scenarios(config))
        return DemoRun(rows, f"on the running dev stack at {config.address}", config.ui_url)
    # DevStack is started from this (main) thread: its children die with it.
    # The temporary stack's workers trade the paper venue whatever EXECBATCH_VENUE says.
    with (
        tempfile.TemporaryDirectory(prefix="execbatch-demo-") as state,
        DevStack.on_free_ports(
            Path(state), worker_venue_env=demo_venue("paper").worker_env
        ) as stack,
    ):
        rows = asyncio.run(run_scenarios(stack.config()))
    return DemoRun(rows, f"on a temporary dev stack ({problem})", None)


def _run_on_dialect(venue: DemoVenue) -> DemoRun:
    with (
        tempfile.TemporaryDirectory(prefix=f"execbatch-demo-{venue.name}-") as state,
        DevStack.on_free_ports(
            Path(state),
            venue_args=venue.venue_args(),
            venue_env=venue.venue_env(),
            worker_venue_env=venue.worker_env,
        ) as stack,
    ):
        rows = asyncio.run(
            run_venue_scenarios(stack.config(), venue, venue.worker_env(stack.venue_url))
        )
    return DemoRun(rows, f"on a temporary dev stack: {venue.description}", None)
