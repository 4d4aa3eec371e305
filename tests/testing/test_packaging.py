"""What `pip install` puts on a user's path: one name, execbatch, and no tools.

The product's distribution used to claim `backend`, `workflows`, `activities`,
`worker` and `bench` in site-packages: a user whose project has its own
`backend/` package (the ADR's own codebase is laid out that way) could not
load the testing kit's plugin. Now the wheel holds one top-level package, and
a user project with its own `backend/` runs the README's kit test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README_TEST = ROOT / "tests" / "testing" / "test_readme_example.py"


def test_the_wheel_holds_one_package_and_no_benchmark_or_test_code(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to copy the tracked tree")
    source = tmp_path / "src"
    # A clean copy of the tracked tree (symlinks included), as a fresh clone has it.
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, archive):
        path = Path(name.decode())
        target = source / path
        target.parent.mkdir(parents=True, exist_ok=True)
        origin = ROOT / path
        if origin.is_symlink():
            target.symlink_to(origin.readlink())
        elif origin.is_file():
            shutil.copy2(origin, target)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("execbatch-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    extra = top - {"execbatch"}
    assert "execbatch" in top and len(extra) == 1, top
    assert next(iter(extra)).endswith(".dist-info"), top
    assert "execbatch/workflows/batch_workflow.py" in names
    assert "execbatch/activities/order_activities.py" in names
    assert "execbatch/core/enums.py" in names
    assert not [n for n in names if "/bench" in n or n.startswith(("bench", "tests"))]
    assert not [n for n in names if "/tests/" in n or "/test_" in n]


def test_a_project_with_its_own_backend_package_runs_the_readme_kit_test(tmp_path: Path) -> None:
    project = tmp_path / "desk"
    (project / "backend").mkdir(parents=True)
    (project / "backend" / "__init__.py").write_text(
        '"""The desk\'s own backend."""\nOURS = True\n'
    )
    (project / "tests").mkdir()
    (project / "tests" / "test_own_backend.py").write_text(
        "import backend\n\n\ndef test_our_backend_is_ours() -> None:\n    assert backend.OURS\n"
    )
    shutil.copy(README_TEST, project / "tests" / "test_readme_example.py")
    (project / "conftest.py").write_text('pytest_plugins = ["execbatch.testing.pytest_plugin"]\n')
    (project / "pytest.ini").write_text(
        "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = session\n"
        "asyncio_default_test_loop_scope = session\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 passed" in run.stdout
