"""CLI tests run ``execbatch`` as a real subprocess, against a real DevStack when they need one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from execbatch.devstack import DevStack

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
UNREACHABLE = "127.0.0.1:1"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, object]:
        value: dict[str, object] = json.loads(self.stdout)
        return value


def clean_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "EXECBATCH_"))}
    env.update(overrides)
    return env


def execbatch(
    *args: str, env: Mapping[str, str], cwd: Path | None = None, timeout: float = 180
) -> Run:
    proc = subprocess.run(
        [sys.executable, "-m", "execbatch.cli.app", *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def example_document(name: str, directive_id: str) -> dict[str, object]:
    document: dict[str, object] = json.loads((EXAMPLES / f"{name}.json").read_text())
    document["directive"]["directive_id"] = directive_id  # type: ignore[index]
    return document


@pytest.fixture(scope="session")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """One stack for the CLI tests, started from the main thread (see devstack.processes)."""
    with DevStack.on_free_ports(tmp_path_factory.mktemp("devstack")) as stack:
        yield stack


@pytest.fixture(scope="session")
def stack_env(dev_stack: DevStack) -> dict[str, str]:
    return clean_env(
        **{
            k: v
            for k, v in dev_stack.worker_env().items()
            if k.startswith(("TEMPORAL_", "EXECBATCH_"))
        }
    )
