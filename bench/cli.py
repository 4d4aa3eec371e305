"""Command line of ``python -m bench`` (a tool beside the product, never shipped in it)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from rich.console import Console

from bench.run import RunConfig, run_bench
from execbatch.core.enums import BatchExecutionMode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Batches/s and latency of execbatch against a naive-Temporal and a direct "
            "asyncio executor, in one run, on one venue and dev server it starts itself."
        ),
    )
    parser.add_argument("--quick", action="store_true", help="CI smoke: short cells, few shapes")
    parser.add_argument("--duration", type=float, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, help="unmeasured seconds before each cell")
    parser.add_argument("--rate", type=float, help="open-loop arrival rate, batches/s (0: none)")
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of sustained run")
    parser.add_argument("--no-growth", action="store_true", help="skip the growth section")
    parser.add_argument("--no-matrix", action="store_true", help="skip closed/open-loop cells")
    parser.add_argument("--workers", type=int, default=1, help="worker processes for ours")
    parser.add_argument(
        "--worker",
        default="worker.py",
        help="our worker: 'worker.py' (default) or a module such as bench.levers.worker",
    )
    parser.add_argument("--worker-args", default="", help="extra arguments for --worker module")
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL", help="venue SQLite")
    parser.add_argument("--db-filename", type=Path, help="file-backed dev server (else in-memory)")
    parser.add_argument(
        "--untuned-server",
        action="store_true",
        help="the dev server's default dynamic config (no eager start, 20 transfer reads/s)",
    )
    parser.add_argument(
        "--systems",
        default="floor,ours,naive,direct",
        help=(
            "comma list of floor (a no-op workflow, eager, default worker), ours, naive, "
            "direct, ours-embedded (worker in the driver, eager start)"
        ),
    )
    parser.add_argument("--modes", default=",".join(m.value for m in BatchExecutionMode))
    parser.add_argument("--concurrency", default=None, help="comma list, default 1,16,64")
    parser.add_argument("--legs", default=None, help="comma list, default 2,3")
    parser.add_argument("--growth-legs", default=None, help="comma list, default 1,10,100,1000")
    parser.add_argument("--json", type=Path, help="JSON output path (default bench/results/)")
    return parser


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def config_from_args(args: argparse.Namespace) -> RunConfig:
    config = RunConfig()
    if args.quick:
        config = RunConfig(
            duration=2.0,
            warmup=0.5,
            legs=(2,),
            concurrencies=(1, 16),
            rate=10.0,
            open_loop_legs=2,
            growth_legs=(1, 10),
            compensating_legs=(3,),
        )
    if args.duration is not None:
        config.duration = args.duration
    if args.warmup is not None:
        config.warmup = args.warmup
    if args.rate is not None:
        config.rate = args.rate
    if args.concurrency:
        config.concurrencies = _ints(args.concurrency)
    if args.legs:
        config.legs = _ints(args.legs)
    if args.growth_legs is not None:
        config.growth_legs = _ints(args.growth_legs)
    if args.no_growth:
        config.growth_legs = ()
        config.compensating_legs = ()
    if args.no_matrix:
        config.legs = ()
        config.rate = 0.0
    config.modes = tuple(BatchExecutionMode(m.strip()) for m in args.modes.split(",") if m)
    config.soak_seconds = args.soak
    config.workers = args.workers
    if args.worker.endswith(".py"):
        config.worker_argv = (args.worker, *args.worker_args.split())
    else:
        config.worker_argv = ("-m", args.worker, *args.worker_args.split())
    config.venue_sync = args.sync
    config.db_filename = args.db_filename
    config.tuned_server = not args.untuned_server
    config.systems = tuple(s.strip() for s in args.systems.split(",") if s.strip())
    config.json_path = args.json
    config.extra = {"quick": args.quick}
    return config


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    asyncio.run(run_bench(config, Console(width=200)))
    return 0
