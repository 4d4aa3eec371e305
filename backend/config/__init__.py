"""Configuration and the Temporal connection: leaves every layer may use.

``ExecbatchConfig.from_env()`` reads Temporal's standard environment variables
(and its config file) plus ours; ``connect(config)`` opens the client with the
data converter (and payload codec) the environment configures, or raises
``TemporalUnreachable`` naming the address and what to check.
"""

from execbatch.config.connection import TemporalUnreachable, connect
from execbatch.config.environment import ExecbatchConfig

__all__ = ["ExecbatchConfig", "TemporalUnreachable", "connect"]
