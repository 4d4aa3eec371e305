"""Enable the kit's fixtures, as a user's top-level conftest.py would.

Once execbatch registers the plugin as a ``pytest11`` entry point, pytest
loads it by itself, and registering it again here would be an error.
"""

import os
from importlib.metadata import entry_points

PLUGIN = "execbatch.testing.pytest_plugin"


def _autoloaded() -> bool:
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return False
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


pytest_plugins = [] if _autoloaded() else [PLUGIN]
