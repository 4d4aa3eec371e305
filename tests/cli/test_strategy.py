"""The front door for strategy code, as the docs show it: README's "From your strategy"
is examples/strategy.py verbatim, and it runs against a dev stack as a subprocess; so
does docs/OPERATING.md's EmbeddedExecutor script, taken from the page."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path

from execbatch.devstack import DevStack
from tests.cli.conftest import EXAMPLES, UNREACHABLE, Run, clean_env

ROOT = EXAMPLES.parent
SCRIPT = EXAMPLES / "strategy.py"


def python(script: Path, env: Mapping[str, str], cwd: Path) -> Run:
    proc = subprocess.run(
        [sys.executable, str(script)],
        env={**env, "PYTHONPATH": str(ROOT)},  # this checkout's execbatch, as if installed
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


def block_after(doc: str, heading: str) -> str:
    """The first ```python block after ``heading`` in ``doc``."""
    text = (ROOT / doc).read_text()
    match = re.search(r"```python\n(.*?)```\n", text[text.index(heading) :], re.DOTALL)
    assert match is not None, f"{doc}: no python block after {heading!r}"
    return match.group(1)


def test_readme_shows_the_strategy_script_verbatim() -> None:
    assert block_after("README.md", "## From your strategy") == SCRIPT.read_text()


def test_the_strategy_script_trades_on_a_dev_stack(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    run = python(SCRIPT, stack_env, tmp_path)

    assert run.code == 0, run.stdout + run.stderr
    lines = run.stdout.splitlines()
    assert re.fullmatch(
        r"submitted batch-pair-[0-9a-f]{8} for account default on execbatch", lines[0]
    )
    batch_id = lines[0].split()[1]
    assert lines[1] == f"{batch_id}: COMPLETED"
    assert re.fullmatch(r"  c1 BUY 100 AAPL: FILLED, filled 100 @ [0-9.]+", lines[2])
    assert re.fullmatch(r"  c2 SELL 46 MSFT: FILLED, filled 46 @ [0-9.]+", lines[3])
    print(run.stdout)  # the README quotes this output


def test_the_strategy_script_without_temporal_says_so_in_one_line(tmp_path: Path) -> None:
    run = python(SCRIPT, clean_env(TEMPORAL_ADDRESS=UNREACHABLE), tmp_path)

    assert run.code == 1
    assert run.stderr == (
        f"cannot reach Temporal at {UNREACHABLE} (namespace default): connection refused. "
        "Is `execbatch dev` running, or TEMPORAL_ADDRESS set?\n"
    )


def test_the_embedded_executor_script_in_operating_runs(
    dev_stack: DevStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    script = tmp_path / "embedded.py"
    script.write_text(block_after("docs/OPERATING.md", "**`EmbeddedExecutor`**"))
    env = {k: v for k, v in stack_env.items() if k != "EXECBATCH_METRICS_PORT"}
    env["EXECBATCH_TASK_QUEUE"] = f"embedded-{uuid.uuid4().hex[:8]}"  # no other worker there

    run = python(script, env, tmp_path)

    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == "COMPLETED ['FILLED']"
