"""Connecting to Temporal with our data converter (and codec, when configured)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import PayloadCodec
from temporalio.runtime import Runtime

from execbatch.config.environment import ExecbatchConfig
from execbatch.temporal.converter import build_data_converter, codec_from_env


class TemporalUnreachable(RuntimeError):
    """Temporal could not be reached with the configuration given: one line naming the
    address, the namespace, what went wrong and what to check.

    The SDK raises ``RuntimeError("Failed client connect: ...")`` with the transport's
    debug dump; a strategy, the CLI and the worker all meet this one instead (it is a
    ``RuntimeError`` still, so code that caught the SDK's keeps working)."""

    def __init__(self, address: str, namespace: str, detail: str) -> None:
        self.address = address
        self.namespace = namespace
        self.detail = detail
        super().__init__(
            f"cannot reach Temporal at {address} (namespace {namespace}): {detail}. "
            "Is `execbatch dev` running, or TEMPORAL_ADDRESS set?"
        )


async def connect(
    config: ExecbatchConfig,
    codec: PayloadCodec | None = None,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client with our converter; ``codec`` defaults to the environment's.

    Taking the codec from the environment here is what switches encryption on
    for the worker and every CLI command at once: they all connect through
    this function, so they cannot disagree about it. ``runtime``: a Temporal
    runtime with telemetry (the worker's metrics); ``interceptors``: tracing.
    Raises ``TemporalUnreachable`` when the server cannot be reached.
    """
    options = dict(config.temporal)
    target = options.pop("target_host")
    if codec is None:
        codec = codec_from_env()
    try:
        return await Client.connect(
            target,
            data_converter=build_data_converter(codec),
            runtime=runtime,
            interceptors=interceptors,
            **options,
        )
    except RuntimeError as exc:  # the SDK's "Failed client connect: <transport dump>"
        raise TemporalUnreachable(config.address, config.namespace, _failure(str(exc))) from exc


def _failure(text: str) -> str:
    """The useful part of the SDK's connect error (it dumps the transport's debug form)."""
    lowered = text.lower()
    for needle, meaning in (
        ("connection refused", "connection refused"),
        ("dns error", "unknown host"),
        ("timed out", "timed out"),
        ("certificate", "TLS certificate problem"),
        ("unauthenticated", "not authenticated (API key / client certificate?)"),
    ):
        if needle in lowered:
            return meaning
    return text.split("(", 1)[0].strip()[:200]
