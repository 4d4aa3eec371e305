"""Temporal interceptors: batch metrics, span attributes and log context.

``MetricsInterceptor`` (always on in our workers):

* workflow side: counts a batch started (by mode), a settlement run started
  (by mode and how the settled run ended), and at its end the batch finished
  (by mode and final status), its legs (by final status) and its exposure; a
  revert scheduled opens exposure for its quantity and its answer closes what
  it reverted, counting the compensation's outcome. All of it only when the
  workflow is **not replaying**, so a replay on another worker counts nothing
  twice; and it never adds a command: histories are unchanged.
* activity side: sets the ids on the log context and on the activity's span,
  the outcome on the span, and counts an attempt that retries a venue call.

``ExecbatchTracingInterceptor`` is Temporal's ``TracingInterceptor`` whose
workflow spans also carry the batch id, mode, leg index, command id and
client order id (and ``FinishBatch`` the final status). Quantities, prices
and symbols never go into an attribute.

Every recording swallows its own errors: an interceptor that raised inside a
workflow would fail its workflow task, so nothing here may.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import opentelemetry.trace
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.opentelemetry import (
    TracingInterceptor,
    TracingWorkflowInboundInterceptor,
)
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from execbatch.core.order_ids import placement_order_id
from execbatch.observability import metrics
from execbatch.observability.logs import log_context
from execbatch.observability.tracing import (
    ATTR_BATCH_ID,
    ATTR_CLIENT_ORDER_ID,
    ATTR_COMMAND_ID,
    ATTR_LEG_INDEX,
    ATTR_MODE,
    ATTR_OUTCOME,
    ATTR_RECOVERY_OF,
    ATTR_STATUS,
    ATTR_VENUE,
    tracing_active,
)

log = logging.getLogger("execbatch.instrumentation")

VENUE_UNAVAILABLE = "VENUE_UNAVAILABLE"


# ------------------------------------------------------------------ ids of a request


def ids_of(request: object) -> dict[str, str]:
    """batch_id, command_id and client_order_id of an activity's request, where it has them."""
    ids: dict[str, str] = {}
    batch_id = getattr(request, "batch_id", None)
    command = getattr(request, "command", None)
    client_order_id = getattr(request, "client_order_id", None)
    if isinstance(batch_id, str):
        ids["batch_id"] = batch_id
    if command is not None and isinstance(getattr(command, "command_id", None), str):
        ids["command_id"] = command.command_id
        if isinstance(batch_id, str) and type(request).__name__ == "PlaceLegRequest":
            ids["client_order_id"] = placement_order_id(batch_id, command.command_id)
    if isinstance(client_order_id, str):
        ids["client_order_id"] = client_order_id
        parts = client_order_id.split(":")
        if len(parts) == 3:  # <batch id>:<command id>:<action> (execbatch.core.order_ids)
            ids.setdefault("batch_id", parts[0])
            ids.setdefault("command_id", parts[1])
    return ids


def _symbol_label(symbol: str) -> str:
    return metrics.REDACTED if _order_data_hidden() else symbol


_codec_on: bool | None = None


def _order_data_hidden() -> bool:
    """Whether the payload codec is on in this process (then symbols are order data)."""
    global _codec_on
    if _codec_on is None:
        from execbatch.security.codec import codec_from_env

        _codec_on = codec_from_env() is not None
    return _codec_on


# ------------------------------------------------------------------ metrics: workflow side


def _live(record: Callable[..., None], *args: Any) -> None:
    """Record only on a live (not replaying) activation, outside the sandbox's restrictions."""
    try:
        if workflow.unsafe.is_replaying():
            return
        with workflow.unsafe.sandbox_unrestricted():
            record(*args)
    except Exception:
        log.exception("recording batch metrics failed")


def _record_started(request: Any) -> None:
    mode = request.batch.mode.value
    if request.recovery_of is not None:
        metrics.RECOVERY_RUNS_STARTED.labels(mode=mode, ending=request.ending.value).inc()
    else:
        metrics.BATCHES_STARTED.labels(mode=mode).inc()


