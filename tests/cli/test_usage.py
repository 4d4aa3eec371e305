"""Every way to misuse the command line is one line on stderr and exit 2, never a traceback.

Each kind (unknown command, unknown option, missing argument, bad choice, bad
type, extra argument, an option without its value) runs once as a real
``execbatch`` process, the way a trader meets it; the same kinds for every
command run in-process through ``run_cli`` (same code path, no start-up cost).
The server address is unreachable: a usage error must stop before connecting.
"""

from __future__ import annotations

import pytest
import typer

from execbatch.cli.app import app, run_cli
from tests.cli.conftest import UNREACHABLE, clean_env, execbatch

KINDS: dict[str, tuple[list[str], list[str]]] = {
    "unknown command": (
        ["bogus"],
        ["unknown command 'bogus'", "commands: submit, status, cancel", "`execbatch --help`"],
    ),
    "unknown command, close to one": (["lis"], ["unknown command 'lis' (did you mean list?)"]),
    "unknown option": (
        ["submit", "x.json", "--bogus"],
        [
            "`execbatch submit` has no option --bogus",
            "its options: --wait/--no-wait, --json, --cancel-on-interrupt",
            "`execbatch submit --help`",
        ],
    ),
    "missing argument": (
        ["submit"],
        ["missing FILE: the directive document", "- reads standard input"],
    ),
    "missing batch id": (["status"], ["missing BATCH_ID", "`execbatch status --help`"]),
    "bad choice": (
        ["list", "--status", "BOGUS"],
        [
            "--status: 'BOGUS' is not a batch status; choose from RUNNING, WINDING_DOWN,",
            "CANCELLED, TERMINATED, RUN_FAILED",
            "`execbatch list --help`",
        ],
    ),
    "bad type": (["list", "--limit", "abc"], ["--limit: 'abc' is not a whole number"]),
    "out of range": (["list", "--limit", "0"], ["--limit: 0 is too small; the least is 1"]),
    "extra argument after a flag": (
        ["submit", "f.json", "--wait", "true"],
        [
            "unexpected argument 'true': --wait is a flag and takes no value",
            "write --wait or --no-wait",
        ],
    ),
    "extra argument": (["status", "a", "b"], ["unexpected argument 'b': it takes BATCH_ID"]),
    "option without its value": (
        ["list", "--limit"],
        ["--limit needs a value", "`execbatch list --help`"],
    ),
}


def _assert_one_usage_line(code: int, stdout: str, stderr: str, expected: list[str]) -> None:
    assert code == 2, stderr
    assert stdout == ""
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: "), stderr
    assert "--help`)" in lines[0], stderr
    for fragment in expected:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_usage_error_is_one_line_and_exit_2(kind: str) -> None:
    args, expected = KINDS[kind]
    run = execbatch(*args, env=clean_env(TEMPORAL_ADDRESS=UNREACHABLE), timeout=60)
    _assert_one_usage_line(run.code, run.stdout, run.stderr, expected)


def _commands() -> list[str]:
    group = typer.main.get_command(app)
    with typer.Context(group) as ctx:  # type: ignore[arg-type]
        return list(group.list_commands(ctx))  # type: ignore[attr-defined]


ARGUMENTS = {"submit": ["f.json"], "status": ["b"], "cancel": ["b"], "recover": ["b"]}
ARGUMENTS["orders"] = ["b"]
OPTIONAL_ARGUMENTS = {"venue-check": ["f.json"]}
REQUIRED_OPTIONS = {"halt": ["--reason", "x"], "reduce": ["--reason", "x"]}


def test_the_commands_are_the_ones_tested_here() -> None:
    assert _commands() == [
        "submit",
        "status",
        "cancel",
        "recover",
        "list",
        "positions",
        "orders",
        "worker",
        "dev",
        "demo",
        "venue",
        "venue-check",
        "codec-server",
        "halt",
        "reduce",
        "resume",
        "trading",
    ]


def _in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", _commands())
def test_every_command_refuses_an_unknown_option(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process([command, *ARGUMENTS.get(command, []), "--bogus"], capsys)
    _assert_one_usage_line(
        code, out, err, [f"`execbatch {command}` has no option --bogus", f"{command} --help`"]
    )


@pytest.mark.parametrize("command", _commands())
def test_every_command_refuses_an_extra_argument(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    given = [
        *REQUIRED_OPTIONS.get(command, []),
        *(ARGUMENTS.get(command) or OPTIONAL_ARGUMENTS.get(command, [])),
    ]
    code, out, err = _in_process([command, *given, "a", "b"], capsys)
    _assert_one_usage_line(code, out, err, ["unexpected argument 'a'"])


@pytest.mark.parametrize("command", sorted(ARGUMENTS))
def test_every_command_with_an_argument_says_it_is_missing(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process([command], capsys)
    expected = "missing FILE" if command == "submit" else "missing BATCH_ID"
    _assert_one_usage_line(code, out, err, [expected])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list", "--mode", "atomic"], "--mode: 'atomic' is not a batch mode; choose from"),
        (["venue", "--port", "x"], "--port: 'x' is not a whole number"),
        (["codec-server", "--port", "0"], "--port: 0 is too small; the least is 1"),
        (["dev", "--workers", "0"], "--workers: 0 is too small"),
        (["worker", "--venue-wait", "soon"], "--venue-wait: 'soon' is not a number of seconds"),
        (["submit", "f.json", "--wait=yes"], "--wait is a flag and takes no value"),
        (["--bogus"], "`execbatch` has no option --bogus"),
    ],
)
def test_bad_values_in_our_words(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _in_process(args, capsys)
    _assert_one_usage_line(code, out, err, [expected])


def test_choices_take_any_case(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", UNREACHABLE)
    code, _, err = _in_process(["list", "--status", "cancelled", "--mode", "coordinated"], capsys)
    assert code == 1 and "cannot reach Temporal" in err  # parsed, then failed to connect


@pytest.mark.parametrize("command", _commands())
def test_help_shows_forms_and_exit_codes(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _in_process([command, "--help"], capsys)
    assert code == 0
    assert f"Usage: execbatch {command}" in out
    words = " ".join(out.split())
    assert "Exit codes: 0 ok" in words and "2 bad input or usage" in words
    [usage] = [line for line in out.splitlines() if "Usage:" in line]
    assert "{" not in usage and "<bool>" not in out


def test_submit_help_shows_the_flag_forms(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _in_process(["submit", "--help"], capsys)
    assert code == 0
    assert "Usage: execbatch submit [OPTIONS] FILE" in out
    assert "--wait" in out and "--no-wait" in out and "--cancel-on-interrupt" in out
    words = " ".join(out.split())
    assert "130 interrupted by Ctrl-C" in words and "3 the batch ended" in words


def test_the_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _in_process(["--help"], capsys)
    assert code == 0
    for command in _commands():
        assert command in out
