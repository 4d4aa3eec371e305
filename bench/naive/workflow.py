"""The naive batch workflow: gather one activity per leg (a loop for SEQUENTIAL)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from bench.naive.activities import VenueActivities
    from bench.naive.shared import WORKFLOW_NAME, NaiveBatch, NaiveLeg, NaiveResult

TIMEOUT = timedelta(seconds=10)


@workflow.defn(name=WORKFLOW_NAME)
class NaiveBatchWorkflow:
    @workflow.run
    async def run(self, batch: NaiveBatch) -> NaiveResult:
        if batch.mode == "SEQUENTIAL":
            statuses: list[str] = []
            for leg in batch.legs:
                statuses.append(await self._place(leg))
                if statuses[-1] != "FILLED":
                    break
        else:
            statuses = list(await asyncio.gather(*(self._place(leg) for leg in batch.legs)))
        if batch.mode == "COORDINATED" and any(s != "FILLED" for s in statuses):
            reverts = [
                replace(
                    leg,
                    client_order_id=f"{leg.client_order_id}-revert",
                    side="SELL" if leg.side == "BUY" else "BUY",
                )
                for leg, s in zip(batch.legs, statuses, strict=True)
                if s == "FILLED"
            ]
            await asyncio.gather(*(self._place(leg) for leg in reverts))
        return NaiveResult(batch_id=batch.batch_id, statuses=statuses)

    async def _place(self, leg: NaiveLeg) -> str:
        return await workflow.execute_activity_method(
            VenueActivities.place_order, leg, start_to_close_timeout=TIMEOUT
        )
