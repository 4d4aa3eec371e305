"""``python -m tests.reliability.chaos``: run the chaos suite and print its report table.

Exit status 0 when every invariant held, 1 when one failed (the offending
batches and orders are listed under the table), 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import shlex
import sys
from pathlib import Path

from tests.reliability.chaos.config import ChaosConfig
from tests.reliability.chaos.driver import run_chaos
from tests.reliability.chaos.scenario import VENUES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.chaos", description=__doc__)
    parser.add_argument("--batches", type=int, default=500)
    parser.add_argument("--kills", type=int, default=50, help="worker kill events")
    parser.add_argument("--server-restarts", type=int, default=2)
    parser.add_argument("--venue-restarts", type=int, default=2)
    parser.add_argument(
        "--worker-outages", type=int, default=1, help="times all workers stay down a while"
    )
    parser.add_argument(
        "--terminations", type=int, default=20, help="operator terminations of running batches"
    )
    parser.add_argument("--resets", type=int, default=10, help="operator resets of running batches")
    parser.add_argument(
        "--halts", type=int, default=3, help="trading HALTED (and swept), then resumed"
    )
    parser.add_argument("--reduces", type=int, default=1, help="trading REDUCING, then resumed")
    parser.add_argument("--outage-seconds", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=24, help="batches in flight")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--fault-scale", type=float, default=1.0, help="x every fault rate")
    parser.add_argument("--fuzz-examples", type=int, default=200, help="bad submit files")
    parser.add_argument("--settle-timeout", type=float, default=600.0)
    parser.add_argument(
        "--venue",
        choices=VENUES,
        default="paper",
        help="paper: the native API; alpaca, binance: the real SDK adapter against the"
        " paper venue's dialect of that venue",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep DBs and logs here")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    config = ChaosConfig(
        batches=args.batches,
        kills=args.kills,
        server_restarts=args.server_restarts,
        venue_restarts=args.venue_restarts,
        worker_outages=args.worker_outages,
        terminations=args.terminations,
        resets=args.resets,
        halts=args.halts,
        reduces=args.reduces,
        outage_seconds=args.outage_seconds,
        workers=args.workers,
        concurrency=args.concurrency,
        seed=args.seed,
        fault_scale=args.fault_scale,
        fuzz_examples=args.fuzz_examples,
        settle_timeout=args.settle_timeout,
        venue=args.venue,
        workdir=args.workdir,
    )
    command = "python -m tests.reliability.chaos " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    report = asyncio.run(run_chaos(config, command=command))
    print(report.table())
    if report.needs_attention:
        print(report.attention_table())
    if not report.ok:
        print(report.violation_details(), file=sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
