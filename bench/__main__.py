"""``python -m bench``: see ``bench.cli`` and docs/BENCHMARK.md."""

from __future__ import annotations

from bench.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
