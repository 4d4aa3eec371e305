"""py-spy over a process while a cell runs, summarised as where the time goes.

``py-spy record --format raw`` writes collapsed stacks ("a;b;c count"); we
report the top frames by *self* time (the leaf of each stack) and by *total*
time (any frame on the stack), which is enough to see what bounds a worker.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path


def py_spy_path() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profiler:
    """Samples one PID until stopped; ``summary`` reads the collapsed stacks."""

    def __init__(self, pid: int, out: Path, rate: int = 200) -> None:
        exe = py_spy_path()
        if exe is None:
            raise RuntimeError("py-spy not installed: pip install py-spy")
        self.out = out
        self._proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                str(rate),
                "--nonblocking",
                "--output",
                str(out),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def stop(self) -> None:
        """SIGINT makes py-spy write its output and exit."""
        import signal

        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _frame(text: str) -> str:
    # py-spy frames look like "function (path/to/file.py:123)"; drop the line number
    name, _, where = text.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3.11/", f"{PROJECT_ROOT}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summary(out: Path, top: int = 25) -> dict[str, object]:
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    samples = 0
    idle = 0
    for line in out.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        samples += count
        if not frames:
            continue
        if frames[-1].startswith(("select ", "poll ", "epoll_wait", "_run_once")):
            idle += count
        self_time[frames[-1]] += count
        for frame in set(frames):
            total_time[frame] += count
    return {
        "samples": samples,
        "idle_share": round(idle / samples, 3) if samples else None,
        "top_self": [(f, round(c / samples, 3)) for f, c in self_time.most_common(top)],
        "top_total": [(f, round(c / samples, 3)) for f, c in total_time.most_common(top)],
    }
