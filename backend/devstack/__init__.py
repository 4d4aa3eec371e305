"""The embedded development stack: Temporal dev server, paper venue and worker.

``execbatch dev`` runs it in the foreground; tests and ``execbatch demo`` use
``DevStack`` as a context manager on free ports.
"""

from execbatch.devstack.lock import StackAlreadyRunning, StackLock
from execbatch.devstack.stack import DevStack, PortInUse, StackFailed
from execbatch.supervision import ManagedProcess

__all__ = [
    "DevStack",
    "ManagedProcess",
    "PortInUse",
    "StackAlreadyRunning",
    "StackFailed",
    "StackLock",
]
