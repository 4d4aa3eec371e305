"""The data converter every client and worker of ours uses.

Pydantic models (with Decimal and aware datetimes) travel through Temporal via
``temporalio.contrib.pydantic``. ``build_data_converter`` is the one place a
payload codec (encryption) gets attached.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, PayloadCodec


def build_data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(pydantic_data_converter, payload_codec=codec)
