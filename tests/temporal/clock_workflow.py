"""A workflow module that reads the wall clock when it is imported: the sandbox must
refuse it (it lives in a module of its own because the sandbox imports by module)."""

from __future__ import annotations

import datetime

from temporalio import workflow

IMPORTED_AT = datetime.datetime.now()


@workflow.defn
class ClockAtImportWorkflow:
    @workflow.run
    async def run(self) -> str:
        return IMPORTED_AT.isoformat()
