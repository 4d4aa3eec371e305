"""Chaos suite: worker kills, server and venue restarts, venue faults, fuzzed input.

``python -m bench.chaos --batches 500 --kills 50`` runs the long version;
``tests/chaos`` runs a short one in CI. See docs/RELIABILITY.md.
"""

from bench.chaos.config import ChaosConfig
from bench.chaos.driver import run_chaos
from bench.chaos.report import ChaosReport

__all__ = ["ChaosConfig", "ChaosReport", "run_chaos"]
