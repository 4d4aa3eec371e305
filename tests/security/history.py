"""Reading payloads out of a history as ``temporal workflow show --output json`` prints it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PLAIN_PAYLOAD_PARENTS = frozenset({"indexedFields"})
"""Search attributes must stay plain for the server to index them."""


@dataclass(frozen=True)
class FoundPayload:
    path: str
    metadata: dict[str, bytes]
    data: bytes

    @property
    def encoding(self) -> str:
        return self.metadata.get("encoding", b"").decode()

    def as_proto_json(self) -> dict[str, Any]:
        return {
            "metadata": {k: base64.b64encode(v).decode() for k, v in self.metadata.items()},
            "data": base64.b64encode(self.data).decode(),
        }


def _is_payload(node: dict[str, Any]) -> bool:
    metadata = node.get("metadata")
    return isinstance(metadata, dict) and "encoding" in metadata


def payloads(node: Any, path: str = "") -> Iterator[FoundPayload]:
    """Every payload in a history JSON, except search attributes."""
    if isinstance(node, dict):
        if _is_payload(node):
            yield FoundPayload(
                path=path,
                metadata={k: base64.b64decode(v) for k, v in node["metadata"].items()},
                data=base64.b64decode(node.get("data", "")),
            )
            return
        for key, value in node.items():
            if key in PLAIN_PAYLOAD_PARENTS:
                continue
            yield from payloads(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from payloads(value, f"{path}[{index}]")


def load_history(text: str) -> Any:
    return json.loads(text)
