"""Connecting to Temporal with our data converter (and codec, when configured)."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.converter import PayloadCodec
from temporalio.runtime import Runtime

from execbatch.config.environment import ExecbatchConfig
from execbatch.temporal.converter import build_data_converter, codec_from_env


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
    """
    options = dict(config.temporal)
    target = options.pop("target_host")
    if codec is None:
        codec = codec_from_env()
    return await Client.connect(
        target,
        data_converter=build_data_converter(codec),
        runtime=runtime,
        interceptors=interceptors,
        **options,
    )
