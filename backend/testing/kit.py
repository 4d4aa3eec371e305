"""BatchTestKit: run batches against a real paper venue on the time-skipping test server.

    async with BatchTestKit.start() as kit:
        document = kit.load("examples/pair_trade.json")
        await kit.script.reject(document=document, leg=2)
        result = await kit.run(document)
        assert result.status is BatchStatus.COMPENSATED
        assert await kit.positions() == {"AAPL": 0}

``BatchTestKit.start()`` starts everything (test server, venue process,
worker). A test suite shares one ``BatchTestEnvironment`` and opens a kit
per test with ``BatchTestKit.open(environment)``, which is what the pytest
plugin's ``batch_kit`` fixture does. Each kit is isolated: its own task
queue and worker, its own funded venue account (positions start empty), no
fault rules, the venue's default prices, and directive ids made unique with
``kit.unique`` / ``kit.load``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from os import PathLike

from temporalio.client import Client, WorkflowExecutionStatus

from execbatch.client.batch_client import (
    BatchClient,
    BatchHandle,
    DirectiveConflict,
    Submission,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionSettings
from execbatch.testing.clock import DEFAULT_MAX_WALL_TIME, KitClock
from execbatch.testing.documents import (
    BatchInput,
    as_document,
    batch_id_of,
    placement_id_of,
    unique_document,
)
from execbatch.testing.environment import BatchTestEnvironment
from execbatch.testing.scripting import VenueScript
from execbatch.venue.adapters.paper import PaperVenueAdapter, PaperVenueAdmin
from execbatch.venue.paper.service.config import DEFAULT_CASH, DEFAULT_PRICES
from execbatch.venue.port.adapter import OrderNotFound
from execbatch.venue.port.orders import VenueOrder
from execbatch.worker import build_worker

TEST_SETTINGS = ExecutionSettings(
    poll_interval_seconds=0.2, heartbeat_timeout_seconds=1, follow_resting_orders="timer"
)
"""Follows resting orders with durable timers (no activity in flight while an
order rests, so the time-skipping server can skip: ``kit.sleep`` of minutes is
instant), checking every 0.2 s and backing off; pass
``ExecutionSettings(follow_resting_orders="heartbeat", ...)`` to test the
production default, whose real-time polling activity holds the server's clock."""


WIND_DOWN_GRACE = timedelta(seconds=15)
"""How long a batch still running when its test ends gets to wind down."""


class DirectiveIdReused(RuntimeError):
    """A directive id already ran on this test server, in an earlier test.

    The server would hand back that earlier batch instead of running this
    one; ``kit.unique(document)`` gives the document a fresh id.
    """


