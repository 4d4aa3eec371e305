"""The kit's pytest plugin says exactly what to add when pytest-asyncio is not set up for it.

Without the settings pytest answered "async def functions are not natively
supported" (strict mode) or ran the test on a loop the kit's worker is not on.
Each case is a user's project outside this repository, run by a real pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_TEST = ROOT / "tests" / "testing" / "test_readme_example.py"


def _project(tmp_path: Path, config_name: str, config_text: str) -> Path:
    project = tmp_path / "desk"
    (project / "tests").mkdir(parents=True)
    shutil.copy(README_TEST, project / "tests" / "test_pair.py")
    (project / "conftest.py").write_text('pytest_plugins = ["execbatch.testing.pytest_plugin"]\n')
    (project / config_name).write_text(config_text)
    return project


def _pytest(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",)}
    env["PYTHONPATH"] = str(ROOT)  # this checkout's execbatch, as if installed
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize(
    ("config_name", "config_text", "problem", "advice"),
    [
        (
            "pyproject.toml",
            '[project]\nname = "desk"\n',
            'asyncio_mode is "strict" and the test has no @pytest.mark.asyncio',
            "[tool.pytest.ini_options]\n"
            'asyncio_mode = "auto"\n'
            'asyncio_default_fixture_loop_scope = "session"\n'
            'asyncio_default_test_loop_scope = "session"\n',
        ),
        (
            "pytest.ini",
            "[pytest]\nasyncio_mode = auto\n",
            'it would run on a "function"-scoped event loop while the kit\'s fixtures',
            "[pytest]\n"
            "asyncio_mode = auto\n"
            "asyncio_default_fixture_loop_scope = session\n"
            "asyncio_default_test_loop_scope = session\n",
        ),
    ],
)
def test_missing_asyncio_settings_are_named_before_anything_runs(
    tmp_path: Path, config_name: str, config_text: str, problem: str, advice: str
) -> None:
    project = _project(tmp_path, config_name, config_text)

    run = _pytest(project)

    assert run.returncode == 4, run.stdout + run.stderr  # a usage error: nothing ran
    output = run.stdout + run.stderr
    assert "tests/test_pair.py::test_pair_trade_with_a_rejected_leg_is_compensated" in output
    assert problem in output
    assert f"add to {project / config_name}:\n\n{advice}" in output
    assert "not natively supported" not in output
