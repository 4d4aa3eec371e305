"""Worker options a lever can change, and the Worker they build.

``WorkerOptions()`` with no change builds the same worker as ``worker.py``'s
``build_worker`` (same workflow, activities and limits), so each lever is
measured against exactly our worker.
"""

from __future__ import annotations

import argparse
import gc
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import PollerBehaviorSimpleMaximum, UnsandboxedWorkflowRunner, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from bench.levers.pooled_adapter import RoundRobinAdapter
from execbatch.activities.order_activities import OrderActivities
from execbatch.venue.adapters.paper import PaperVenueAdapter
from execbatch.venue.port.adapter import ExchangeAdapter
from execbatch.worker import PASSTHROUGH_MODULES, WORKFLOWS, workflow_runner


@dataclass
class WorkerOptions:
    max_cached_workflows: int | None = None
    max_concurrent_workflow_tasks: int = 100
    max_concurrent_activities: int = 200
    max_concurrent_local_activities: int | None = None
    workflow_pollers: int | None = None
    activity_pollers: int | None = None
    adapters: int = 1
    max_connections: int = 100
    unsandboxed: bool = False
    stub_sniffio: bool = False
    no_code_cache: bool = False
    gc_threshold: int | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--max-cached-workflows", type=int)
        parser.add_argument("--max-concurrent-workflow-tasks", type=int, default=100)
        parser.add_argument("--max-concurrent-activities", type=int, default=200)
        parser.add_argument("--max-concurrent-local-activities", type=int)
        parser.add_argument("--workflow-pollers", type=int)
        parser.add_argument("--activity-pollers", type=int)
        parser.add_argument("--adapters", type=int, default=1)
        parser.add_argument("--max-connections", type=int, default=100)
        parser.add_argument("--unsandboxed", action="store_true")
        parser.add_argument(
            "--gc-threshold",
            type=int,
            help="gc.freeze() after start-up and this generation-0 threshold (default 700)",
        )
        parser.add_argument(
            "--no-code-cache",
            action="store_true",
            help="sandboxed without execbatch.temporal.sandbox's code cache (before 0345252)",
        )
        parser.add_argument(
            "--stub-sniffio",
            action="store_true",
            help="mark sniffio absent in sys.modules (httpcore otherwise searches sys.path "
            "for it on every request when it is not installed)",
        )

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> WorkerOptions:
        return cls(
            max_cached_workflows=args.max_cached_workflows,
            max_concurrent_workflow_tasks=args.max_concurrent_workflow_tasks,
            max_concurrent_activities=args.max_concurrent_activities,
            max_concurrent_local_activities=args.max_concurrent_local_activities,
            workflow_pollers=args.workflow_pollers,
            activity_pollers=args.activity_pollers,
            adapters=args.adapters,
            max_connections=args.max_connections,
            unsandboxed=args.unsandboxed,
            stub_sniffio=args.stub_sniffio,
            no_code_cache=args.no_code_cache,
            gc_threshold=args.gc_threshold,
        )

    def adapter(self, venue_url: str, account: str) -> ExchangeAdapter:
        per_pool = max(1, self.max_connections // self.adapters)
        pools = [
            PaperVenueAdapter(venue_url, account=account, max_connections=per_pool)
            for _ in range(self.adapters)
        ]
        return pools[0] if len(pools) == 1 else RoundRobinAdapter(pools)

    def build(self, client: Client, task_queue: str, adapter: ExchangeAdapter) -> Worker:
        kwargs: dict[str, Any] = {
            "max_concurrent_workflow_tasks": self.max_concurrent_workflow_tasks,
            "max_concurrent_activities": self.max_concurrent_activities,
        }
        if self.max_cached_workflows is not None:
            kwargs["max_cached_workflows"] = self.max_cached_workflows
        if self.max_concurrent_local_activities is not None:
            kwargs["max_concurrent_local_activities"] = self.max_concurrent_local_activities
        if self.workflow_pollers is not None:
            kwargs["workflow_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
                self.workflow_pollers
            )
        if self.activity_pollers is not None:
            kwargs["activity_task_poller_behavior"] = PollerBehaviorSimpleMaximum(
                self.activity_pollers
            )
        if self.unsandboxed:
            kwargs["workflow_runner"] = UnsandboxedWorkflowRunner()
        elif self.no_code_cache:
            restrictions = SandboxRestrictions.default.with_passthrough_modules(
                *PASSTHROUGH_MODULES
            )
            kwargs["workflow_runner"] = SandboxedWorkflowRunner(restrictions=restrictions)
        else:
            kwargs["workflow_runner"] = workflow_runner()
        if self.gc_threshold is not None:
            gc.freeze()  # start-up objects never need collecting again
            gc.set_threshold(self.gc_threshold, 20, 20)
        if self.stub_sniffio and "sniffio" not in sys.modules:
            sys.modules["sniffio"] = None  # type: ignore[assignment]  # import fails fast
        return Worker(
            client,
            task_queue=task_queue,
            workflows=list(WORKFLOWS),
            activities=OrderActivities(adapter).all(),
            graceful_shutdown_timeout=timedelta(seconds=10),
            **kwargs,
        )
