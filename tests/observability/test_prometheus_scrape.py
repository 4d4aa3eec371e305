"""A real Prometheus scrapes a worker's ``/metrics`` while batches of every mode run,
and the figures read back through Prometheus's query API are what ran."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from execbatch.core.enums import BatchStatus, OrderType
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import ExecutionCommand
from execbatch.observability.metrics import REGISTRY
from execbatch.testing.documents import batch_id_of
from tests.observability.conftest import ObservedStack
from tests.observability.prometheus import Prometheus, needs_prometheus
from tests.workflows.conftest import load_example

pytestmark = [pytest.mark.devserver, needs_prometheus]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def resting(document: DirectiveDocument, command_id: str, limit_price: str) -> DirectiveDocument:
    commands = tuple(
        ExecutionCommand.model_validate(
            {**c.model_dump(), "order_type": OrderType.LIMIT, "limit_price": limit_price}
        )
        if c.command_id == command_id
        else c
        for c in document.commands
    )
    return document.model_copy(update={"commands": commands})


async def test_prometheus_reads_what_ran(observed: ObservedStack, tmp_path: Path) -> None:
    prometheus = Prometheus(tmp_path, [f"127.0.0.1:{observed.metrics_port}"])
    statuses = ["COMPLETED", "PARTIALLY_COMPLETED", "COMPENSATED", "STOPPED", "NEEDS_ATTENTION"]
    before = {
        status: sample("execbatch_batches_finished_total", mode=mode, status=status)
        for status, mode in [
            ("COMPLETED", "INDEPENDENT"),
            ("PARTIALLY_COMPLETED", "INDEPENDENT"),
            ("COMPENSATED", "COORDINATED"),
            ("STOPPED", "SEQUENTIAL"),
            ("NEEDS_ATTENTION", "COORDINATED"),
        ]
    }
    with prometheus:
        prometheus.wait_ready()
        venue = observed.venue

        # INDEPENDENT, completed, with one transient 503 on a placement (retried)
        flash = load_example("flash_crash_close")
        await venue.add_fault(
            kind="error_503", max_hits=1, client_order_id_prefix=f"{batch_id_of(flash)}:c1:"
        )
        # INDEPENDENT, one leg rejected
        partial = load_example("flash_crash_close")
        await venue.add_fault(
            kind="reject",
            error="UNKNOWN_SYMBOL",
            client_order_id_prefix=f"{batch_id_of(partial)}:c2:",
        )
        # COORDINATED, second leg rejected: the first is reverted
        compensated = load_example("pair_trade")
        await venue.add_fault(
            kind="reject",
            error="INSUFFICIENT_FUNDS",
            client_order_id_prefix=f"{batch_id_of(compensated)}:c2:",
        )
        # SEQUENTIAL, second leg rejected: stops
        stopped = load_example("rotation")
        await venue.add_fault(
            kind="reject",
            error="INSUFFICIENT_FUNDS",
            client_order_id_prefix=f"{batch_id_of(stopped)}:c2:",
        )
        # COORDINATED whose revert is refused: NEEDS_ATTENTION, 100 AAPL left open
        attention = load_example("pair_trade")
        await venue.add_fault(
            kind="reject",
            error="INVALID_ORDER",
            client_order_id_prefix=f"{batch_id_of(attention)}:c2:",
        )
        await venue.add_fault(
            kind="reject",
            error="INSUFFICIENT_FUNDS",
            client_order_id_prefix=f"{batch_id_of(attention)}:c1:revert",
        )
        results = await asyncio.gather(
            *(observed.run(d) for d in (flash, partial, compensated, stopped, attention))
        )
        assert [r.status for r in results] == [
            BatchStatus.COMPLETED,
            BatchStatus.PARTIALLY_COMPLETED,
            BatchStatus.COMPENSATED,
            BatchStatus.STOPPED,
            BatchStatus.NEEDS_ATTENTION,
        ]

        # a batch Temporal terminates mid-flight is settled by a recovery run
        terminated = resting(load_example("pair_trade"), "c1", "1")
        recoveries = sample(
            "execbatch_recovery_runs_started_total", mode="COORDINATED", ending="TERMINATED"
        )
        submission = await observed.executor.batches.submit_document(terminated)
        await asyncio.sleep(1.0)
        await submission.handle.terminate("operator test")
        settled = await observed.executor.batches.result(batch_id_of(terminated))
        assert settled.status is BatchStatus.TERMINATED

        expected = {status: before[status] + 1 for status in statuses}
        expected["NEEDS_ATTENTION"] = before["NEEDS_ATTENTION"] + 1
        report: list[str] = []
        for status in statuses:
            promql = f'sum(execbatch_batches_finished_total{{status="{status}"}})'
            registry_total = sum(
                sample("execbatch_batches_finished_total", mode=m, status=status)
                for m in ("INDEPENDENT", "COORDINATED", "SEQUENTIAL")
            )
            got = prometheus.wait_for(promql, registry_total)
            report.append(f"{promql} = {got}")
            assert got == registry_total
        assert sample(
            "execbatch_batches_finished_total", mode="COORDINATED", status="COMPENSATED"
        ) == (before["COMPENSATED"] + 1)

        exposed = f'execbatch_exposed_quantity{{account="{observed.account}",symbol="AAPL"}}'
        assert prometheus.wait_for(exposed, 100.0) == 100.0
        report.append(f"{exposed} = 100")

        recovery = 'execbatch_recovery_runs_started_total{mode="COORDINATED",ending="TERMINATED"}'
        assert prometheus.wait_for(recovery, recoveries + 1) == recoveries + 1
        report.append(f"{recovery} = {recoveries + 1}")

        retries = prometheus.value('sum(execbatch_venue_retries_total{venue="paper"})')
        assert retries is not None and retries >= 1
        calls = prometheus.query(
            'sum by (operation, outcome) (execbatch_venue_calls_total{venue="paper"})'
        )
        outcomes = {(c["metric"]["operation"], c["metric"]["outcome"]) for c in calls}
        assert {
            ("place_order", "ok"),
            ("place_order", "rejected"),
            ("place_order", "unavailable"),
        } <= outcomes
        p99 = prometheus.value(
            "histogram_quantile(0.99, sum by (le) "
            '(execbatch_venue_call_duration_seconds_bucket{operation="place_order"}))'
        )
        assert p99 is not None and 0 < p99 < 10
        legs = prometheus.query("sum by (status) (execbatch_legs_finished_total)")
        assert {leg["metric"]["status"] for leg in legs} >= {"FILLED", "REJECTED", "COMPENSATED"}
        compensations = prometheus.value('sum(execbatch_compensations_total{outcome="reverted"})')
        assert compensations is not None and compensations >= 1
        # the Temporal SDK's own runtime metrics, on the same target
        sdk = prometheus.query(
            '{__name__=~"temporal_workflow_completed_total|temporal_num_pollers"}'
        )
        assert sdk, "no Temporal SDK metrics scraped"
        sticky = prometheus.query('{__name__=~"temporal_sticky_cache.*"}')
        assert sticky
        running = prometheus.value("sum(execbatch_batches_running)")
        assert running is not None and running >= 0
        report += [
            f"sum(execbatch_venue_retries_total) = {retries}",
            f"venue call outcomes: {sorted(outcomes)}",
            f"place_order p99 latency = {p99:.4f}s",
            f"legs by status: { {leg['metric']['status']: leg['value'][1] for leg in legs} }",
            f"temporal SDK series: {sorted({s['metric']['__name__'] for s in sdk + sticky})}",
            f"execbatch_batches_running = {running}",
        ]
        print("\n" + "\n".join(report))
