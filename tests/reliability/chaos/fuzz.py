"""Bad directive documents thrown at ``execbatch submit`` (property-based, hypothesis).

Each example starts from a valid document and breaks it in one way the issue
names: wrong types, missing fields, zero or negative quantities, float money,
a limit price on a market order (or none on a limit), duplicate ids, the
removed ``metadata``/``rollback_on_failure``/``execution_mode`` fields, huge
batches, unicode and injection strings in symbols and ids, out-of-range
timeouts, plans that do not match, and files that are not a document at all.

Every one must make ``execbatch submit FILE`` exit with code 2 and print a
message naming the field (one of the example's expected fragments), and no
workflow may be started: the CLI runs with a task queue no worker polls, and
afterwards the server must hold no workflow with a fuzz directive id.

The CLI is invoked in-process through its Typer app (``typer.testing``), the
same code path as the ``execbatch`` console script without a Python start-up
per example.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from temporalio.client import Client

FUZZ_PREFIX = "fuzz-"
SYMBOL_RE = re.compile(r"^[A-Z0-9][A-Z0-9./\-]*$")
IDENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]*")


def is_identifier(value: str) -> bool:
    """What the models accept as an id (fullmatch: ``$`` would let "a\\n" through)."""
    return len(value) <= 100 and IDENT_RE.fullmatch(value) is not None


INJECTIONS = (
    "AAPL'; DROP TABLE orders;--",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "AAPL\u0000",
    "ÄPFEL",
    "aapl",
    "AAPL MSFT",
    "${jndi:ldap://evil/x}",
    "%s%s%n",
    "\U0001f680MOON",
    "AAPL\nMSFT",
    "",
    "A" * 33,
    "\uff21",  # fullwidth A
)
REMOVED_FIELDS = ("metadata", "rollback_on_failure", "execution_mode")

Document = Any  # a JSON value (usually a dict)


@dataclass(frozen=True)
class BadInput:
    """A broken document and the words its error message must contain (any one)."""

    kind: str
    text: str
    expect: tuple[str, ...]


@dataclass
class FuzzOutcome:
    tried: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def _command(index: int, symbol: str = "AAPL") -> dict[str, Any]:
    return {
        "command_id": f"c{index}",
        "plan_id": f"p{index}",
        "symbol": symbol,
        "side": "BUY" if index % 2 else "SELL",
        "order_type": "MARKET",
        "quantity": str(index + 1),
    }


def _valid(directive_id: str, legs: int, mode: str) -> dict[str, Any]:
    commands = [_command(i) for i in range(1, legs + 1)]
    return {
        "directive": {
            "directive_id": directive_id,
            "strategy_id": "fuzz",
            "target_plan_ids": [c["plan_id"] for c in commands],
            "execution_policy": {"mode": mode, "timeout_seconds": 60},
        },
        "commands": commands,
    }


_WRONG_TYPES: dict[tuple[str, ...], tuple[object, ...]] = {
    ("commands", "0", "quantity"): (1.5, True, None, [], {}, "abc", "1,5", "ten"),
    ("commands", "0", "side"): ("HOLD", 1, None, "buy ", []),
    ("commands", "0", "order_type"): ("STOP", 0, None, {}),
    ("commands", "0", "time_in_force"): ("FOK", 3, []),
    ("commands", "0", "command_id"): (123, None, [], 1.0),
    ("commands", "0", "plan_id"): (7, None, {}),
    ("directive", "directive_id"): (5, None, [], True),
    ("directive", "strategy_id"): (5, None, {}),
    ("directive", "target_plan_ids"): ("p1", 1, None, {}),
    ("directive", "execution_policy", "mode"): ("PARALLEL", 1, "coordinated", None),
    ("directive", "execution_policy", "timeout_seconds"): ("60", 1.5, True, [], 0, -1, 604801),
    ("directive", "execution_policy"): ("COORDINATED", 1, []),
    ("commands",): ({}, "c1", 1),
}
_REQUIRED: tuple[tuple[str, ...], ...] = (
    ("directive",),
    ("commands",),
    ("directive", "directive_id"),
    ("directive", "strategy_id"),
    ("directive", "target_plan_ids"),
    *(
        ("commands", "0", name)
        for name in ("command_id", "plan_id", "symbol", "side", "order_type", "quantity")
    ),
)


def _parent(doc: Document, path: tuple[str, ...]) -> Any:
    node = doc
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _set(doc: Document, path: tuple[str, ...], value: object) -> None:
    parent = _parent(doc, path)
    if isinstance(parent, list):
        parent[int(path[-1])] = value
    else:
        parent[path[-1]] = value


def _delete(doc: Document, path: tuple[str, ...]) -> None:
    del _parent(doc, path)[path[-1]]


@st.composite
def bad_inputs(draw: st.DrawFn) -> BadInput:
    """One broken directive document (or not-a-document)."""
    serial = draw(st.integers(min_value=0, max_value=10**9))
    doc = _valid(
        f"{FUZZ_PREFIX}{serial}",
        draw(st.integers(1, 3)),
        draw(st.sampled_from(("INDEPENDENT", "COORDINATED", "SEQUENTIAL"))),
    )
    legs = len(doc["commands"])
    leg = str(draw(st.integers(0, legs - 1)))
    kind = draw(
        st.sampled_from(
            (
                "wrong_type",
                "missing",
                "non_positive",
                "float_money",
                "limit_on_market",
                "limit_without_price",
                "duplicate_command_id",
                "duplicate_plan_id",
                "removed_field",
                "huge_batch",
                "bad_symbol",
                "bad_id",
                "plan_mismatch",
                "not_a_document",
                "absurd_number",
            )
        )
    )
    expect: tuple[str, ...]
    if kind == "wrong_type":
        path = draw(st.sampled_from(sorted(_WRONG_TYPES)))
        _set(doc, path, draw(st.sampled_from(_WRONG_TYPES[path])))
        expect = (path[-1],)
    elif kind == "missing":
        path = draw(st.sampled_from(_REQUIRED))
        _delete(doc, path)
        expect = (path[-1],)
    elif kind == "non_positive":
        value = draw(st.sampled_from(("0", "-1", "-0.5", "0.000", "-1e3", "-0")))
        name = draw(st.sampled_from(("quantity", "limit_price")))
        if name == "limit_price":
            doc["commands"][int(leg)]["order_type"] = "LIMIT"
        doc["commands"][int(leg)][name] = value
        expect = (name,)
    elif kind == "float_money":
        name = draw(st.sampled_from(("quantity", "limit_price")))
        if name == "limit_price":
            doc["commands"][int(leg)]["order_type"] = "LIMIT"
        doc["commands"][int(leg)][name] = draw(st.sampled_from((10.5, 0.1, 1e2, 190.25, 3.0)))
        expect = (name,)
    elif kind == "absurd_number":
        value = draw(
            st.sampled_from(
                (
                    "NaN",
                    "Infinity",
                    "-Infinity",
                    "1e400",
                    "0.0000000000000000001",
                    "9" * 40,
                    "1_000",
                    "0x10",
                    "",
                )
            )
        )
        doc["commands"][int(leg)]["quantity"] = value
        expect = ("quantity",)
    elif kind == "limit_on_market":
        doc["commands"][int(leg)]["limit_price"] = "100.00"
        expect = ("limit_price",)
    elif kind == "limit_without_price":
        doc["commands"][int(leg)]["order_type"] = "LIMIT"
        expect = ("limit_price",)
    elif kind == "duplicate_command_id":
        extra = _command(legs + 1)
        extra["command_id"] = doc["commands"][int(leg)]["command_id"]
        doc["commands"].append(extra)
        doc["directive"]["target_plan_ids"].append(extra["plan_id"])
        expect = ("command id", "command_id")
    elif kind == "duplicate_plan_id":
        doc["directive"]["target_plan_ids"].append(doc["directive"]["target_plan_ids"][0])
        expect = ("plan id", "plan_id")
    elif kind == "removed_field":
        name = draw(st.sampled_from(REMOVED_FIELDS))
        where = draw(st.sampled_from(("top", "directive", "policy", "command")))
        target = {
            "top": doc,
            "directive": doc["directive"],
            "policy": doc["directive"]["execution_policy"],
            "command": doc["commands"][int(leg)],
        }[where]
        target[name] = draw(st.sampled_from(({}, True, "COORDINATED", {"note": "x"})))
        expect = (name,)
    elif kind == "huge_batch":
        size = draw(st.sampled_from((1_001, 5_000, 20_000)))
        commands = [_command(i) for i in range(1, size + 1)]
        doc["commands"] = commands
        doc["directive"]["target_plan_ids"] = [c["plan_id"] for c in commands]
        expect = ("commands",)
    elif kind == "bad_symbol":
        symbol = draw(
            st.one_of(
                st.sampled_from(INJECTIONS),
                st.text(min_size=0, max_size=40).filter(
                    lambda s: not (SYMBOL_RE.match(s) and len(s) <= 32)
                ),
            )
        )
        doc["commands"][int(leg)]["symbol"] = symbol
        expect = ("symbol",)
    elif kind == "bad_id":
        value = draw(
            st.one_of(
                # Symbol injections that are valid ids ("aapl", "A" * 33) are no bad ids.
                st.sampled_from([v for v in INJECTIONS if not is_identifier(v)]),
                st.sampled_from(("a:b", "x" * 101, "-leading", ".dot")),
                st.text(min_size=0, max_size=20).filter(lambda s: not is_identifier(s)),
            )
        )
        path = draw(
            st.sampled_from(
                (
                    ("directive", "directive_id"),
                    ("directive", "strategy_id"),
                    ("commands", leg, "command_id"),
                )
            )
        )
        _set(doc, path, value)
        expect = (path[-1],)
    elif kind == "plan_mismatch":
        how = draw(st.sampled_from(("extra", "missing", "reversed")))
        plans = doc["directive"]["target_plan_ids"]
        if how == "extra":
            plans.append("p-unplanned")
        elif how == "missing" or legs == 1:
            doc["commands"][0]["plan_id"] = "p-other"
        else:
            plans.reverse()
        expect = ("target_plan_ids", "plan id")
    else:
        text = draw(
            st.one_of(
                st.sampled_from(
                    ("", "null", "[]", "42", "{", '"doc"', "{'a': 1}", '{"directive": {}}', "{}")
                ),
                st.text(max_size=50).filter(lambda s: not s.strip().startswith("{")),
            )
        )
        return BadInput(kind=kind, text=text, expect=("json", "directive", "document", "commands"))
    return BadInput(
        kind=kind, text=json.dumps(doc, ensure_ascii=draw(st.booleans())), expect=expect
    )


Submitter = Callable[[Path], tuple[int, str]]
"""Runs ``execbatch submit PATH``; returns (exit code, everything it printed)."""


def cli_submitter(env: dict[str, str]) -> Submitter:
    """``execbatch submit`` through the CLI's Typer app, with ``env`` set."""
    from typer.testing import CliRunner

    from execbatch.cli.app import app

    runner = CliRunner()

    def submit(path: Path) -> tuple[int, str]:
        result = runner.invoke(app, ["submit", str(path)], env=env)
        return result.exit_code, result.output

    return submit


