"""docs/VENUES.md "Going live", run as the page writes it, offline.

Each venue's numbered steps are read from the page's fenced ``bash`` blocks and
run in a real shell with the substitutions the page itself names for offline
use: step 1 (the keys) is skipped, step 2 gets ``--local`` (and ``--state-dir``
and free ``--*-port`` options, which the page says move a stack), and step 3's
exports are the ones the banner printed, which the page says to paste. Steps
4 to 7 run verbatim in that second shell, against the paper venue's Alpaca and
Binance dialects through alpaca-py and ccxt.
"""

from __future__ import annotations

import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from execbatch.supervision import free_port
from tests.cli.conftest import clean_env

pytestmark = pytest.mark.devserver

DOC = Path(__file__).resolve().parents[2] / "docs" / "VENUES.md"
BIN = str(Path(sys.executable).parent)  # where `execbatch` is installed
STARTUP_SECONDS = 180.0


@dataclass(frozen=True)
class Step:
    number: int
    text: str
    blocks: tuple[str, ...]


def going_live(title: str) -> dict[int, Step]:
    """The numbered steps of the "Going live" subsection whose heading starts with
    ``title``, each with its bash blocks (dedented, as a reader copies them)."""
    page = DOC.read_text()
    section = page.split("\n## Going live\n", 1)[1].split("\n## ", 1)[0]
    [sub] = [part for part in section.split("\n### ")[1:] if part.startswith(title)]
    steps: dict[int, Step] = {}
    for match in re.finditer(r"^(\d+)\. (.*?)(?=^\d+\. |\Z)", sub, re.M | re.S):
        body = match.group(2)
        blocks = tuple(
            textwrap.dedent(block)
            for block in re.findall(r"^ *```bash\n(.*?)^ *```", body, re.M | re.S)
        )
        steps[int(match.group(1))] = Step(int(match.group(1)), body, blocks)
    assert sorted(steps) == list(range(1, 8)), f"{title}: steps {sorted(steps)}"
    return steps


def exports(text: str) -> dict[str, str]:
    return dict(
        line.removeprefix("export ").split("=", 1)
        for line in text.splitlines()
        if line.startswith("export ")
    )


@dataclass
class Shell:
    """The second shell: the banner's exports, the page's commands."""

    env: dict[str, str]
    cwd: Path

    def run(self, script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script],
            env={**self.env, **extra},
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )


