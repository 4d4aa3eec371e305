"""The data converter every client and worker of ours uses.

Pydantic models (with Decimal and aware datetimes) travel through Temporal via
``temporalio.contrib.pydantic``. ``build_data_converter`` is the one place a
payload codec (encryption) gets attached. With a codec, failures are converted
with encoded attributes too: a failure's message and stack trace (which can
name symbols and sizes) then travel as an encrypted payload instead of plain
text in the history.
"""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
)

from execbatch.security.codec import codec_from_env as _security_codec_from_env


def build_data_converter(codec: PayloadCodec | None = None) -> DataConverter:
    if codec is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def codec_from_env() -> PayloadCodec | None:
    """The encryption codec the environment configures (``EXECBATCH_CODEC_KEYS`` or
    ``EXECBATCH_CODEC_KEY_FILE``), or None. See ``execbatch.security.keys``."""
    return _security_codec_from_env()
