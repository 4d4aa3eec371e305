"""Security commands: the payload codec server for the Web UI."""

from __future__ import annotations

from typing import Annotated

import typer

from execbatch.cli.common import (
    EXIT_BAD_INPUT,
    fail,
)
from execbatch.cli.usage import whole_number


def codec_server(
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(metavar="PORT", parser=whole_number(1), help="TCP port.")
    ] = 8888,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(help="Web UI origin allowed by CORS (repeatable); default from env."),
    ] = None,
) -> None:
    """Run the payload codec server the Temporal Web UI uses to decode payloads.

    Keys come from EXECBATCH_CODEC_KEYS / EXECBATCH_CODEC_KEY_FILE and the
    bearer token from EXECBATCH_CODEC_SERVER_TOKEN (see docs/SECURITY.md).
    """
    from execbatch.security.codec_server import run_codec_server
    from execbatch.security.keys import KeyConfigError

    try:
        run_codec_server(host, port, cors_origins=cors_origin or None)
    except KeyConfigError as exc:
        fail(str(exc), EXIT_BAD_INPUT)
