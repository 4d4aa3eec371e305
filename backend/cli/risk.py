"""The kill switch: halt, reduce, resume, and the trading state with its audit.

``execbatch halt --reason TEXT [--account A]`` returns once no placement from any
worker can reach the venue any more (docs/RISK.md), then winds down the running
batches of the scope as a cancel would (COORDINATED ones compensate).
"""

from __future__ import annotations

from typing import Annotated

import typer

from execbatch.cli.common import open_client, out, run
from execbatch.client.trading import TradingControl
from execbatch.config.environment import ExecbatchConfig
from execbatch.risk.states import DEFAULT_QUIET_SECONDS, StateChangeAck, TradingState

ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (audited).")]
AccountOpt = Annotated[
    str | None, typer.Option("--account", help="One account's scope (default: global).")
]
WhoOpt = Annotated[str | None, typer.Option("--who", help="Who (default: user@host).")]
QuietOpt = Annotated[
    float,
    typer.Option(
        "--quiet-seconds",
        min=0,
        help="How long the change waits before it is acknowledged: the longest "
        "placement attempt (venue call timeout), plus slack, plus the 0.5 s a worker "
        "reuses a state read.",
    ),
]


def _set(
    state: TradingState, reason: str, account: str | None, who: str | None, quiet: float
) -> None:
    config = ExecbatchConfig.from_env()

    async def go() -> tuple[StateChangeAck, list[str]]:
        control = TradingControl(await open_client(config), config.task_queue)
        ack = await control.set_state(state, reason, account=account, who=who, quiet_seconds=quiet)
        stopped: list[str] = []
        if state is TradingState.HALTED:
            stopped = await control.wind_down_batches(f"trading HALTED: {reason}", account=account)
        return ack, stopped

    ack, stopped = run(go(), config)
    out.print(f"trading state {ack.view.describe()}", highlight=False, soft_wrap=True)
    out.print(
        f"recorded {ack.recorded_at.isoformat()}, acknowledged {ack.acknowledged_at.isoformat()}",
        highlight=False,
    )
    if stopped:
        out.print(f"winding down {len(stopped)} running batches: {', '.join(stopped)}")


def halt(
    reason: ReasonOpt,
    account: AccountOpt = None,
    who: WhoOpt = None,
    quiet_seconds: QuietOpt = DEFAULT_QUIET_SECONDS,
) -> None:
    """HALTED: nothing new is placed; running batches wind down (cancels, reverts go on)."""
    _set(TradingState.HALTED, reason, account, who, quiet_seconds)


def reduce(
    reason: ReasonOpt,
    account: AccountOpt = None,
    who: WhoOpt = None,
    quiet_seconds: QuietOpt = DEFAULT_QUIET_SECONDS,
) -> None:
    """REDUCING: only legs that reduce the account's position in their symbol are placed."""
    _set(TradingState.REDUCING, reason, account, who, quiet_seconds)


def resume(
    reason: Annotated[str, typer.Option("--reason", help="Why (audited).")] = "resumed",
    account: AccountOpt = None,
    who: WhoOpt = None,
) -> None:
    """ACTIVE again."""
    _set(TradingState.ACTIVE, reason, account, who, 0.0)


def trading(account: AccountOpt = None) -> None:
    """The trading state of a scope and its audit (who, when, why), oldest first."""
    config = ExecbatchConfig.from_env()

    async def go() -> list[str]:
        control = TradingControl(await open_client(config), config.task_queue)
        lines = []
        for scope_account in [None] if account is None else [None, account]:
            view = await control.view(scope_account)
            lines.append(view.describe())
            lines += [
                f"  {c.at.isoformat(timespec='seconds')} {c.state.value:9} {c.who}: {c.reason}"
                for c in view.history
            ]
        return lines

    for line in run(go(), config):
        out.print(line, highlight=False, soft_wrap=True)
