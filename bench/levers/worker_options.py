"""Worker options a lever can change, and the Worker they build.

Every worker is built by the product's own ``execbatch.worker.build_worker``
(same workflows, activities, interceptors, risk gate), so a lever changes only
what it names: ``WorkerOptions()`` with no change is exactly ``worker.py``'s
worker.
"""

from __future__ import annotations

import argparse
import gc
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from execbatch.venue.adapters.paper import PaperVenueAdapter
from execbatch.venue.port.adapter import ExchangeAdapter
from execbatch.worker import build_worker


@dataclass
class WorkerOptions:
    max_concurrent_workflow_tasks: int = 100
    max_concurrent_activities: int = 200
    workflow_threads: int | None = None
    unsandboxed: bool = False
    max_connections: int = 100
    gc_threshold: int | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--max-concurrent-workflow-tasks", type=int, default=100)
        parser.add_argument("--max-concurrent-activities", type=int, default=200)
        parser.add_argument(
            "--workflow-threads", type=int, help="threads running workflow activations"
        )
        parser.add_argument("--unsandboxed", action="store_true")
        parser.add_argument("--max-connections", type=int, default=100)
        parser.add_argument(
            "--gc-threshold",
            type=int,
            help="gc.freeze() after start-up and this generation-0 threshold (default 700)",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WorkerOptions:
        return cls(
            max_concurrent_workflow_tasks=args.max_concurrent_workflow_tasks,
            max_concurrent_activities=args.max_concurrent_activities,
            workflow_threads=args.workflow_threads,
            unsandboxed=args.unsandboxed,
            max_connections=args.max_connections,
            gc_threshold=args.gc_threshold,
        )

    def adapter(self, venue_url: str, account: str) -> ExchangeAdapter:
        return PaperVenueAdapter(venue_url, account=account, max_connections=self.max_connections)

    def build(self, client: Client, task_queue: str, adapter: ExchangeAdapter) -> Worker:
        if self.gc_threshold is not None:
            gc.freeze()  # start-up objects never need collecting again
            gc.set_threshold(self.gc_threshold, 20, 20)
        return build_worker(
            client,
            task_queue,
            adapter,
            max_concurrent_activities=self.max_concurrent_activities,
            max_concurrent_workflow_tasks=self.max_concurrent_workflow_tasks,
            workflow_threads=self.workflow_threads,
            sandbox=not self.unsandboxed,
        )
