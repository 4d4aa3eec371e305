"""Configuration and the Temporal connection: leaves every layer may use.

``ExecbatchConfig.from_env()`` reads Temporal's standard environment variables
(and its config file) plus ours; ``connect(config)`` opens the client with the
data converter (and payload codec) the environment configures.
"""

from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig

__all__ = ["ExecbatchConfig", "connect"]