def _record_finished(request: Any, result: Any) -> None:
    mode = request.batch.mode.value
    metrics.BATCHES_FINISHED.labels(mode=mode, status=result.status.value).inc()
    for leg in result.legs:
        metrics.LEGS_FINISHED.labels(mode=mode, status=leg.status.value).inc()
    metrics.EXPOSURE.clear_batch(result.batch_id)
    account = request.settings.account
    for leg in result.legs:
        if leg.exposed_quantity != 0:
            metrics.EXPOSURE.set_leg(
                result.batch_id,
                leg.command_id,
                account,
                _symbol_label(leg.symbol),
                abs(Decimal(leg.exposed_quantity)),
            )


def _record_revert_scheduled(request: Any) -> None:
    metrics.EXPOSURE.set_leg(
        request.batch_id,
        request.command.command_id,
        request.account,
        _symbol_label(request.command.symbol),
        Decimal(request.quantity),
    )


def _record_revert_done(mode: str, request: Any, reverted: Decimal | None) -> None:
    outcome = "failed" if reverted is None else "reverted"
    metrics.COMPENSATIONS.labels(mode=mode, outcome=outcome).inc()
    if reverted is not None:
        metrics.EXPOSURE.set_leg(
            request.batch_id,
            request.command.command_id,
            request.account,
            _symbol_label(request.command.symbol),
            max(Decimal(request.quantity) - reverted, Decimal(0)),
        )


def _batch_request(args: Sequence[Any]) -> Any | None:
    """The workflow's BatchRunRequest, or None for any other workflow."""
    if args and hasattr(args[0], "batch") and hasattr(args[0], "recovery_of"):
        return args[0]
    return None


class _MetricsWorkflowInbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self.request: Any | None = None
        super().init(_MetricsWorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        request = _batch_request(input.args)
        self.request = request
        if request is None:
            return await super().execute_workflow(input)
        _live(_record_started, request)
        result = await super().execute_workflow(input)
        if hasattr(result, "status") and hasattr(result, "legs"):
            _live(_record_finished, request, result)
        return result


class _MetricsWorkflowOutbound(WorkflowOutboundInterceptor):
    def __init__(self, next: WorkflowOutboundInterceptor, root: _MetricsWorkflowInbound) -> None:
        super().__init__(next)
        self._root = root

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        handle = super().start_activity(input)
        request = self._root.request
        if input.activity == "revert_leg" and request is not None and input.args:
            revert = input.args[0]
            mode = request.batch.mode.value
            _live(_record_revert_scheduled, revert)

            def done(task: workflow.ActivityHandle[Any]) -> None:
                reverted: Decimal | None = None
                if not task.cancelled() and task.exception() is None:
                    reverted = Decimal(getattr(task.result(), "reverted_quantity", 0))
                _live(_record_revert_done, mode, revert, reverted)

            handle.add_done_callback(done)
        return handle


# ------------------------------------------------------------------ metrics: activity side


class _MetricsActivityInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, venue: str) -> None:
        super().__init__(next)
        self._venue = venue

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        ids = ids_of(input.args[0]) if input.args else {}
        span = opentelemetry.trace.get_current_span()
        try:
            if info.attempt > 1:
                metrics.VENUE_RETRIES.labels(venue=self._venue, operation=info.activity_type).inc()
            attributes = {
                {"batch_id": ATTR_BATCH_ID, "command_id": ATTR_COMMAND_ID}.get(
                    key, ATTR_CLIENT_ORDER_ID
                ): value
                for key, value in ids.items()
            }
            span.set_attributes({**attributes, ATTR_VENUE: self._venue})
        except Exception:
            log.exception("instrumenting activity %s failed", info.activity_type)
        with log_context(**ids):
            try:
                result = await super().execute_activity(input)
            except ApplicationError as exc:
                span.set_attribute(ATTR_OUTCOME, exc.type or "error")
                raise
            except BaseException as exc:
                span.set_attribute(ATTR_OUTCOME, type(exc).__name__)
                raise
            span.set_attribute(ATTR_OUTCOME, _result_outcome(result))
            return result


def _result_outcome(result: object) -> str:
    status = getattr(result, "status", None)
    value = getattr(status, "value", None)
    if isinstance(value, str):
        return value
    return "ok"


class MetricsInterceptor(Interceptor):
    """Batch and venue metrics, log context and span attributes (see the module doc)."""

    def __init__(self, venue: str = "unknown") -> None:
        self._venue = venue

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MetricsActivityInbound(next, self._venue)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _MetricsWorkflowInbound


# ------------------------------------------------------------------ tracing attributes


