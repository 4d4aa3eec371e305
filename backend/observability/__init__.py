"""Observability of a process of ours: Prometheus metrics, OpenTelemetry traces, logs.

A leaf (docs/ARCHITECTURE.md): it knows nothing of batches, only how to
count, trace and log. ``execbatch.instrumentation`` hooks it into the
executor (Temporal interceptors, the venue adapter); the worker, the
embedded executor, the venue and the CLI switch it on.

* ``metrics``: our metric definitions on one registry (``execbatch_*``).
* ``endpoint``: ``/metrics`` (``EXECBATCH_METRICS_PORT``) with ours and the
  Temporal SDK's runtime metrics, and that telemetry runtime.
* ``tracing``: an OTLP exporter from the standard OTel environment.
* ``logs``: text or JSON logs (``EXECBATCH_LOG_FORMAT``) with batch ids.
"""
