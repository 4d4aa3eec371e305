"""One measured cell: a system, a batch shape and a load, with its figures.

Resource figures come from psutil: CPU seconds used by each process group
during the cell (divided by the batches completed gives CPU per batch) and
RSS at the end of the cell.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bench.batches import BatchSpec
from bench.load import Samples, closed_loop, open_loop
from bench.stack import cpu_seconds, rss_mb
from bench.systems import System


@dataclass(frozen=True)
class Load:
    """``concurrency`` for a closed loop, or ``rate`` (batches/s) for an open loop."""

    concurrency: int | None = None
    rate: float | None = None

    @property
    def label(self) -> str:
        return f"c={self.concurrency}" if self.concurrency is not None else f"{self.rate:g}/s"


@dataclass
class CellResult:
    system: str
    mode: str
    legs: int
    load: str
    batches: int
    seconds: float
    batches_per_s: float
    legs_per_s: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    errors: int
    lost: int
    late_sends: int
    cpu_ms_per_batch: dict[str, float]
    rss_mb: dict[str, float]
    loadavg_1m: float
    error_samples: list[str] = field(default_factory=list)
    ttfo_p50_ms: float | None = None
    """Time to first order: submit to the batch's first order at the venue (p50)."""
    ttfo_p99_ms: float | None = None
    actions_per_batch: int | None = None
    """Temporal Cloud actions of one batch of this cell, counted from its history."""


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence."""
    rank = max(0, min(len(ordered) - 1, -(-len(ordered) * pct // 100) - 1))
    return ordered[int(rank)]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 2)


def summarise(
    system: str,
    spec: BatchSpec,
    load: Load,
    samples: Samples,
    cpu: Mapping[str, float],
    rss: Mapping[str, float],
) -> CellResult:
    ordered = sorted(samples.latencies)
    n = len(ordered)
    per_s = n / samples.window_seconds if samples.window_seconds else 0.0
    return CellResult(
        system=system,
        mode=spec.mode.value,
        legs=spec.legs,
        load=load.label,
        batches=n,
        seconds=round(samples.window_seconds, 2),
        batches_per_s=round(per_s, 1),
        legs_per_s=round(per_s * spec.legs, 1),
        p50_ms=_ms(percentile(ordered, 50)) if n else None,
        p95_ms=_ms(percentile(ordered, 95)) if n else None,
        p99_ms=_ms(percentile(ordered, 99)) if n else None,
        max_ms=_ms(ordered[-1]) if n else None,
        errors=len(samples.errors),
        lost=samples.lost,
        late_sends=samples.late_sends,
        cpu_ms_per_batch={k: round(v * 1000 / n, 2) if n else 0.0 for k, v in cpu.items()},
        rss_mb={k: round(v, 1) for k, v in rss.items()},
        loadavg_1m=round(os.getloadavg()[0], 2),
        error_samples=samples.errors[:5],
    )


class Probe:
    """Named process groups whose CPU and RSS a cell reports ("worker", "venue", ...)."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self.groups = {name: list(pids) for name, pids in groups.items()}

    def cpu(self) -> dict[str, float]:
        return {name: cpu_seconds(pids) for name, pids in self.groups.items()}

    def rss(self) -> dict[str, float]:
        return {name: rss_mb(pids) for name, pids in self.groups.items()}


async def measure(
    system: System,
    spec: BatchSpec,
    load: Load,
    duration: float,
    warmup: float,
    probe: Probe,
) -> CellResult:
    """Run one cell and summarise it. CPU covers warmup + window + drain, divided
    by batches timed; close enough for short batches and long windows."""
    system.submits.clear()
    before = probe.cpu()
    wall = time.perf_counter()

    async def run_one() -> str | None:
        return await system.run_batch(spec)

    if load.concurrency is not None:
        samples = await closed_loop(run_one, load.concurrency, duration, warmup)
    else:
        assert load.rate is not None
        samples = await open_loop(run_one, load.rate, duration, warmup)
    after = probe.cpu()
    elapsed = time.perf_counter() - wall
    # CPU per batch over the whole cell: scale the count of timed batches up to
    # all batches the cell ran (warmup and drain included) by wall time.
    scale = duration / elapsed if elapsed > 0 else 1.0
    cpu = {k: (after[k] - before[k]) * scale for k in after}
    return summarise(system.name, spec, load, samples, cpu, probe.rss())
