"""One dev stack per state folder: an exclusive ``flock`` plus a JSON note of who holds it.

The kernel releases a ``flock`` when its holder dies, however it dies, so a
stale lock file never blocks the next ``execbatch dev``; the note inside only
serves to tell the user where the running stack is.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any


class StackAlreadyRunning(RuntimeError):
    """Another dev stack holds this state folder."""

    def __init__(self, state_dir: Path, holder: dict[str, Any]) -> None:
        pid = holder.get("pid", "?")
        ui = holder.get("ui_url")
        where = f", Web UI {ui}" if ui else ""
        super().__init__(
            f"an execbatch dev stack is already running from {state_dir} (pid {pid}{where}); "
            "stop it first (Ctrl-C in its terminal) or use it as it is"
        )
        self.holder = holder


class StackLock:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / "dev.lock"
        self._file: IO[str] | None = None

    def acquire(self, note: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            text = handle.read()
            handle.close()
            raise StackAlreadyRunning(self.state_dir, _parse(text)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), **note}))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        handle, self._file = self._file, None
        if handle is None:
            return
        handle.seek(0)
        handle.truncate()
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _parse(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
