"""The executor, instrumented: Temporal interceptors and a venue adapter wrapper.

Sits just below the worker (docs/ARCHITECTURE.md): it reads the executor's
DTOs and the venue port, and records through ``execbatch.observability``.
Nothing here changes what the workflow or the activities do: the
interceptors only look (never add a command to a workflow's history), and
every recording swallows its own errors, so settling, cancelling and
compensating can never be held up by a metric or a span.
"""

from execbatch.instrumentation.adapter import InstrumentedAdapter, instrument
from execbatch.instrumentation.interceptors import (
    ExecbatchTracingInterceptor,
    MetricsInterceptor,
    worker_interceptors,
)

__all__ = [
    "ExecbatchTracingInterceptor",
    "InstrumentedAdapter",
    "MetricsInterceptor",
    "instrument",
    "worker_interceptors",
]
