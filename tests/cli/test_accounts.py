"""The account a batch trades: one source (EXECBATCH_VENUE_ACCOUNT, or `submit --account`),
carried in the batch to the venue; a worker whose keys trade another account refuses the
batch before placing anything; several accounts on one deployment.

Run as a user runs them: `execbatch submit` as a subprocess against dev stacks whose
workers are `execbatch worker` processes, one trading the paper venue's native API (any
funded account), one trading its Alpaca dialect through alpaca-py with keys for desk1,
and a second Alpaca worker with desk2's keys on its own task queue.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from execbatch.devstack import DevStack
from execbatch.devstack.health import run_sync, wait_for_worker
from execbatch.supervision import ManagedProcess
from tests.cli.conftest import Run, clean_env, example_document, execbatch

DESK1, DESK2 = "desk1", "desk2"
DESK2_QUEUE = "execbatch-desk2"
REFUSAL = (
    "INVALID_ORDER: refused before placing: the batch names account {batch!r}, but the "
    "Alpaca keys in use trade the account configured as {keys!r} (EXECBATCH_VENUE_ACCOUNT)"
)


def fund(venue_url: str, *accounts: str) -> None:
    for account in accounts:
        httpx.put(
            f"{venue_url}/admin/accounts/{account}", json={"cash": "1000000"}
        ).raise_for_status()


def orders_of(venue_url: str, batch_id: str) -> dict[str, list[str]]:
    """The venue's orders of ``batch_id`` by account: every order it holds, any account."""
    found: dict[str, list[str]] = {}
    for order in httpx.get(f"{venue_url}/orders").raise_for_status().json():
        if batch_id in order["client_order_id"]:
            found.setdefault(order["account"], []).append(order["client_order_id"])
    return found


def submit(env: dict[str, str], tmp_path: Path, *options: str) -> tuple[str, Run]:
    """`execbatch submit --json` of a fresh pair trade; its batch id and the run."""
    directive_id = f"acct-{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{directive_id}.json"
    path.write_text(json.dumps(example_document("pair_trade", directive_id)))
    return f"batch-{directive_id}", execbatch("submit", str(path), "--json", *options, env=env)


def legs(run: Run) -> list[dict[str, Any]]:
    result = run.json()
    assert isinstance(result["legs"], list)
    return result["legs"]


# ----------------------------------------------------------------- the paper venue


