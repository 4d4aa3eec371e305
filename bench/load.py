"""Load generators: closed loop (fixed concurrency) and open loop (fixed arrival rate).

Closed loop: ``concurrency`` clients each submit a batch, wait for its result
and submit the next. Throughput is the batches *completed* inside the measured
window divided by its length; latency is each batch's submit-to-result time.
Batches still in flight when the window closes are drained (and their errors
counted) but not timed.

Open loop: batch ``i`` is *due* at ``start + i / rate`` whatever happened to
earlier ones. Its latency is measured from that intended time, not from when
the driver actually got round to sending it, so a stall (driver, server or
worker) shows up in the latency of every batch it delayed: no coordinated
omission.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

RunOne = Callable[[], Awaitable[str | None]]

MAX_WAVE_WAIT = 15.0
"""Open the closed-loop window after this long past warmup even if the first wave is
still in flight, so an overloaded run stays bounded (its figures then include ramp)."""


@dataclass
class Samples:
    """Raw outcome of one cell."""

    window_seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lost: int = 0
    """Batches that raised (timeout, RPC failure) instead of returning a result."""
    late_sends: int = 0
    """Open loop only: batches the driver sent more than 10 ms after their due time."""

    def add_failure(self, exc: BaseException) -> None:
        self.lost += 1
        self.errors.append(f"{type(exc).__name__}: {exc}"[:300])


async def _timed(run_one: RunOne) -> tuple[float, str | None]:
    error = await run_one()
    return time.perf_counter(), error


async def closed_loop(run_one: RunOne, concurrency: int, duration: float, warmup: float) -> Samples:
    """Warm up for ``warmup`` seconds *and* one full wave (``concurrency`` completions),
    then time a window of ``duration`` seconds.

    The wave matters at high concurrency: all clients start together, so the
    first completions arrive together too; a window opened before that wave has
    passed measures the ramp, not the steady state.
    """
    samples = Samples(window_seconds=duration)
    start = time.perf_counter()
    completions: list[tuple[float, float, str | None]] = []
    window: list[float] = []  # [start, end] once known

    def maybe_open_window(now: float) -> None:
        waited = now - start
        wave_done = len(completions) >= concurrency or waited >= warmup + MAX_WAVE_WAIT
        if not window and waited >= warmup and wave_done:
            window.extend((now, now + duration))

    async def client() -> None:
        while not window or time.perf_counter() < window[1]:
            sent = time.perf_counter()
            try:
                done, error = await _timed(run_one)
            except Exception as exc:  # noqa: BLE001 - a failed batch is counted, never fatal
                samples.add_failure(exc)
                continue
            completions.append((sent, done, error))
            maybe_open_window(done)

    async def opener() -> None:
        # with slow batches and a long warmup, open the window on time anyway
        while not window:
            await asyncio.sleep(0.05)
            maybe_open_window(time.perf_counter())

    await asyncio.gather(opener(), *(client() for _ in range(concurrency)))
    window_start, window_end = window
    for sent, done, error in completions:
        if done >= window_start and error is not None:
            samples.errors.append(error)
        if window_start <= done < window_end:
            samples.latencies.append(done - sent)
    return samples


async def open_loop(run_one: RunOne, rate: float, duration: float, warmup: float) -> Samples:
    """Send at ``rate`` batches/s for ``warmup + duration`` seconds; time those after warmup."""
    samples = Samples(window_seconds=duration)
    start = time.perf_counter()
    total = int((warmup + duration) * rate)
    first_recorded = int(warmup * rate)

    async def one(due: float, record: bool) -> None:
        try:
            done, error = await _timed(run_one)
        except Exception as exc:  # noqa: BLE001 - a failed batch is counted, never fatal to the run
            samples.add_failure(exc)
            return
        if record:
            samples.latencies.append(done - due)
            if error is not None:
                samples.errors.append(error)

    tasks: list[asyncio.Task[None]] = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > 0.010 and i >= first_recorded:
            samples.late_sends += 1
        tasks.append(asyncio.create_task(one(due, i >= first_recorded)))
    await asyncio.gather(*tasks)
    return samples
