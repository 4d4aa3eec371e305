"""The execbatch worker: runs ExecutionBatchWorkflow and the order activities.

Configuration comes from the environment (see ``execbatch.config.environment``):
Temporal's standard variables for the connection, ``EXECBATCH_TASK_QUEUE``,
``EXECBATCH_VENUE_URL`` and ``EXECBATCH_VENUE_ACCOUNT``. SIGTERM and SIGINT
shut it down gracefully: running activities get to finish or heartbeat-cancel.

Observability (``execbatch.observability``, docs/OPERATING.md): ``/metrics`` on
``EXECBATCH_METRICS_PORT`` (ours and the Temporal SDK's), traces to the OTLP
endpoint of the standard ``OTEL_*`` variables, JSON logs with
``EXECBATCH_LOG_FORMAT=json``. Worker Versioning: ``EXECBATCH_DEPLOYMENT_NAME``
and ``EXECBATCH_BUILD_ID`` (``execbatch.config.versioning``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError
from temporalio.worker import Interceptor, Worker, WorkflowRunner

from execbatch.activities.order_activities import RULES_REUSE_SECONDS, OrderActivities
from execbatch.activities.risk_activities import RiskActivities
from execbatch.config.connection import TemporalUnreachable, connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.config.versioning import deployment_config, deployment_version, make_current_if_unset
from execbatch.instrumentation import instrument, worker_interceptors
from execbatch.instrumentation.adapter import venue_name
from execbatch.instrumentation.interceptors import client_interceptors
from execbatch.instrumentation.running import RUNNING_INTERVAL, start_running_reporter
from execbatch.observability.endpoint import serve_metrics, telemetry_runtime
from execbatch.observability.logs import configure_logging as configure_log_output
from execbatch.observability.tracing import configure_tracing
from execbatch.recovery import start_sweeper
from execbatch.risk.limits import RiskLimits, load_limits, throttle_task_queue
from execbatch.risk.states import STATE_READ_REUSE_SECONDS
from execbatch.temporal.sandbox import workflow_runner as sandboxed_runner
from execbatch.venue.adapters.factory import create_adapter
from execbatch.venue.port.adapter import ExchangeAdapter
from execbatch.venue.port.capabilities import ClientIdScope, VenueCapabilities
from execbatch.workflows.activity_options import RERUN_GAP
from execbatch.workflows.batch_workflow import ExecutionBatchWorkflow
from execbatch.workflows.trading_state import TradingStateWorkflow

log = logging.getLogger("execbatch.worker")

WORKFLOWS: Sequence[type] = (ExecutionBatchWorkflow, TradingStateWorkflow)

PASSTHROUGH_MODULES = (
    "pydantic",
    "pydantic_core",
    "annotated_types",
    *(
        f"execbatch.{name}"
        for name in (
            "core",
            "dtos",
            "planning",
            "activities",
            "temporal",
            "venue",
            "security",
            "observability",
            "instrumentation",
            "risk",
        )
    ),
    # Pure parts of the workflow package: tables and functions of their arguments
    # (no clock, no I/O, no random; unit-tested on their own). Their frozen
    # dataclasses cost ~2 ms to build per workflow run inside the sandbox.
    "execbatch.workflows.leg_state",
    "execbatch.workflows.modes",
    "prometheus_client",
    "opentelemetry",
)
"""Modules the workflow sandbox shares instead of re-importing for every run.

