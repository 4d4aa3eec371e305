"""The codec server: lets an operator who holds the keys read batches in the Web UI.

It implements Temporal's remote codec protocol: ``POST /encode`` and
``POST /decode`` take and return ``{"payloads": [Payload, ...]}`` in protobuf
JSON form. The Web UI calls ``/decode`` from the operator's browser, hence
CORS for the UI's origin(s). Every call must carry ``Authorization: Bearer
<token>`` (compared in constant time); without a token the server refuses to
start, because an open codec server decrypts anything for anyone.

Configuration (arguments win over the environment):

* keys: ``EXECBATCH_CODEC_KEYS`` / ``EXECBATCH_CODEC_KEY_FILE`` (see ``keys.py``)
* token: ``EXECBATCH_CODEC_SERVER_TOKEN``
* UI origins: ``EXECBATCH_CODEC_CORS_ORIGINS`` (comma-separated, default the
  dev server's UI, ``http://localhost:8233,http://127.0.0.1:8233``)
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
from collections.abc import Sequence
from typing import Annotated

import uvicorn
from fastapi import FastAPI, Header, HTTPException, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.converter import PayloadCodec

from execbatch.security.codec import CodecError, codec_from_env
from execbatch.security.keys import KeyConfigError
from execbatch.security.redaction import install_redaction

ENV_TOKEN = "EXECBATCH_CODEC_SERVER_TOKEN"
ENV_ORIGINS = "EXECBATCH_CODEC_CORS_ORIGINS"
DEFAULT_ORIGINS = ("http://localhost:8233", "http://127.0.0.1:8233")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8888
MAX_BODY_BYTES = 32 * 1024 * 1024

log = logging.getLogger("execbatch.codec_server")


def _origins_from_env() -> list[str]:
    raw = os.environ.get(ENV_ORIGINS, "")
    origins = [part.strip().rstrip("/") for part in raw.split(",") if part.strip()]
    return origins or list(DEFAULT_ORIGINS)


def token_matches(expected: str, authorization: str | None) -> bool:
    """Constant-time check of an ``Authorization: Bearer <token>`` header."""
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        presented = ""
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


def create_codec_app(codec: PayloadCodec, token: str, cors_origins: Sequence[str]) -> FastAPI:
    """The codec server as an ASGI app (``/encode``, ``/decode``, ``/health``)."""
    if not token:
        raise KeyConfigError("the codec server needs a non-empty auth token")
    app = FastAPI(title="execbatch codec server", docs_url=None, redoc_url=None)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(cors_origins),
        allow_methods=["POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Namespace"],
        allow_credentials=True,
        max_age=600,
    )

    async def payloads_of(request: Request, authorization: str | None) -> Payloads:
        if not token_matches(token, authorization):
            client = request.client.host if request.client else "?"
            log.warning(
                "refused %s %s from %s: bad or missing token",
                request.method,
                request.url.path,
                client,
            )
            raise HTTPException(
                status_code=401,
                detail="missing or invalid token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            raise HTTPException(status_code=413, detail="request too large")
        try:
            return json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise HTTPException(status_code=400, detail=f"not a Payloads JSON: {exc}") from None

    def answer(payloads: Sequence[Payload]) -> Response:
        message = Payloads(payloads=payloads)
        return Response(json_format.MessageToJson(message), media_type="application/json")

    @app.post("/encode")
    async def encode(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        incoming = await payloads_of(request, authorization)
        return answer(await codec.encode(list(incoming.payloads)))

    @app.post("/decode")
    async def decode(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
        x_namespace: Annotated[str | None, Header()] = None,
    ) -> Response:
        incoming = await payloads_of(request, authorization)
        try:
            decoded = await codec.decode(list(incoming.payloads))
        except CodecError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        log.info("decoded %d payload(s) for namespace %s", len(decoded), x_namespace or "?")
        return answer(decoded)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def run_codec_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    token: str | None = None,
    cors_origins: Sequence[str] | None = None,
    codec: PayloadCodec | None = None,
    log_level: str = "INFO",
) -> None:
    """Serve the codec server until interrupted (blocking).

    ``codec`` defaults to the one the environment configures, ``token`` to
    ``EXECBATCH_CODEC_SERVER_TOKEN`` and ``cors_origins`` to
    ``EXECBATCH_CODEC_CORS_ORIGINS``. Missing keys or token raise
    ``KeyConfigError`` before anything listens.
    """
    codec = codec or codec_from_env()
    if codec is None:
        raise KeyConfigError("no codec keys: set EXECBATCH_CODEC_KEYS or EXECBATCH_CODEC_KEY_FILE")
    token = token or os.environ.get(ENV_TOKEN, "")
    if not token:
        raise KeyConfigError(f"no auth token: set {ENV_TOKEN}")
    origins = list(cors_origins) if cors_origins is not None else _origins_from_env()
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
        )
    install_redaction([token])
    log.info(
        "codec server on http://%s:%d, UI origins %s, key ids %s",
        host,
        port,
        ", ".join(origins),
        codec,
    )
    uvicorn.run(
        create_codec_app(codec, token, origins),
        host=host,
        port=port,
        log_level=log_level.lower(),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m execbatch.security.codec_server",
        description="Temporal remote codec server (keys and token from the environment).",
    )
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=None,
        metavar="URL",
        help=f"Web UI origin allowed to call it (repeatable; default from {ENV_ORIGINS})",
    )
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    try:
        run_codec_server(
            args.host, args.port, cors_origins=args.cors_origin, log_level=args.log_level
        )
    except KeyConfigError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
