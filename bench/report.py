"""Printing the run as rich tables and writing it as JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.cells import CellResult
from bench.growth import GrowthResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def cells_table(title: str, cells: Sequence[CellResult]) -> Table:
    table = Table(title=title, show_lines=False)
    for column in (
        "system",
        "mode",
        "legs",
        "load",
        "batches/s",
        "legs/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "err/lost",
        "1st order p50/p99",
        "actions",
        "cpu ms/batch (wkr+ven+srv+drv)",
        "RSS MB wkr/ven",
        "load1",
    ):
        table.add_column(column, justify="right" if column not in ("system", "mode") else "left")
    for c in cells:
        cpu = c.cpu_ms_per_batch
        cpu_text = "+".join(_f(cpu.get(k), 1) for k in ("worker", "venue", "server", "driver"))
        rss = f"{_f(c.rss_mb.get('worker'), 0)}/{_f(c.rss_mb.get('venue'), 0)}"
        table.add_row(
            c.system,
            c.mode,
            str(c.legs),
            c.load,
            _f(c.batches_per_s),
            _f(c.legs_per_s),
            _f(c.p50_ms),
            _f(c.p95_ms),
            _f(c.p99_ms),
            _f(c.max_ms),
            f"{c.errors}/{c.lost}",
            f"{_f(c.ttfo_p50_ms)}/{_f(c.ttfo_p99_ms)}",
            str(c.actions_per_batch) if c.actions_per_batch is not None else "-",
            cpu_text,
            rss,
            _f(c.loadavg_1m, 2),
        )
    return table


def ratio_rows(cells: Sequence[CellResult], ours: str = "ours") -> list[dict[str, Any]]:
    """Ours against the floor, naive and direct, cell by cell (same mode, legs, load)."""
    index = {(c.system, c.mode, c.legs, c.load): c for c in cells}
    rows: list[dict[str, Any]] = []
    for c in cells:
        if c.system != ours:
            continue
        naive = index.get(("naive", c.mode, c.legs, c.load))
        direct = index.get(("direct", c.mode, c.legs, c.load))
        floor = index.get(("floor", c.mode, c.legs, c.load))
        row: dict[str, Any] = {"mode": c.mode, "legs": c.legs, "load": c.load}
        if floor and floor.batches_per_s:
            row["throughput_x_floor"] = round(c.batches_per_s / floor.batches_per_s, 2)
        if floor and floor.p50_ms and c.p50_ms:
            row["p50_minus_floor_ms"] = round(c.p50_ms - floor.p50_ms, 1)
        if naive and naive.batches_per_s:
            row["throughput_x_naive"] = round(c.batches_per_s / naive.batches_per_s, 2)
        if direct and direct.batches_per_s:
            row["throughput_x_direct"] = round(c.batches_per_s / direct.batches_per_s, 3)
        if naive and naive.p50_ms and c.p50_ms:
            row["p50_x_naive"] = round(c.p50_ms / naive.p50_ms, 2)
        if direct and direct.p50_ms and c.p50_ms:
            row["p50_x_direct"] = round(c.p50_ms / direct.p50_ms, 2)
            row["p50_minus_direct_ms"] = round(c.p50_ms - direct.p50_ms, 1)
        if direct and direct.ttfo_p50_ms is not None and c.ttfo_p50_ms is not None:
            row["first_order_p50_minus_direct_ms"] = round(c.ttfo_p50_ms - direct.ttfo_p50_ms, 1)
        if naive and naive.cpu_ms_per_batch.get("worker") and c.cpu_ms_per_batch.get("worker"):
            row["worker_cpu_ms"] = c.cpu_ms_per_batch["worker"]
        rows.append(row)
    return rows


def ratio_table(rows: Sequence[dict[str, Any]], ours: str = "ours") -> Table:
    table = Table(title=f"{ours} as ratios (same run, same venue)")
    for column in (
        "mode",
        "legs",
        "load",
        "thr x floor",
        "thr x naive",
        "thr x direct",
        "p50 - floor ms",
        "p50 x naive",
        "p50 - direct ms",
        "1st order - direct ms",
    ):
        table.add_column(column, justify="left" if column == "mode" else "right")
    for r in rows:
        table.add_row(
            r["mode"],
            str(r["legs"]),
            r["load"],
            _f(r.get("throughput_x_floor"), 2),
            _f(r.get("throughput_x_naive"), 2),
            _f(r.get("throughput_x_direct"), 3),
            _f(r.get("p50_minus_floor_ms"), 1),
            _f(r.get("p50_x_naive"), 2),
            _f(r.get("p50_minus_direct_ms"), 1),
            _f(r.get("first_order_p50_minus_direct_ms"), 1),
        )
    return table


def growth_table(points: Sequence[GrowthResult]) -> Table:
    table = Table(title="growth: one batch of ours at a time")
    for column in ("mode", "legs", "compensating", "seconds", "events", "KiB", "status", "error"):
        table.add_column(column)
    for p in points:
        table.add_row(
            p.mode,
            str(p.legs),
            "yes" if p.compensating else "",
            _f(p.seconds, 3),
            str(p.history_events or "-"),
            _f(p.history_bytes / 1024 if p.history_bytes else None, 1),
            p.status,
            (p.error or "")[:80],
        )
    return table


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(document: dict[str, Any], path: Path | None) -> Path:
    if path is None:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"bench-{document['run']['started']}.json"
    path.write_text(json.dumps(document, indent=2, default=_plain) + "\n", encoding="utf-8")
    return path


def print_all(console: Console, *tables: Table) -> None:
    for table in tables:
        console.print(table)
