"""An operator reads an encrypted batch in the Web UI through the codec server.

Headless Debian Chromium (never a downloaded browser) opens the dev server's
Web UI: with ``--ui-codec-endpoint`` pointing at our codec server and the
operator's token attached, the batch's input reads in plain text; without a
codec endpoint, or without the token, the UI only has ciphertext to show.
Screenshots go to .screenshots/security-*.png (docs/ with `./run screenshots`).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from execbatch.client.batch_client import BatchClient
from execbatch.config.connection import connect
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import BatchExecutionMode
from execbatch.security.codec import ENCODING, EncryptionCodec
from execbatch.venue.adapters.paper import PaperVenueAdapter
from execbatch.venue.paper.service.process import VenueProcess, free_port
from execbatch.worker import build_worker
from tests.browser import CHROMIUM, CHROMIUM_ARGS, screenshot_dir
from tests.security.batches import secret_document
from tests.security.stack import CodecServer, DevServer, SecretSet

DOCS = screenshot_dir()

pytestmark = [
    pytest.mark.browser,
    pytest.mark.devserver,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed"),
]


@pytest.fixture(scope="module")
def codec_ui(secret_set: SecretSet, security_logs: Path) -> Iterator[tuple[DevServer, CodecServer]]:
    """A dev server whose Web UI decodes through our codec server."""
    codec_port = free_port()
    server = DevServer(
        security_logs / "dev-server-codec-ui.log", codec_endpoint=f"http://127.0.0.1:{codec_port}"
    )
    codec_server = CodecServer(
        security_logs / "codec-server-ui.log", secret_set.env(), [server.ui_url], port=codec_port
    )
    with codec_server, server:
        yield server, codec_server


async def run_batch(
    address: str, codec: EncryptionCodec, venue: VenueProcess, secret_set: SecretSet
) -> str:
    client: Client = await connect(ExecbatchConfig(temporal={"target_host": address}), codec)
    queue = f"ui-{uuid.uuid4().hex[:8]}"
    adapter = PaperVenueAdapter(venue.base_url, api_key=secret_set.venue_api_key)
    try:
        async with build_worker(client, queue, adapter):
            batches = BatchClient(client, queue)
            submission = await batches.submit_document(
                secret_document(BatchExecutionMode.COORDINATED)
            )
            await submission.handle.result()
            return submission.batch.batch_id
    finally:
        await adapter.aclose()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


async def open_batch(
    browser: Any, ui_url: str, batch_id: str, token: str | None, codec_url: str | None
) -> Any:
    context = await browser.new_context(viewport={"width": 1400, "height": 1600})
    page = await context.new_page()
    if token and codec_url:

        async def with_token(route: Any) -> None:
            headers = {**route.request.headers, "authorization": f"Bearer {token}"}
            await route.continue_(headers=headers)

        await page.route(f"{codec_url}/**", with_token)
    await page.goto(f"{ui_url}/namespaces/default/workflows/{batch_id}", wait_until="networkidle")
    return page


def stored_input(server: DevServer, batch_id: str) -> str:
    """The workflow input exactly as the server stores it (base64 of the ciphertext)."""
    history = json.loads(
        server.cli("workflow", "show", "--workflow-id", batch_id, "--output", "json")
    )
    started = history["events"][0]["workflowExecutionStartedEventAttributes"]
    [payload] = started["input"]["payloads"]
    assert base64.b64decode(payload["metadata"]["encoding"]) == ENCODING
    data: str = payload["data"]
    return data


async def test_operator_with_token_reads_the_batch(
    browser: Any,
    codec_ui: tuple[DevServer, CodecServer],
    codec: EncryptionCodec,
    priced_venue: VenueProcess,
    secret_set: SecretSet,
) -> None:
    server, codec_server = codec_ui
    batch_id = await run_batch(server.address, codec, priced_venue, secret_set)
    page = await open_batch(
        browser, server.ui_url, batch_id, secret_set.codec_token, codec_server.url
    )
    await page.get_by_text("HUSHA").first.wait_for(timeout=30_000)
    await page.screenshot(path=str(DOCS / "security-ui-decoded.png"), full_page=True)
    assert "HUSHA" in await page.content()
    await page.context.close()


async def test_without_token_the_ui_shows_ciphertext(
    browser: Any,
    codec_ui: tuple[DevServer, CodecServer],
    codec: EncryptionCodec,
    priced_venue: VenueProcess,
    secret_set: SecretSet,
) -> None:
    server, codec_server = codec_ui
    batch_id = await run_batch(server.address, codec, priced_venue, secret_set)
    page = await open_batch(browser, server.ui_url, batch_id, None, codec_server.url)
    await page.get_by_text(stored_input(server, batch_id)[:32]).first.wait_for(timeout=30_000)
    await page.screenshot(path=str(DOCS / "security-ui-no-token.png"), full_page=True)
    assert "HUSHA" not in await page.content()
    await page.context.close()


async def test_without_codec_endpoint_the_ui_shows_ciphertext(
    browser: Any,
    dev_server: DevServer,
    codec: EncryptionCodec,
    priced_venue: VenueProcess,
    secret_set: SecretSet,
) -> None:
    batch_id = await run_batch(dev_server.address, codec, priced_venue, secret_set)
    page = await open_batch(browser, dev_server.ui_url, batch_id, None, None)
    ciphertext = stored_input(dev_server, batch_id)[:32]
    await page.get_by_text(ciphertext).first.wait_for(timeout=30_000)
    await page.screenshot(path=str(DOCS / "security-ui-encrypted.png"), full_page=True)
    assert "HUSHA" not in await page.content()
    await page.context.close()