They are deterministic at import time (models, enums, pure helpers); passing
them through saves the re-import that profiling showed as ~20% of worker CPU.
The workflow modules that decide (batch workflow, wind-down, settlement, risk
gate, placing, Web UI details, trading state) stay sandboxed, so their code is
still checked: each imports the others *outside* its pass-through block (a
``from execbatch.workflows.x import y`` inside it hands module x over from the
host, unchecked; ``tests/temporal/test_workflow_sandbox.py`` shows it and keeps
every workflow module to the rule). That costs ~0.25 ms per run
(``python -m bench.micro sandbox``: 1.98 -> 2.22 ms per workflow instance; 1.94
since ``WorkflowCodeCache`` finds each module on disk once).
"""


def workflow_runner(sandbox: bool | None = None) -> WorkflowRunner:
    """The sandbox with our pass-through modules and the workflow code compiled once
    (``execbatch.temporal.sandbox``); ``EXECBATCH_WORKFLOW_SANDBOX=0`` turns it off."""
    return sandboxed_runner(PASSTHROUGH_MODULES, sandbox=sandbox)


def check_rerun_gap(capabilities: VenueCapabilities) -> None:
    """Refuse a venue whose sends can land later than a placement's re-run.

    At a venue that takes a used client order id again (Binance, once the order is
    closed), a placement re-run after its worker was killed must not find nothing
    and send while the dead worker's send can still land. The re-run comes at least
    ``RERUN_GAP`` after that send (``activity_options.WORKFLOW_TASK_TIMEOUT``), so
    the venue's landing bound must not exceed it. A venue that keeps an id for ever
    needs no such bound.
    """
    bound = capabilities.placement_landing_bound_seconds
    if capabilities.client_id_scope is ClientIdScope.FOREVER or bound is None:
        return
    gap = RERUN_GAP.total_seconds()
    if bound > gap:
        raise ValueError(
            f"venue {capabilities.venue}: a placement can land {bound:g} s after it is sent,"
            f" longer than the {gap:g} s before a killed worker's placement is re-run;"
            " send a shorter receive window (ccxt: recv_window_ms)"
        )


def build_worker(
    client: Client,
    task_queue: str,
    adapter: ExchangeAdapter,
    *,
    max_concurrent_activities: int = 200,
    max_concurrent_workflow_tasks: int = 100,
    interceptors: Sequence[Interceptor] = (),
    version: WorkerDeploymentVersion | None = None,
    workflows: Sequence[type] = WORKFLOWS,
    limits: RiskLimits | None = None,
    workflow_threads: int | None = None,
    sandbox: bool | None = None,
    state_reuse_seconds: float = STATE_READ_REUSE_SECONDS,
    rules_reuse_seconds: float = RULES_REUSE_SECONDS,
) -> Worker:
    """A worker with our workflow and the order activities bound to ``adapter``.

    Every venue call is measured and traced (``instrument``); our metrics
    interceptor, and Temporal's tracing one when traces go somewhere, come
    before ``interceptors`` (a test's injected faults). ``version``: poll as
    that Worker Deployment Version (Worker Versioning; None: unversioned).
    ``workflows``: ours, unless a test brings a changed version of it.
    ``limits``: the pre-trade risk limits (None: none; docs/RISK.md).
    ``workflow_threads``: threads that run workflow activations (None: the SDK's
    one per concurrent workflow task); ``sandbox``: None reads
    ``EXECBATCH_WORKFLOW_SANDBOX``. Both are performance levers (docs/BENCHMARK.md).
    ``state_reuse_seconds``: how long a trading-state read is reused (a halt's quiet
    period must cover it; tests that halt with no quiet period pass 0).
    ``rules_reuse_seconds``: how long a symbol's instrument rules are reused
    (``InstrumentRulesReads``; 0: every batch asks the venue).
    """
    check_rerun_gap(adapter.capabilities)
    instrumented = instrument(adapter)
    activities = OrderActivities(instrumented, rules_reuse_seconds)
    risk = RiskActivities(
        instrumented,
        client,
        limits or RiskLimits(),
        task_queue,
        state_reuse_seconds,
        orders=activities,
    )
    return Worker(
        client,
        task_queue=task_queue,
        workflows=list(workflows),
        activities=[*activities.all(), *risk.all()],
        max_concurrent_activities=max_concurrent_activities,
        max_concurrent_workflow_tasks=max_concurrent_workflow_tasks,
        graceful_shutdown_timeout=timedelta(seconds=10),
        # A crashed worker's sticky tasks move to another worker after this long
        # (default 10 s): it bounds how much of a wind-down margin a crash eats.
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=3),
        workflow_runner=workflow_runner(sandbox),
        workflow_task_executor=(
            ThreadPoolExecutor(workflow_threads, thread_name_prefix="execbatch_workflow_")
            if workflow_threads
            else None
        ),
        interceptors=worker_interceptors(client, venue_name(adapter), interceptors),
        deployment_config=deployment_config(version),
        identity=worker_identity(client, adapter),
    )


VENUE_TAG = "venue="
"""Marks the venue in a worker's identity (``worker_identity``)."""


def worker_identity(client: Client, adapter: ExchangeAdapter) -> str:
    """The client's identity (``pid@host``) and the venue the worker trades: a task
    queue's pollers then tell a client which venue its workers trade, so ``execbatch
    orders``/``positions``/``venue-check`` refuse to read another one."""
    return f"{client.identity} {VENUE_TAG}{venue_name(adapter)}"


def identity_venue(identity: str) -> str | None:
    """The venue a worker identity names (None: not one of our workers')."""
    for word in identity.split():
        if word.startswith(VENUE_TAG):
            return word.removeprefix(VENUE_TAG)
    return None


def build_throttle_workers(
    client: Client, task_queue: str, adapter: ExchangeAdapter, limits: RiskLimits
) -> list[Worker]:
    """One worker per throttled account's placement task queue, rate-limited there.

    ``max_task_queue_activities_per_second`` is enforced by the Temporal server
    for the task queue as a whole, so N orders/s hold across every worker
    process polling it (all load the same limits; docs/RISK.md).
    """
    risk = RiskActivities(instrument(adapter), client, limits, task_queue)
    workers = []
    for account, rate in sorted(limits.throttled_accounts().items()):
        queue = throttle_task_queue(task_queue, account, limits) if account != "*" else None
        queue = queue or f"{task_queue}:placements:*"
        workers.append(
            Worker(
                client,
                task_queue=queue,
                activities=[risk.place_leg_checked],
                max_task_queue_activities_per_second=rate,
                graceful_shutdown_timeout=timedelta(seconds=10),
            )
        )
    return workers


async def connect_with_retry(config: ExecbatchConfig, stop: asyncio.Event) -> Client | None:
    """Connect, retrying with backoff while Temporal is not up yet (None if stopped first).

    A worker started beside its cluster (docker-compose, a restart after a
    crash) should wait for the server, not exit on the first refused connection.
    """
    delay = 0.5
    runtime = telemetry_runtime() if config.metrics_port is not None else None
    while not stop.is_set():
        try:
            return await connect(config, runtime=runtime, interceptors=client_interceptors())
        except TemporalUnreachable as exc:
            log.warning("%s; retrying in %.1fs", exc.args[0], delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)
        delay = min(delay * 2, 10.0)
    return None


async def run_worker(config: ExecbatchConfig, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    limits = load_limits()  # a bad limits file stops the worker here, naming the field
    configure_tracing("execbatch-worker")
    if config.metrics_port is not None:
        serve_metrics(config.metrics_port)
    client = await connect_with_retry(config, stop)
    if client is None:
        return
    adapter = create_adapter(config.venue, account=config.venue_account, paper_url=config.venue_url)
    version = deployment_version(config)
    try:
        worker = build_worker(client, config.task_queue, adapter, version=version, limits=limits)
        throttles = build_throttle_workers(client, config.task_queue, adapter, limits)
        log.info(
            "worker on %s namespace=%s task_queue=%s venue=%s (%s) version=%s",
            config.address,
            config.namespace,
            config.task_queue,
            config.venue,
            adapter.capabilities.venue,
            version.to_canonical_string() if version else "unversioned",
        )
        if version is not None:
            # before polling, so no batch started meanwhile waits for a current version
            await _become_current_if_first(client, version)
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(worker)
            for throttle in throttles:
                await stack.enter_async_context(throttle)
            # Recover batches their execution timeout ended (see execbatch.recovery).
            interval = timedelta(seconds=config.recovery_interval_seconds)
            sweeper = start_sweeper(client, config.task_queue, interval, stop)
            running = (
                start_running_reporter(client, config.task_queue, stop, RUNNING_INTERVAL)
                if config.metrics_port is not None
                else None
            )
            await stop.wait()
            log.info("shutting down")
            if sweeper is not None:
                await sweeper
            if running is not None:
                await running
    finally:
        await adapter.aclose()


async def _become_current_if_first(client: Client, version: WorkerDeploymentVersion) -> None:
    """The first version of a deployment makes itself current (nobody else would).

    The server learns a version from its first poll, so this retries for a
    few seconds; later versions are made current by the operator's rolling
    deploy (docs/OPERATING.md), never here.
    """
    last: RPCError | None = None
    for _ in range(40):
        try:
            if await make_current_if_unset(client, version):
                log.info("%s is the deployment's current version", version.to_canonical_string())
            return
        except RPCError as exc:
            last = exc
            await asyncio.sleep(0.25)
    log.warning("could not make %s current: %s", version.to_canonical_string(), last)


def configure_logging() -> None:
    """Text or JSON logs (``EXECBATCH_LOG_FORMAT``), secrets redacted."""
    configure_log_output()


def main() -> None:
    configure_logging()
    asyncio.run(run_worker(ExecbatchConfig.from_env()))


if __name__ == "__main__":
    main()