class ExecbatchTracingInterceptor(TracingInterceptor):
    """Temporal's tracing interceptor; workflow spans carry our ids (see the module doc)."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return _BatchTracingWorkflowInbound


class _BatchTracingWorkflowInbound(TracingWorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        self.batch_attributes: dict[str, Any] = {}
        self.leg_index: dict[str, int] = {}
        WorkflowInboundInterceptor.init(self, _BatchTracingWorkflowOutbound(outbound, self))

    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        request = _batch_request(input.args)
        if request is not None:
            try:
                self.batch_attributes = {
                    ATTR_BATCH_ID: request.batch.batch_id,
                    ATTR_MODE: request.batch.mode.value,
                }
                if request.recovery_of is not None:
                    self.batch_attributes[ATTR_RECOVERY_OF] = request.recovery_of
                self.leg_index = {c.command_id: i for i, c in enumerate(request.batch.commands)}
            except Exception:
                log.exception("reading the batch for its span attributes failed")
        with self._top_level_workflow_context(success_is_complete=True):
            self._completed_span(
                f"RunWorkflow:{workflow.info().workflow_type}",
                kind=opentelemetry.trace.SpanKind.SERVER,
                additional_attributes=self.batch_attributes,
            )
            result = await WorkflowInboundInterceptor.execute_workflow(self, input)
            status = getattr(getattr(result, "status", None), "value", None)
            if isinstance(status, str):
                self._completed_span(
                    "FinishBatch",
                    additional_attributes={
                        **self.batch_attributes,
                        ATTR_STATUS: status,
                        ATTR_OUTCOME: status,
                    },
                )
            return result

    def activity_attributes(self, args: Sequence[Any]) -> dict[str, Any]:
        attributes = dict(self.batch_attributes)
        try:
            ids = ids_of(args[0]) if args else {}
        except Exception:  # noqa: BLE001
            return attributes
        if "command_id" in ids:
            attributes[ATTR_COMMAND_ID] = ids["command_id"]
            if ids["command_id"] in self.leg_index:
                attributes[ATTR_LEG_INDEX] = self.leg_index[ids["command_id"]]
        if "client_order_id" in ids:
            attributes[ATTR_CLIENT_ORDER_ID] = ids["client_order_id"]
        return attributes


class _BatchTracingWorkflowOutbound(WorkflowOutboundInterceptor):
    """The stock outbound tracing, with our attributes on each StartActivity span."""

    def __init__(
        self, next: WorkflowOutboundInterceptor, root: _BatchTracingWorkflowInbound
    ) -> None:
        super().__init__(next)
        self.root = root

    def start_activity(self, input: StartActivityInput) -> workflow.ActivityHandle[Any]:
        self.root._completed_span(
            f"StartActivity:{input.activity}",
            add_to_outbound=input,
            kind=opentelemetry.trace.SpanKind.CLIENT,
            additional_attributes=self.root.activity_attributes(input.args),
        )
        return super().start_activity(input)

    def start_local_activity(self, input: StartLocalActivityInput) -> workflow.ActivityHandle[Any]:
        self.root._completed_span(
            f"StartActivity:{input.activity}",
            add_to_outbound=input,
            kind=opentelemetry.trace.SpanKind.CLIENT,
            additional_attributes=self.root.activity_attributes(input.args),
        )
        return super().start_local_activity(input)


# ------------------------------------------------------------------ wiring


def client_has_tracing(client: Client) -> bool:
    interceptors: Sequence[object] = client.config().get("interceptors") or ()
    return any(isinstance(i, TracingInterceptor) for i in interceptors)


def client_interceptors() -> list[TracingInterceptor]:
    """What a client adds so its calls start traces: the tracing interceptor, when traced."""
    return [ExecbatchTracingInterceptor()] if tracing_active() else []


def worker_interceptors(
    client: Client, venue: str, extra: Sequence[Interceptor] = ()
) -> list[Interceptor]:
    """A worker's interceptors, outermost first: tracing (unless the client already
    traces, which workers inherit), our metrics, then ``extra`` (a test's faults)."""
    chain: list[Interceptor] = []
    if tracing_active() and not client_has_tracing(client):
        chain.append(ExecbatchTracingInterceptor())
    chain.append(MetricsInterceptor(venue))
    chain.extend(extra)
    return chain
