"""A full run with every secret set, all output captured, then grepped for the secrets.

The output includes the worker's JSON logs, the venue's log, the worker's ``/metrics``
and the spans of the worker and the venue (``OTEL_TRACES_EXPORTER=console``: one JSON
span per line on each process's stderr, so in its log). With the codec on, none of
them may show order data either: no symbol or strategy of the batches, no price, and
no span attribute or event naming a quantity, a price or a symbol.

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

SPANS_TO_LOG = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "200"}
"""The standard OTel variables that make a process write its spans to stderr."""
PRICES = tuple(str(price) for price in MARKER_SYMBOLS.values())
QUANTITIES = ("17", "23")
ORDER_WORDS = ("quantity", "price", "symbol", "strategy")


def split_log(path: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """A log's JSON lines: (log events, spans); a span has ``context`` and ``name``."""
    events: list[dict[str, object]] = []
    spans: list[dict[str, object]] = []
    for line in path.read_text().splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            (spans if "context" in item and "name" in item else events).append(item)
    return events, spans


def order_data_in_span(span: dict[str, object]) -> list[str]:
    """What of an order a span shows: marker text anywhere, or an attribute (of the span or
    of one of its events) named like order data or valued like one of the quantities."""
    found = [m for m in (*MARKERS, *PRICES) if m in json.dumps(span)]
    attributes = [span.get("attributes") or {}]
    for event in span.get("events") or []:  # type: ignore[attr-defined]
        attributes.append(event.get("attributes") or {})
    for bag in attributes:
        assert isinstance(bag, dict)
        for key, value in bag.items():
            if any(word in key.lower() for word in ORDER_WORDS):
                found.append(f"attribute {key}={value}")
            if str(value) in QUANTITIES:
                found.append(f"attribute {key}={value} (a quantity)")
    return found


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
        # The venue gets every secret too (a leak of any would show), so it redacts
        # order data from its log by the codec rule (service/log_redaction.py).
        venue = VenueProcess(
            tmp_path / "venue" / "venue.db",
            env={**secrets.env(), **SPANS_TO_LOG},
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
        worker_env = {**env, **SPANS_TO_LOG}
        with (
            venue,
            ChildProcess([EXECBATCH, "worker"], logs / "worker.log", worker_env),
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
    # JSON logs: one event per line (and one span per line)
    events, worker_spans = split_log(logs / "worker.log")
    assert events and all(event["level"] for event in events)
    _, venue_spans = split_log(logs / "venue.log")
    # order data: the worker's and the venue's logs show ids and statuses only
    for name in ("worker.log", "venue.log"):
        text = (logs / name).read_text()
        assert [m for m in (*MARKERS, *PRICES) if m in text] == [], name
    assert "order placed cid=" in (logs / "venue.log").read_text()
    # spans: the venue continues the worker's trace; none shows order data
    names = {str(span["name"]) for span in worker_spans}
    assert any(name.startswith("venue ") for name in names), sorted(names)
    # (the venue's own server spans are "venue ..."; FastAPI adds spans of its own)
    continued = [span for span in venue_spans if str(span["name"]).startswith("venue POST")]
    venue_traces = {span["context"]["trace_id"] for span in continued}  # type: ignore[index]
    worker_traces = {span["context"]["trace_id"] for span in worker_spans}  # type: ignore[index]
    assert continued and venue_traces <= worker_traces
    leaks = {str(span["name"]): order_data_in_span(span) for span in worker_spans + venue_spans}
    print(f"\n{len(worker_spans)} worker spans, {len(venue_spans)} venue spans")
    assert {name: found for name, found in leaks.items() if found} == {}

    forms = secrets.forms()
    hits = grep(logs, forms)
    scanned = {p.name: p.stat().st_size for p in sorted(logs.iterdir())}
    print(f"\nscanned {scanned}\nfor {len(forms)} secret forms: hits={hits}")
    assert hits == []
