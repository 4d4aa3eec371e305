"""The figures a chaos run ends with, and the table they print as."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

VENUE_ROWS = {
    "alpaca": "alpaca: AlpacaAdapter (alpaca-py) -> paper venue /v2",
    "binance": "binance: CcxtAdapter (ccxt) -> paper venue /api/v3",
}


@dataclass
class ChaosReport:
    batches_planned: int = 0
    batches_run: int = 0
    batches_recovered: int = 0
    """Batches whose run Temporal closed without a result (hard timeout, Terminate,
    failure), settled by their settlement run."""
    operator_terminations: int = 0
    operator_resets: int = 0
    batches_by_status: Counter[str] = field(default_factory=Counter)
    batches_by_mode: Counter[str] = field(default_factory=Counter)
    trading_halts: int = 0
    batches_swept_by_halts: int = 0
    trading_reduces: int = 0
    flatten_sold: list[tuple[Decimal, Decimal]] = field(default_factory=list)
    """Each flatten wave's (position, sold by its batches together)."""
    legs_refused_by_gate: int = 0
    """Legs the risk gate refused (HALTED, REDUCING) with no order of theirs at the venue."""
    worker_kills: int = 0
    kill_events: int = 0
    worker_unexpected_exits: int = 0
    server_restarts: int = 0
    worker_outages: int = 0
    venue_restarts: int = 0
    faults_injected: Counter[str] = field(default_factory=Counter)
    venue_requests: Counter[str] = field(default_factory=Counter)
    place_outcomes: Counter[str] = field(default_factory=Counter)
    venue_orders: int = 0
    inputs_tried: int = 0
    inputs_wrongly_accepted: int = 0
    rejections_seen: int = 0
    refusals_unseen: int = 0
    """Placements the venue refused while the workflow had abandoned them, on a venue
    whose API shows no refused order afterwards: legs CANCELLED, nothing placed."""
    refused_after_venue_rejection: int = 0
    """Legs our gate refused on a re-run after a lost workflow task whose send the venue
    had rejected: the venue's records hold that rejection (filled 0), its API shows no
    order (Alpaca's and Binance's answer a refused submit with an error and create
    none), so the look-up found nothing and the leg stays REJECTED by the gate."""
    rejections_reexecuted: int = 0
    stray_placements_after_settle: int = 0
    """Placement attempts that started after their id was settled at a venue where a
    settled id is final (a terminated run's local activity still retrying on its
    worker, which learns of the termination only when it reports the task): the
    settlement's answer (the paper venue's fence; Alpaca's unique id) is the leg's
    state, and the attempt can place nothing, so its transient answer needs no
    follow-up."""
    transient_answers: int = 0
    transient_retried: int = 0
    seconds: float = 0.0
    command: str = ""
    venue: str = "paper"
    """``paper`` (the native API) or the real venue whose dialect the workers traded."""
    needs_attention: Counter[str] = field(default_factory=Counter)
    attention_legs: list[str] = field(default_factory=list)
    """Each exposed leg of a NEEDS_ATTENTION batch: ``batch:leg (status): its error``."""
    """Why batches ended NEEDS_ATTENTION: one key per exposed leg (its mode, the step
    that gave up and the venue's last answer, ids and figures blanked)."""
    violations: dict[str, list[str]] = field(default_factory=dict)
    """Invariant name -> one line per offending batch/order (empty lists are fine)."""

    def add(self, invariant: str, detail: str | None = None) -> None:
        """Register an invariant (so it is listed with 0) and, optionally, a violation."""
        found = self.violations.setdefault(invariant, [])
        if detail is not None:
            found.append(detail)

    def count(self, invariant: str) -> int:
        return len(self.violations.get(invariant, []))

    @property
    def ok(self) -> bool:
        return all(not found for found in self.violations.values())

    def rows(self) -> list[tuple[str, str]]:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults_injected.items()) if v)
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.batches_by_status.items()))
        modes = ", ".join(f"{k} {v}" for k, v in sorted(self.batches_by_mode.items()))
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(self.place_outcomes.items()) if v)
        rows = [
            ("batches run", f"{self.batches_run} of {self.batches_planned} ({modes})"),
        ]
        if self.venue != "paper":
            rows.append(
                ("venue (workers' adapter, dialect)", VENUE_ROWS.get(self.venue, self.venue))
            )
        rows += [
            ("final statuses", statuses or "-"),
            (
                "settled after their run closed without a result",
                str(self.batches_recovered),
            ),
            ("operator terminations (Terminate)", str(self.operator_terminations)),
            ("operator resets (Reset)", str(self.operator_resets)),
            (
                "trading halts (HALTED, running batches swept, resumed)",
                f"{self.trading_halts}, {self.batches_swept_by_halts} batches wound down",
            ),
            ("trading reduces (REDUCING, resumed)", str(self.trading_reduces)),
            (
                "flatten waves in REDUCING (position: sold)",
                ", ".join(f"{p}: {s}" for p, s in self.flatten_sold) or "none",
            ),
            ("legs refused by the trading state", str(self.legs_refused_by_gate)),
            ("worker kills (SIGKILL)", f"{self.worker_kills} in {self.kill_events} kill events"),
            ("worker exits not caused by us", str(self.worker_unexpected_exits)),
            ("worker outages (all killed, kept down)", str(self.worker_outages)),
            ("dev server restarts (SIGKILL)", str(self.server_restarts)),
            ("venue restarts", str(self.venue_restarts)),
            ("faults injected", f"{sum(self.faults_injected.values())} ({faults or 'none'})"),
            ("venue place outcomes", outcomes or "-"),
            ("venue orders", str(self.venue_orders)),
            ("business rejections answered", str(self.rejections_seen)),
        ]
        if self.venue != "paper":
            rows.append(
                (
                    "refusals answered to an abandoned placement (leg CANCELLED, nothing placed)",
                    str(self.refusals_unseen),
                )
            )
        rows += [
            (
                "gate refusals after the venue rejected a lost attempt (nothing placed)",
                str(self.refused_after_venue_rejection),
            ),
            (
                "rejections re-sent after a lost workflow task (same id, nothing placed)",
                str(self.rejections_reexecuted),
            ),
            (
                "placements sent after their id was settled (the id final: nothing placed)",
                str(self.stray_placements_after_settle),
            ),
            (
                "transient answers retried",
                f"{self.transient_retried} of {self.transient_answers}",
            ),
            ("inputs tried (submit fuzz)", str(self.inputs_tried)),
            ("inputs wrongly accepted", str(self.inputs_wrongly_accepted)),
        ]
        rows += [
            (f"{name} (must be 0)", str(len(found))) for name, found in self.violations.items()
        ]
        rows.append(("wall time", f"{self.seconds:.0f} s"))
        rows.append(("verdict", "PASS" if self.ok else "FAIL"))
        return rows

    def table(self) -> str:
        rows = self.rows()
        width = max(len(name) for name, _ in rows)
        value_width = max(len(value) for _, value in rows)
        rule = f"+-{'-' * width}-+-{'-' * value_width}-+"
        lines = [
            rule,
            f"| {'chaos run'.ljust(width)} | {self.command[:value_width].ljust(value_width)} |",
            rule,
        ]
        lines += [f"| {name.ljust(width)} | {value.ljust(value_width)} |" for name, value in rows]
        lines.append(rule)
        return "\n".join(lines)

    def attention(self, mode: str, error: str | None, *, leg: str = "") -> None:
        """Count one exposed leg's reason (``LegResult.error``) under its class, and
        keep it whole under ``leg`` (``batch:command (status)``)."""
        self.needs_attention[f"{mode}: {attention_class(error)}"] += 1
        if leg:
            self.attention_legs.append(f"{leg}: {error or '(no error recorded)'}")

    def attention_table(self, limit: int = 40) -> str:
        """The NEEDS_ATTENTION reasons, most frequent first (empty when there are none)."""
        if not self.needs_attention:
            return ""
        lines = ["NEEDS_ATTENTION legs by reason:"]
        lines += [f"{count:5}  {key}" for key, count in self.needs_attention.most_common()]
        lines.append("NEEDS_ATTENTION legs (which batch and leg, which step gave up, why):")
        lines += [f"  {leg}" for leg in self.attention_legs[:limit]]
        if len(self.attention_legs) > limit:
            lines.append(f"  ... {len(self.attention_legs) - limit} more")
        return "\n".join(lines)

    def violation_details(self, limit: int = 20) -> str:
        out: list[str] = []
        for name, found in self.violations.items():
            for detail in found[:limit]:
                out.append(f"{name}: {detail}")
            if len(found) > limit:
                out.append(f"{name}: ... {len(found) - limit} more")
        return "\n".join(out)


_IDS = re.compile(r"'[^']*'|batch-[\w:.-]+|\b[A-Z]{2,5}/[A-Z]{2,5}\b|\d+(\.\d+)?")


def attention_class(error: str | None) -> str:
    """A leg's error with what differs between legs (ids, quantities, symbols) blanked,
    so that legs that gave up for one reason count together."""
    if not error:
        return "(no error recorded)"
    text = _IDS.sub("_", error)
    return " ".join(text.split())[:160]
