"""Chaos suite: worker kills, server and venue restarts, venue faults, fuzzed input,
trading halted and reduced.

``python -m tests.reliability.chaos --batches 500 --kills 50`` runs the long version
(``--venue alpaca|binance``: through the real SDK adapters against the paper venue's
dialect of that venue); ``tests/reliability`` runs short ones in CI. See docs/RELIABILITY.md.
"""

from tests.reliability.chaos.config import ChaosConfig
from tests.reliability.chaos.driver import run_chaos
from tests.reliability.chaos.report import ChaosReport

__all__ = ["ChaosConfig", "ChaosReport", "run_chaos"]