class BatchTestKit:
    """One test's view of the environment: client, batches, venue, script, clock."""

    def __init__(
        self,
        environment: BatchTestEnvironment,
        *,
        token: str,
        settings: ExecutionSettings,
    ) -> None:
        self.environment = environment
        self.token = token
        self.task_queue = f"kit-{token}"
        self.account = f"kit-{token}"
        self.settings = self._with_account(settings)
        self.batches = BatchClient(environment.client, self.task_queue, settings=self.settings)
        self.script = VenueScript(environment.venue)
        self.clock = KitClock(environment.temporal, self._running_handles)
        self._started: dict[str, BatchHandle] = {}
        self._documents = 0

    # ------------------------------------------------------------ lifecycle

    @classmethod
    @asynccontextmanager
    async def start(
        cls,
        *,
        settings: ExecutionSettings = TEST_SETTINGS,
        prices: Mapping[str, Decimal | str] | None = None,
        cash: Decimal | str = DEFAULT_CASH,
    ) -> AsyncIterator[BatchTestKit]:
        """Start a test server, a venue and a worker; stop them all on exit."""
        environment = await BatchTestEnvironment.start()
        async with (
            environment,
            cls.open(environment, settings=settings, prices=prices, cash=cash) as kit,
        ):
            yield kit

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        environment: BatchTestEnvironment,
        *,
        settings: ExecutionSettings = TEST_SETTINGS,
        prices: Mapping[str, Decimal | str] | None = None,
        cash: Decimal | str = DEFAULT_CASH,
    ) -> AsyncIterator[BatchTestKit]:
        """A fresh, isolated kit on a shared environment (cheap: no process starts).

        On exit, batches of this kit still running are cancelled through
        Temporal and given ``WIND_DOWN_GRACE`` to wind down (so the venue is
        left flat and the worker stops at once), then terminated; nothing
        spills into the next test.
        """
        kit = cls(environment, token=uuid.uuid4().hex[:10], settings=settings)
        venue = environment.venue
        await venue.clear_faults()
        await venue.set_prices({**DEFAULT_PRICES, **(prices or {})})
        await venue.fund_account(kit.account, cash)
        adapter = PaperVenueAdapter(environment.venue_url, account=kit.account)
        try:
            async with build_worker(environment.client, kit.task_queue, adapter):
                try:
                    yield kit
                finally:
                    await kit._wind_down_running()
        finally:
            await adapter.aclose()

    # -------------------------------------------------------- accessors

    @property
    def client(self) -> Client:
        """The Temporal client (time-skipping test server, our data converter)."""
        return self.environment.client

    @property
    def venue(self) -> PaperVenueAdmin:
        """The venue's admin API: prices, accounts, fault rules, orders, stats."""
        return self.environment.venue

    # -------------------------------------------------------- documents

    def unique(self, document: DirectiveDocument) -> DirectiveDocument:
        """The document with a directive id no other test (or call) uses."""
        self._documents += 1
        return unique_document(document, f"{self.token}-{self._documents}")

    def load(self, path: str | PathLike[str]) -> DirectiveDocument:
        """Read a directive JSON file and give it a unique directive id."""
        return self.unique(as_document(path))

    # -------------------------------------------------------- batches

    async def submit(
        self, batch: BatchInput, *, settings: ExecutionSettings | None = None
    ) -> Submission:
        """Start the batch (or attach to it, if this kit started it before).

        ``settings`` replace the kit's for this batch; the kit's venue account
        is used unless they name another.
        """
        document = as_document(batch)
        client = self.batches
        if settings is not None:
            own = self._with_account(settings)
            client = BatchClient(self.client, self.task_queue, settings=own)
        batch_id = batch_id_of(document)
        reused = DirectiveIdReused(
            f"directive {document.directive.directive_id!r} already ran on this test "
            "server (batch ids are never reused); pass kit.unique(document)"
        )
        try:
            submission = await client.submit_document(document)
        except DirectiveConflict as exc:
            if batch_id in self._started:
                raise
            raise reused from exc
        if submission.attached and batch_id not in self._started:
            raise reused
        self._started[batch_id] = client.handle(batch_id)
        return submission

    async def run(
        self, batch: BatchInput, *, settings: ExecutionSettings | None = None
    ) -> BatchResult:
        """Submit the batch and return its final, typed result."""
        submission = await self.submit(batch, settings=settings)
        return await self.result(submission.batch.batch_id)

    async def result(self, batch_id: str) -> BatchResult:
        """Wait for the batch's result, letting the server skip time meanwhile."""
        async with self.clock.skipping():
            return await self.batches.result(batch_id)

    async def status(self, batch_id: str) -> BatchResult:
        """The batch's live state (Query)."""
        return await self.batches.status(batch_id)

    async def cancel(self, batch_id: str, reason: str = "cancelled by test") -> BatchResult:
        """Cancel by Update (the workflow winds down) and return the final result."""
        await self.batches.request_cancel(batch_id, reason)
        return await self.result(batch_id)

    # -------------------------------------------------------- venue

    async def positions(self) -> dict[str, Decimal]:
        """Net quantity per symbol in the kit's account (negative = short; flat = 0)."""
        return {p.symbol: p.quantity for p in await self.venue.positions(self.account)}

    async def net(self, symbol: str) -> Decimal:
        """Net quantity of one symbol (0 if never traded)."""
        return (await self.positions()).get(symbol, Decimal(0))

    async def orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """The account's orders at the venue, oldest first (compensations included)."""
        return await self.venue.orders(account=self.account, symbol=symbol)

    async def order(self, document: DirectiveDocument, leg: int | str) -> VenueOrder | None:
        """The venue's order for a leg's placement, or None if it was never placed."""
        try:
            return await self.venue.order(placement_id_of(document, leg))
        except OrderNotFound:
            return None

    async def wait_for_order(
        self, document: DirectiveDocument, leg: int | str, *, within: float = 10.0
    ) -> VenueOrder:
        """Wait (in real time, at most ``within`` seconds) until the leg's order
        exists at the venue, e.g. before cancelling a batch whose limit rests."""
        try:
            async with asyncio.timeout(within):
                # The venue is another process: polling it is the only way to know.
                while (order := await self.order(document, leg)) is None:  # noqa: ASYNC110
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise TimeoutError(f"leg {leg} was not placed within {within}s") from None
        return order

    async def set_prices(self, prices: Mapping[str, Decimal | str]) -> dict[str, Decimal]:
        """Move reference prices; resting limit orders that become marketable fill."""
        return await self.venue.set_prices(prices)

    # -------------------------------------------------------- time

    async def sleep(
        self, duration: timedelta, *, max_wall_time: timedelta = DEFAULT_MAX_WALL_TIME
    ) -> None:
        """Advance the server's clock; see ``KitClock.sleep`` for when it cannot skip."""
        await self.clock.sleep(duration, max_wall_time=max_wall_time)

    # -------------------------------------------------------- internals

    def _with_account(self, settings: ExecutionSettings) -> ExecutionSettings:
        if "account" in settings.model_fields_set:
            return settings
        return settings.model_copy(update={"account": self.account})

    def _running_handles(self) -> list[BatchHandle]:
        return list(self._started.values())

    async def _wind_down_running(self) -> None:
        running = [
            handle
            for handle in self._started.values()
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        ]
        for handle in running:
            await handle.cancel()
        for handle in running:
            try:
                async with asyncio.timeout(WIND_DOWN_GRACE.total_seconds()):
                    await self.result(handle.id)
            except TimeoutError:
                await handle.terminate(reason="test ended; the batch did not wind down in time")


__all__ = ["TEST_SETTINGS", "BatchTestKit", "DirectiveIdReused"]
