"""The embedded development stack: Temporal dev server, paper venue and worker.

``execbatch dev`` runs it in the foreground; tests and ``execbatch demo`` use
``DevStack`` as a context manager on free ports.
"""

from backend.devstack.lock import StackAlreadyRunning, StackLock
from backend.devstack.processes import ManagedProcess
from backend.devstack.stack import DevStack, PortInUse, StackFailed

__all__ = [
    "DevStack",
    "ManagedProcess",
    "PortInUse",
    "StackAlreadyRunning",
    "StackFailed",
    "StackLock",
]
