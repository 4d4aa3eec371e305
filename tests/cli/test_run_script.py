"""``./run --help`` lists ./run's own commands and every execbatch command.

The script is run from a copy of the repository's top level whose ``.venv`` is
already "installed" (the stamp ./run checks) and whose ``execbatch`` runs this
checkout, so nothing is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_run_help_lists_the_commands(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "run", tmp_path / "run")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    digest = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    (tmp_path / ".venv" / f".installed-{digest}").touch()
    execbatch = venv_bin / "execbatch"
    execbatch.write_text(f'#!/bin/sh\nexec {sys.executable} -m execbatch.cli.app "$@"\n')
    execbatch.chmod(0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100"}

    for flag in ("--help", "help", "-h"):
        run = subprocess.run(
            [str(tmp_path / "run"), flag], env=env, capture_output=True, text=True, timeout=120
        )
        assert run.returncode == 0, run.stderr
        assert run.stdout.startswith("Usage: ./run COMMAND [ARGS]...")
        assert "test [PYTEST ARGS]" in run.stdout and "screenshots" in run.stdout
        assert "Usage: execbatch [OPTIONS] COMMAND [ARGS]..." in run.stdout
        for command in ("submit", "status", "cancel", "list", "positions", "orders", "dev"):
            assert f" {command} " in run.stdout, command
        assert "#" not in run.stdout.split("Usage: execbatch")[0]  # no comment lines
