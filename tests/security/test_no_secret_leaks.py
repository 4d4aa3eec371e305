"""A full run with every secret set, all output captured, then grepped for the secrets.

The output includes the worker's JSON logs and its ``/metrics`` (where, with the codec
on, no symbol of the batches may appear either). Spans carry ids and outcomes only
(tests/observability/test_trace_tree.py checks their attributes).

Dev server, venue, worker (``execbatch worker``), codec server and the CLI
run as separate processes with the codec keys, the codec server token and the
venue keys in their environment. A few batches (each mode, one with a
rejected leg) go through, plus refused requests at the venue and the codec
server. Every log, every CLI output and every history JSON is then searched
for every secret in its raw, base64, base64url and hex forms.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from execbatch.core.enums import BatchExecutionMode
from execbatch.supervision import free_port
from execbatch.venue.adapters.paper import PaperVenueAdmin
from execbatch.venue.paper.service.process import VenueProcess
from tests.security.batches import MARKER_SYMBOLS, MARKERS, secret_document
from tests.security.stack import ChildProcess, CodecServer, DevServer, SecretSet, child_env

pytestmark = [pytest.mark.devserver, pytest.mark.slow]

EXECBATCH = str(Path(sys.executable).parent / "execbatch")


def run_cli(args: list[str], env: dict[str, str], out: Path) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run([EXECBATCH, *args], env=env, capture_output=True, timeout=180)
    with out.open("ab") as log:
        log.write(b"$ execbatch " + " ".join(args).encode() + b"\n")
        log.write(done.stdout + done.stderr)
    return done


def grep(folder: Path, forms: dict[str, str]) -> list[str]:
    hits: list[str] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        hits += [f"{path.name}: {label}" for label, form in forms.items() if form in text]
    return hits


async def test_no_secret_in_any_log_output_or_history(tmp_path: Path) -> None:
    secrets = SecretSet.generate()
    logs = tmp_path / "logs"
    logs.mkdir()
    with DevServer(logs / "dev-server.log") as server:
        venue = VenueProcess(
            tmp_path / "venue" / "venue.db",
            env=secrets.env(),
            extra_args=["--log-level", "DEBUG", "--access-log"],
        )
        venue.log_path = logs / "venue.log"
        queue = f"leak-{uuid.uuid4().hex[:8]}"
        metrics_port = free_port()
        env = child_env(
            {
                **secrets.env(),
                "TEMPORAL_ADDRESS": server.address,
                "EXECBATCH_VENUE_URL": venue.base_url,
                "EXECBATCH_TASK_QUEUE": queue,
                "EXECBATCH_UI_URL": server.ui_url,
                "EXECBATCH_METRICS_PORT": str(metrics_port),
                "EXECBATCH_LOG_FORMAT": "json",
            }
        )
        with (
            venue,
            ChildProcess([EXECBATCH, "worker"], logs / "worker.log", env),
            CodecServer(logs / "codec-server.log", secrets.env(), [server.ui_url]) as codec_server,
        ):
            async with PaperVenueAdmin(venue.base_url, admin_key=secrets.venue_admin_key) as a:
                await a.set_prices({s: Decimal(p) for s, p in MARKER_SYMBOLS.items()})

            batch_ids = []
            for mode, reject in [
                (BatchExecutionMode.INDEPENDENT, False),
                (BatchExecutionMode.COORDINATED, False),
                (BatchExecutionMode.SEQUENTIAL, False),
                (BatchExecutionMode.COORDINATED, True),
            ]:
                document = secret_document(mode, reject_second=reject)
                path = tmp_path / f"{document.directive.directive_id}.json"
                path.write_text(document.to_json())
                done = run_cli(["submit", str(path), "--json"], env, logs / "cli.log")
                assert done.returncode in (0, 3), done.stderr.decode()
                batch_ids.append(json.loads(done.stdout)["batch_id"])
            for batch_id in batch_ids:
                assert run_cli(["status", batch_id], env, logs / "cli.log").returncode in (0, 3)
            assert run_cli(["list"], env, logs / "cli.log").returncode == 0

            # refused requests: the venue and the codec server log them
            async with httpx.AsyncClient() as raw:
                refused = await raw.post(
                    f"{venue.base_url}/orders",
                    content=b"{}",
                    headers={"x-execbatch-timestamp": "1", "x-execbatch-signature": "00"},
                )
                assert refused.status_code == 401
                wrong = await raw.post(
                    f"{codec_server.url}/decode",
                    content=b'{"payloads":[]}',
                    headers={"Authorization": "Bearer nope"},
                )
                assert wrong.status_code == 401
                right = await raw.post(
                    f"{codec_server.url}/decode",
                    content=b'{"payloads":[]}',
                    headers={"Authorization": f"Bearer {secrets.codec_token}"},
                )
                assert right.status_code == 200

            # the worker's /metrics (ours and the Temporal SDK's) is output too
            async with httpx.AsyncClient() as raw:
                scraped = await raw.get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert scraped.status_code == 200
            (logs / "metrics.txt").write_text(scraped.text)

            for batch_id in batch_ids:
                (logs / f"history-{batch_id}.json").write_text(
                    server.cli("workflow", "show", "--workflow-id", batch_id, "--output", "json")
                )

    worker_log = (logs / "worker.log").read_text()
    assert "worker on" in worker_log, worker_log[-2000:]
    assert "refused POST /orders" in (logs / "venue.log").read_text()
    assert "bad or missing token" in (logs / "codec-server.log").read_text()
    assert len(list(logs.glob("history-*.json"))) == 4

    metrics_text = (logs / "metrics.txt").read_text()
    assert 'execbatch_batches_finished_total{mode="COORDINATED",status="COMPENSATED"}' in (
        metrics_text
    )
    assert "temporal_" in metrics_text
    # order data: with the codec on, no symbol shows up in the metrics either
    assert [m for m in MARKERS if m in metrics_text] == []
    assert 'symbol="redacted"' in metrics_text or "execbatch_exposed_quantity{" not in metrics_text
    # JSON logs: one event per line
    for line in (logs / "worker.log").read_text().splitlines():
        if line.startswith("{"):
            assert json.loads(line)["level"]

    forms = secrets.forms()
    hits = grep(logs, forms)
    scanned = {p.name: p.stat().st_size for p in sorted(logs.iterdir())}
    print(f"\nscanned {scanned}\nfor {len(forms)} secret forms: hits={hits}")
    assert hits == []
