"""Ids and statuses as a trader reads them: a directive id finds its batch, the CLI
speaks of the batch's status (not its Temporal run's), Web UI links follow the stack."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest

from execbatch.devstack import DevStack
from tests.cli.conftest import example_document, execbatch

pytestmark = pytest.mark.devserver


def test_a_directive_id_finds_its_batch_and_recover_names_the_batch_status(
    stack_env: dict[str, str], dev_stack: DevStack, tmp_path: Path
) -> None:
    directive_id = f"cli-ids-{uuid.uuid4().hex[:8]}"
    document = example_document("dca", directive_id)
    for command in document["commands"]:  # type: ignore[attr-defined]
        command["limit_price"] = "1000.00"  # far below BTC/USD: the orders rest
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(document))
    batch_id = f"batch-{directive_id}"
    assert execbatch("submit", str(path), env=stack_env).code == 0

    status = execbatch("status", directive_id, env=stack_env)  # the id the document writes
    assert status.code == 0, status.stderr
    assert f"batch {batch_id}" in status.stdout
    assert f"{dev_stack.ui_url}/namespaces/{dev_stack.namespace}/workflows/{batch_id}" in (
        status.stdout
    )
    orders = execbatch("orders", directive_id, "--json", env=stack_env)
    assert orders.code == 0, orders.stderr
    assert {o["status"] for o in json.loads(orders.stdout)} == {"NEW"}

    cancelled = execbatch("cancel", directive_id, "--json", env=stack_env)
    assert cancelled.code == 0, cancelled.stderr
    assert cancelled.json()["batch_id"] == batch_id
    assert cancelled.json()["status"] == "CANCELLED"

    # Its Temporal run COMPLETED; the batch is CANCELLED, and that is what recover says.
    recovered = execbatch("recover", directive_id, env=stack_env)
    assert recovered.code == 1
    assert recovered.stderr.strip() == (
        f"error: batch {batch_id} is CANCELLED: it ended with its own result, nothing to "
        "settle (recover is for a run Temporal closed without one)"
    )
    assert "COMPLETED" not in recovered.stderr
    # A closed batch's link opens its page on the outcome (User Metadata tab).
    closed = execbatch("status", directive_id, env=stack_env)
    assert closed.code == 0, closed.stderr
    page = f"{dev_stack.ui_url}/namespaces/{dev_stack.namespace}/workflows/{batch_id}"
    assert re.search(rf"Web UI: {re.escape(page)}/[0-9a-f-]+/user-metadata\n", closed.stdout)

    listed = execbatch("list", "--limit", "100", env=stack_env)
    assert listed.code == 0, listed.stderr
    header = listed.stdout.splitlines()[1]
    assert "status" in header and "workflow" not in header
    [row] = [line for line in listed.stdout.splitlines() if batch_id in line]
    assert "CANCELLED" in row and "COMPLETED" not in row
    [link] = [line for line in listed.stdout.splitlines() if line.startswith("needs a person")]
    url = link.split(": ", 1)[1]
    assert url.startswith(f"{dev_stack.ui_url}/namespaces/{dev_stack.namespace}/workflows?query=")
    assert "BatchStatus = 'NEEDS_ATTENTION'" in unquote(url)


def test_an_unknown_directive_id_names_both_ids(stack_env: dict[str, str]) -> None:
    for command in ("status", "cancel", "recover", "orders"):
        run = execbatch(command, "no-such-directive", env=stack_env)
        assert run.code == 1, (command, run.stderr)
        assert run.stderr.strip().splitlines() == [run.stderr.strip()], run.stderr
        assert (
            "no batch with id 'no-such-directive' (nor a batch of directive "
            "'no-such-directive', 'batch-no-such-directive')"
        ) in run.stderr


@pytest.mark.parametrize(
    ("address", "ui"),
    [
        ("localhost:7233", "http://localhost:8233"),
        ("10.1.2.3:17233", "http://10.1.2.3:18233"),
        ("trading.a1b2c.tmprl.cloud:7233", "https://cloud.temporal.io"),
        ("us-east-1.aws.api.temporal.io:7233", "https://cloud.temporal.io"),
    ],
)
def test_the_web_ui_address_defaults_from_temporal_address(
    address: str, ui: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from execbatch.config.environment import ExecbatchConfig

    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", address)
    monkeypatch.delenv("EXECBATCH_UI_URL", raising=False)
    assert ExecbatchConfig.from_env().ui_url == ui
    monkeypatch.setenv("EXECBATCH_UI_URL", "https://ui.desk.example")
    assert ExecbatchConfig.from_env().workflow_url("batch-x") == (
        "https://ui.desk.example/namespaces/default/workflows/batch-x"
    )


def test_the_top_level_help_lists_every_exit_code_and_which_status_is_shown() -> None:
    from tests.cli.conftest import clean_env

    run = execbatch("--help", env=clean_env(COLUMNS="200"))
    assert run.code == 0, run.stderr
    text = " ".join(run.stdout.split())
    for code in ("0 ok", "1 an operational error", "2 bad input", "3 the batch ended", "4 not"):
        assert code in text
    assert "130 interrupted by Ctrl-C" in text
    assert "BATCH_ID is a batch id or a directive id" in text
