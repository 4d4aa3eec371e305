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
When a test that uses them would not run that way, the run stops at collection
and says exactly what to add where (``SETTINGS``), instead of pytest's generic "async
def functions are not natively supported" or a worker on the wrong loop.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from execbatch.dtos.execution import ExecutionSettings
from execbatch.testing.environment import BatchTestEnvironment
from execbatch.testing.kit import TEST_SETTINGS, BatchTestKit

KIT_FIXTURES = frozenset({"batch_kit", "batch_test_environment"})

SETTINGS = {
    "asyncio_mode": "auto",
    "asyncio_default_fixture_loop_scope": "session",
    "asyncio_default_test_loop_scope": "session",
}
"""The pytest-asyncio settings a project using the kit needs."""


def settings_text(config: pytest.Config) -> str:
    """Where to add ``SETTINGS`` and how, for the configuration file this run reads."""
    inipath = getattr(config, "inipath", None)
    name = inipath.name if inipath is not None else "pyproject.toml"
    if name == "pyproject.toml":
        lines = [f'{key} = "{value}"' for key, value in SETTINGS.items()]
        where = inipath or "your pyproject.toml"
        return f"add to {where}:\n\n[tool.pytest.ini_options]\n" + "\n".join(lines)
    section = "[tool:pytest]" if name == "setup.cfg" else "[pytest]"
    lines = [f"{key} = {value}" for key, value in SETTINGS.items()]
    return f"add to {inipath}:\n\n{section}\n" + "\n".join(lines)


def _ini(config: pytest.Config, name: str) -> str | None:
    try:
        value = config.getini(name)
    except ValueError:  # pytest-asyncio not loaded, or a version without this setting
        return None
    return str(value) if value else None


def _setup_problem(config: pytest.Config, item: pytest.Item) -> str | None:
    """Why pytest-asyncio would not run ``item`` on the session's loop; None if it would."""
    if not inspect.iscoroutinefunction(getattr(item, "obj", None)):
        return None
    mode = _ini(config, "asyncio_mode") or "strict"
    marker = item.get_closest_marker("asyncio")
    if mode != "auto" and marker is None:
        return (
            f'asyncio_mode is "{mode}" and the test has no @pytest.mark.asyncio, so '
            "pytest-asyncio does not run it"
        )
    kwargs = marker.kwargs if marker is not None else {}
    scope = (
        kwargs.get("loop_scope")
        or kwargs.get("scope")
        or _ini(config, "asyncio_default_test_loop_scope")
        or "function"
    )
    if scope != "session":
        return (
            f'it would run on a "{scope}"-scoped event loop while the kit\'s fixtures (and '
            "the Temporal worker) live on the session's loop"
        )
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop before running anything when a test using the kit cannot run on its loop."""
    for item in items:
        if KIT_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
            continue
        problem = _setup_problem(config, item)
        if problem is not None:
            raise pytest.UsageError(
                f"execbatch.testing: {item.nodeid} uses batch_kit, but {problem}; "
                f"{settings_text(config)}\n"
            )


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
