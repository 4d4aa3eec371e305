"""Connecting to Temporal with our data converter (and codec, when configured)."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.converter import PayloadCodec

from backend.client.config import ExecbatchConfig
from backend.temporal.converter import build_data_converter


async def connect(config: ExecbatchConfig, codec: PayloadCodec | None = None) -> Client:
    options = dict(config.temporal)
    target = options.pop("target_host")
    return await Client.connect(target, data_converter=build_data_converter(codec), **options)
