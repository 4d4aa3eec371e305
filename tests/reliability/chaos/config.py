"""The knobs of a chaos run; the defaults are the long run's."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.reliability.chaos.scenario import FaultRates, ScenarioMix


@dataclass(frozen=True)
class ChaosConfig:
    batches: int = 500
    kills: int = 50
    """How many kill events (each SIGKILLs one worker, sometimes all of them)."""
    server_restarts: int = 2
    worker_outages: int = 1
    """How many times every worker is killed and kept down for ``outage_seconds``."""
    outage_seconds: float = 30.0
    """Longer than the 15 s wind-down margin of the resting batches' 40-60 s timeouts,
    so batches whose deadline falls in the outage hit Temporal's hard timeout and
    must be recovered by a worker's sweeper once the workers are back."""
    venue_restarts: int = 2
    terminations: int = 0
    """Operator terminations (Temporal's Terminate) of random running batches."""
    resets: int = 0
    """Operator resets of random running batches to a random completed workflow task."""
    halts: int = 0
    """Times trading is HALTED (as ``execbatch halt`` does: the state, then the sweep of
    running batches) and, 0.5-2 s after its acknowledgement, resumed; at seeded moments."""
    reduces: int = 0
    """Times trading is set REDUCING and, 0.5-2 s after its acknowledgement, resumed."""
    workers: int = 2
    concurrency: int = 24
    """Batches in flight at once."""
    seed: int = 1
    fault_scale: float = 1.0
    """Multiplies every transient-fault probability (0 disables them)."""
    fuzz_examples: int = 0
    """Bad documents thrown at ``execbatch submit`` before the batches (0: skip)."""
    settle_timeout: float = 600.0
    """How long to wait, after the last submission, for every batch to end."""
    venue: str = "paper"
    """Which venue the workers trade: ``paper`` (the native API), ``alpaca`` or ``binance``
    (the real SDK adapters against the paper venue's dialect; ``chaos.venues``)."""
    workdir: Path | None = None
    """Where databases and logs go; a temporary directory (removed) when None."""
    keep_workdir: bool = False
    mix: ScenarioMix = field(default_factory=ScenarioMix)
    rates: FaultRates = field(default_factory=FaultRates)

    @property
    def fault_rates(self) -> FaultRates:
        return self.rates.scaled(self.fault_scale)