def fuzz_submit(examples: int, run_seed: int, submit: Submitter) -> FuzzOutcome:
    """Throw ``examples`` bad documents at ``submit``; collect what was not rejected well."""
    outcome = FuzzOutcome()
    workdir = Path(tempfile.mkdtemp(prefix="execbatch-fuzz-"))

    @seed(run_seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(bad_inputs())
    def one(bad: BadInput) -> None:
        outcome.tried += 1
        outcome.by_kind[bad.kind] = outcome.by_kind.get(bad.kind, 0) + 1
        path = workdir / f"bad-{outcome.tried}.json"
        path.write_text(bad.text, encoding="utf-8")
        code, output = submit(path)
        flat = " ".join(output.split()).lower()
        if code != 2:
            outcome.failures.append(f"{bad.kind}: exit {code} (want 2): {flat[:300]}")
        elif not any(word.lower() in flat for word in bad.expect):
            outcome.failures.append(f"{bad.kind}: message names none of {bad.expect}: {flat[:300]}")
        path.unlink()

    one()
    workdir.rmdir()
    return outcome


async def fuzz_workflows_started(client: Client) -> list[str]:
    """Workflow ids of fuzz documents on the server (must be none); they get terminated."""
    found: list[str] = []
    async for execution in client.list_workflows():
        if execution.id.startswith(f"batch-{FUZZ_PREFIX}"):
            found.append(execution.id)
    for workflow_id in found:
        await client.get_workflow_handle(workflow_id).terminate("fuzz input must not run")
    return found


async def run_submit_fuzz(
    client: Client, temporal_address: str, task_queue: str, examples: int, run_seed: int
) -> FuzzOutcome:
    """The fuzz against a live server: exit codes, messages, and no workflow started."""
    env = {
        "TEMPORAL_ADDRESS": temporal_address,
        "TEMPORAL_NAMESPACE": "default",
        "EXECBATCH_TASK_QUEUE": f"{task_queue}-fuzz-nobody-polls",
    }
    outcome = await asyncio.to_thread(fuzz_submit, examples, run_seed, cli_submitter(env))
    for workflow_id in await fuzz_workflows_started(client):
        outcome.failures.append(f"workflow {workflow_id} was started from a bad document")
    return outcome
