"""pytest fixtures for the testing kit.

Enable with ``pytest_plugins = ["execbatch.testing.pytest_plugin"]`` in your
top-level ``conftest.py``. It provides:

* ``batch_test_environment`` (session): the test server and venue process,
  started once per test run;
* ``batch_kit`` (per test): a ``BatchTestKit`` on that environment, with its
  own worker, task queue and venue account; ``batch_kit_settings`` (override
  it in a conftest) are its ExecutionSettings.

The fixtures live on the session's event loop (the Temporal worker must run on
the loop that awaits it), so tests using them need the session loop too:
``asyncio_default_fixture_loop_scope = "session"`` and
``asyncio_default_test_loop_scope = "session"`` in the pytest-asyncio settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from execbatch.dtos.execution import ExecutionSettings
from execbatch.testing.environment import BatchTestEnvironment
from execbatch.testing.kit import TEST_SETTINGS, BatchTestKit


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def batch_test_environment() -> AsyncIterator[BatchTestEnvironment]:
    async with await BatchTestEnvironment.start() as environment:
        yield environment


@pytest.fixture
def batch_kit_settings() -> ExecutionSettings:
    return TEST_SETTINGS


@pytest_asyncio.fixture(loop_scope="session")
async def batch_kit(
    batch_test_environment: BatchTestEnvironment, batch_kit_settings: ExecutionSettings
) -> AsyncIterator[BatchTestKit]:
    async with BatchTestKit.open(batch_test_environment, settings=batch_kit_settings) as kit:
        yield kit
