"""The custom search attributes a batch upserts, so operators can filter by them."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

BATCH_MODE = SearchAttributeKey.for_keyword("BatchMode")
BATCH_STATUS = SearchAttributeKey.for_keyword("BatchStatus")

ALL_KEYS = (BATCH_MODE, BATCH_STATUS)


def dev_server_flags() -> list[str]:
    """``--search-attribute`` flags registering them on ``temporal server start-dev``."""
    flags: list[str] = []
    for key in ALL_KEYS:
        flags += ["--search-attribute", f"{key.name}=Keyword"]
    return flags