class Stack:
    """Step 2 in the first shell: ``execbatch dev ...`` until its banner is complete."""

    def __init__(
        self,
        command: str,
        tmp_path: Path,
        *,
        local: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        ports = {
            option: str(free_port())
            for option in ("--temporal-port", "--ui-port", "--venue-port", "--metrics-port")
        }
        argv = [
            *shlex.split(command),
            *(["--local"] if local else []),
            "--state-dir",
            str(tmp_path / "state"),
            *(arg for option, port in ports.items() for arg in (option, port)),
        ]
        assert argv[0] == "execbatch"
        self.process = subprocess.Popen(
            argv,
            env=clean_env(PATH=f"{BIN}:{os.environ['PATH']}", PYTHONUNBUFFERED="1", **(env or {})),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: [self.lines.put(x) for x in stdout], daemon=True).start()

    def banner(self) -> str:
        seen: list[str] = []
        deadline = time.monotonic() + STARTUP_SECONDS
        while not (seen and "Ctrl-C stops everything" in seen[-1]):
            assert self.process.poll() is None, "".join(seen) + self.stop()[1]
            try:
                seen.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                pytest.fail(f"no banner within {STARTUP_SECONDS:g}s: {''.join(seen)}")
        return "".join(seen)

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # what Ctrl-C does, for a background job
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        assert self.process.stderr is not None
        return code, self.process.stderr.read()


def walk_through(
    title: str, tmp_path: Path, elsewhere: Callable[[dict[str, str]], dict[str, str]]
) -> dict[str, str]:
    """Run the steps of one venue; every output, by step, for the assertions. Then
    ``orders`` once more from a shell whose venue settings ``elsewhere`` changes
    (given the banner's exports): one that does not read the workers' venue."""
    steps = going_live(title)
    assert steps[1].blocks and "Offline" in steps[1].text  # skipped offline, as it says
    [command] = steps[2].blocks
    assert "**Offline**: add `--local`" in steps[2].text
    stack = Stack(command.strip(), tmp_path)
    outputs: dict[str, str] = {}
    try:
        banner = outputs["banner"] = stack.banner()
        printed = exports(banner)
        [doc_exports] = steps[3].blocks
        shown = exports(doc_exports)
        assert set(shown) <= set(printed), (shown, printed)  # the page lists what it prints
        for name in ("EXECBATCH_VENUE", "EXECBATCH_VENUE_ACCOUNT", "TEMPORAL_NAMESPACE"):
            assert printed[name] == shown[name], name
        offline_kind = re.findall(r"`(venue: .*?)`", steps[2].text)[0]
        assert offline_kind in banner
        shell = Shell(clean_env(PATH=f"{BIN}:{os.environ['PATH']}", **printed), tmp_path)
        for number in (4, 5, 6, 7):
            [script] = steps[number].blocks
            done = shell.run(script)
            outputs[f"step {number}"] = done.stdout + done.stderr
            outputs[f"step {number} exit"] = str(done.returncode)
        outputs["account"] = printed["EXECBATCH_VENUE_ACCOUNT"]
        [outputs["batch"]] = re.findall(r"execbatch orders (\S+)", steps[6].blocks[0])
        for command in (f"orders {outputs['batch']}", "positions"):
            other = shell.run(f"execbatch {command}", **elsewhere(printed))
            outputs[f"elsewhere: {command}"] = other.stdout + other.stderr
            outputs[f"elsewhere: {command} exit"] = str(other.returncode)
        return outputs
    finally:
        code, stderr = stack.stop()
        assert code == 0, stderr


def assert_traded(outputs: dict[str, str], symbols: tuple[str, str]) -> None:
    assert outputs["step 4 exit"] == "0", outputs["step 4"]
    for leg in ("c1", "c2"):
        assert f"ok   leg {leg}:" in outputs["step 4"]
    venue = re.findall(r"export EXECBATCH_VENUE=(\S+)", outputs["banner"])[0]
    workers = rf"ok   the workers' venue: the workers on .* trade {re.escape(venue)}\n"
    assert re.search(workers, outputs["step 4"]), outputs["step 4"]
    assert "FAIL" not in outputs["step 4"]
    assert outputs["step 5 exit"] == "0", outputs["step 5"]
    assert "COMPLETED" in outputs["step 5"]
    assert outputs["step 6 exit"] == "0", outputs["step 6"]
    orders, positions = outputs["step 6"].split(f"positions of account {outputs['account']}")
    assert orders.count("FILLED") == 2
    assert f"{outputs['batch']}:c1:place" in orders
    assert "not at the venue" not in orders
    for symbol in symbols:
        assert symbol in positions
    assert outputs["step 7 exit"] == "2", outputs["step 7"]
    assert "real money" in outputs["step 7"]
    assert len(outputs["step 7"].strip().splitlines()) == 1


def assert_refused(outputs: dict[str, str], command: str, message: str) -> None:
    """A shell that reads another venue: one line and exit 1, never "not at the venue"."""
    output = outputs[f"elsewhere: {command}"]
    assert outputs[f"elsewhere: {command} exit"] == "1", output
    assert message in output
    assert len(output.strip().splitlines()) == 1


def test_going_live_on_alpaca_paper_as_the_page_writes_it(tmp_path: Path) -> None:
    # Another key (another account's) than the workers'.
    outputs = walk_through(
        "Alpaca paper",
        tmp_path,
        lambda _: {"APCA_API_KEY_ID": "default", "EXECBATCH_VENUE_ACCOUNT": "default"},
    )

    assert "endpoint: http://127.0.0.1:" in outputs["banner"]
    assert "account:  desk1" in outputs["banner"]
    assert_traded(outputs, ("BTC/USD", "ETH/USD"))
    assert "EXECBATCH_ALPACA_ALLOW_LIVE=1" in outputs["step 7"]
    # The same venue, another key's account: the filled legs are not there.
    assert_refused(
        outputs,
        f"orders {outputs['batch']}",
        "is FILLED (filled 0.001 BTC/USD) but the venue read here (EXECBATCH_VENUE=alpaca,"
        " account default) has no order for it: this shell does not read the venue the"
        " workers trade",
    )
    print("\n\n".join(f"--- {k}\n{v}" for k, v in outputs.items()))


def test_going_live_on_binance_testnet_as_the_page_writes_it(tmp_path: Path) -> None:
    # The user's report: the paper venue's own API at the dialect's URL.
    outputs = walk_through(
        "Binance spot testnet",
        tmp_path,
        lambda printed: {
            "EXECBATCH_VENUE": "paper",
            "EXECBATCH_VENUE_URL": printed["EXECBATCH_CCXT_API_URL"],
        },
    )

    assert "account:  desk2" in outputs["banner"]
    assert_traded(outputs, ("BTC/USDT", "ETH/USDT"))
    assert "EXECBATCH_CCXT_ALLOW_LIVE=1" in outputs["step 7"]
    # Another venue than the workers': their identities say which they trade.
    [address] = re.findall(r"TEMPORAL_ADDRESS=(\S+)", outputs["banner"])
    for command in (f"orders {outputs['batch']}", "positions"):
        assert_refused(
            outputs,
            command,
            "cannot read the venue the workers trade: the workers on task queue execbatch"
            f" at {address} trade ccxt:binance but this shell reads EXECBATCH_VENUE=paper",
        )
    print("\n\n".join(f"--- {k}\n{v}" for k, v in outputs.items()))