def test_submit_account_reaches_the_venue_with_that_account(
    dev_stack: DevStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    first, second = f"a-{uuid.uuid4().hex[:6]}", f"b-{uuid.uuid4().hex[:6]}"
    fund(dev_stack.venue_url, first, second)

    batch_id, run = submit(stack_env, tmp_path, "--account", first)

    assert run.code == 0, run.stdout + run.stderr
    assert f"started batch {batch_id} (COORDINATED, 2 legs, account {first})" in run.stderr
    assert [leg["status"] for leg in legs(run)] == ["FILLED", "FILLED"]
    assert {a: len(ids) for a, ids in orders_of(dev_stack.venue_url, batch_id).items()} == {
        first: 2
    }


def test_submit_trades_the_account_execbatch_venue_account_names(
    dev_stack: DevStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    account = f"env-{uuid.uuid4().hex[:6]}"
    fund(dev_stack.venue_url, account)

    batch_id, run = submit({**stack_env, "EXECBATCH_VENUE_ACCOUNT": account}, tmp_path)

    assert run.code == 0, run.stdout + run.stderr
    assert list(orders_of(dev_stack.venue_url, batch_id)) == [account]


def test_the_same_directive_for_another_account_is_refused(
    dev_stack: DevStack, stack_env: dict[str, str], tmp_path: Path
) -> None:
    account = f"c-{uuid.uuid4().hex[:6]}"
    fund(dev_stack.venue_url, account)
    batch_id, first = submit(stack_env, tmp_path)
    assert first.code == 0, first.stdout + first.stderr
    path = tmp_path / f"{batch_id.removeprefix('batch-')}.json"

    again = execbatch("submit", str(path), "--account", account, env=stack_env)

    assert again.code == 2
    assert f"(existing != submitted: account: default != {account})" in again.stderr
    assert list(orders_of(dev_stack.venue_url, batch_id)) == ["default"]


def test_an_empty_account_is_refused_before_anything_starts(
    stack_env: dict[str, str], tmp_path: Path
) -> None:
    _, run = submit(stack_env, tmp_path, "--account", " ")

    assert run.code == 2
    assert run.stderr.strip() == "error: --account must name an account (it is empty)"


# ------------------------------------------------------- Alpaca keys for one account


def alpaca_worker_env(account: str, venue_url: str) -> dict[str, str]:
    """What a deployment sets for a worker trading Alpaca with ``account``'s keys (the
    paper venue's Alpaca dialect: the key id names its paper account)."""
    return {
        "EXECBATCH_VENUE": "alpaca",
        "APCA_API_KEY_ID": account,
        "APCA_API_SECRET_KEY": f"{account}-secret",
        "EXECBATCH_ALPACA_URL": venue_url,
        "EXECBATCH_VENUE_ACCOUNT": account,
    }


@pytest.fixture(scope="module")
def alpaca_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    """desk1's worker on the stack's task queue, desk2's worker on a queue of its own."""
    state = tmp_path_factory.mktemp("alpaca-stack")
    with DevStack.on_free_ports(
        state, worker_venue_env=lambda url: alpaca_worker_env(DESK1, url)
    ) as stack:
        fund(stack.venue_url, DESK1, DESK2)
        env = {
            **stack.worker_env(),
            **alpaca_worker_env(DESK2, stack.venue_url),
            "EXECBATCH_TASK_QUEUE": DESK2_QUEUE,
        }
        env.pop("EXECBATCH_METRICS_PORT")
        argv = [sys.executable, "-m", "execbatch.cli.app", "worker"]
        with ManagedProcess("worker-desk2", argv, state / "worker-desk2.log", env=env):
            run_sync(wait_for_worker(stack.temporal_address, stack.namespace, DESK2_QUEUE, 60.0))
            yield stack


def submitter_env(stack: DevStack, **settings: str) -> dict[str, str]:
    """A trader's shell: where Temporal is, and nothing of the workers' keys."""
    where = {
        "TEMPORAL_ADDRESS": stack.temporal_address,
        "TEMPORAL_NAMESPACE": stack.namespace,
        "EXECBATCH_TASK_QUEUE": stack.task_queue,
        "EXECBATCH_UI_URL": stack.ui_url,
    }
    return clean_env(**{**where, **settings})


def test_a_batch_for_an_account_the_keys_do_not_trade_is_refused_before_placing(
    alpaca_stack: DevStack, tmp_path: Path
) -> None:
    # the user's report: venue-check says desk1 is ACTIVE, the batch names `default`
    env = submitter_env(alpaca_stack)
    check = execbatch(
        "venue-check", env={**env, **alpaca_worker_env(DESK1, alpaca_stack.venue_url)}
    )
    assert check.code == 0 and f"account: {DESK1}: ACTIVE" in check.stdout, check.stdout

    batch_id, run = submit(env, tmp_path)

    assert run.code == 3, run.stdout + run.stderr
    line = REFUSAL.format(batch="default", keys=DESK1)
    assert [(leg["status"], leg["error"]) for leg in legs(run)] == [("REJECTED", line)] * 2
    assert run.json()["reason"] == f"legs c1, c2 {line.removeprefix('INVALID_ORDER: ')}"
    assert orders_of(alpaca_stack.venue_url, batch_id) == {}  # nothing reached the venue
    print(line)  # the report quotes it


def test_the_account_the_keys_trade_goes_through(alpaca_stack: DevStack, tmp_path: Path) -> None:
    batch_id, run = submit(submitter_env(alpaca_stack, EXECBATCH_VENUE_ACCOUNT=DESK1), tmp_path)

    assert run.code == 0, run.stdout + run.stderr
    assert [leg["status"] for leg in legs(run)] == ["FILLED", "FILLED"]
    assert list(orders_of(alpaca_stack.venue_url, batch_id)) == [DESK1]


def test_two_accounts_two_workers_each_on_its_own_task_queue(
    alpaca_stack: DevStack, tmp_path: Path
) -> None:
    desk2 = submitter_env(
        alpaca_stack, EXECBATCH_TASK_QUEUE=DESK2_QUEUE, EXECBATCH_VENUE_ACCOUNT=DESK2
    )
    batch_id, run = submit(desk2, tmp_path)
    assert run.code == 0, run.stdout + run.stderr
    assert list(orders_of(alpaca_stack.venue_url, batch_id)) == [DESK2]

    # desk2's account sent to desk1's queue: desk1's worker refuses it, naming both
    batch_id, run = submit(submitter_env(alpaca_stack), tmp_path, "--account", DESK2)
    assert run.code == 3, run.stdout + run.stderr
    assert {leg["error"] for leg in legs(run)} == {REFUSAL.format(batch=DESK2, keys=DESK1)}
    assert orders_of(alpaca_stack.venue_url, batch_id) == {}
