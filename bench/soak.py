"""Sustained run: a closed loop for ``seconds``, RSS sampled every few seconds.

Memory is "flat" when the RSS of the second half does not keep climbing: we
report the samples, and the growth from the first to the last quarter.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from bench.batches import BatchSpec
from bench.cells import CellResult, Load, Probe, measure
from bench.systems import System


@dataclass
class SoakResult:
    cell: CellResult
    interval_s: float
    rss_samples: dict[str, list[float]] = field(default_factory=dict)
    rss_growth_mb: dict[str, float] = field(default_factory=dict)
    """Mean RSS of the last quarter minus that of the first quarter, per group."""


def _quarter_growth(samples: list[float]) -> float:
    if len(samples) < 4:
        return 0.0
    q = len(samples) // 4
    first = sum(samples[:q]) / q
    last = sum(samples[-q:]) / q
    return round(last - first, 1)


async def soak(
    system: System, spec: BatchSpec, concurrency: int, seconds: float, probe: Probe
) -> SoakResult:
    interval = max(1.0, seconds / 40)
    series: dict[str, list[float]] = {name: [] for name in probe.groups}
    stop = asyncio.Event()

    async def sample() -> None:
        while not stop.is_set():
            for name, value in probe.rss().items():
                series[name].append(round(value, 1))
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue

    sampler = asyncio.create_task(sample())
    started = time.perf_counter()
    try:
        cell = await measure(system, spec, Load(concurrency=concurrency), seconds, 2.0, probe)
    finally:
        stop.set()
        await sampler
    del started
    growth: Mapping[str, float] = {k: _quarter_growth(v) for k, v in series.items()}
    return SoakResult(
        cell=cell, interval_s=interval, rss_samples=series, rss_growth_mb=dict(growth)
    )
