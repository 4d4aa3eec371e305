"""Worker Versioning: which Worker Deployment Version a worker is, and which one is current.

A worker with ``EXECBATCH_DEPLOYMENT_NAME`` set polls as version
``<deployment name>.<build id>``. Its workflows, the batch workflow, are
PINNED (the worker's default versioning behaviour, ``deployment_config``; it
is not set on the ``@workflow.defn``, where it would make an unversioned
worker fail every workflow task): a batch runs to its end on the version it
started on, while new batches go to the deployment's *current* version. A
rolling deploy is therefore: start the new version's workers beside the old
ones, make it current (``temporal worker deployment set-current-version``, or
``set_current_version`` here), and stop the old workers once their batches
have drained (docs/OPERATING.md).

The first version of a deployment has nobody to take over from: a worker
makes itself current when the deployment has no current version yet
(``make_current_if_unset``), so ``execbatch dev`` and docker-compose need no
manual step.
"""

from __future__ import annotations

from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import VersioningBehavior, WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import WorkerDeploymentConfig
from temporalio.worker._worker import load_default_build_id

from execbatch.config.environment import ExecbatchConfig


def deployment_version(config: ExecbatchConfig) -> WorkerDeploymentVersion | None:
    """This worker's version, or None when it runs unversioned."""
    if not config.deployment_name:
        return None
    return WorkerDeploymentVersion(
        deployment_name=config.deployment_name,
        build_id=config.build_id or load_default_build_id(),
    )


def deployment_config(version: WorkerDeploymentVersion | None) -> WorkerDeploymentConfig | None:
    """``Worker(deployment_config=...)`` for ``version`` (None: unversioned)."""
    if version is None:
        return None
    return WorkerDeploymentConfig(
        version=version,
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.PINNED,
    )


async def current_build_id(client: Client, deployment_name: str) -> str | None:
    """The build id of the deployment's current version (None: none yet, or no deployment)."""
    try:
        answer = await client.workflow_service.describe_worker_deployment(
            DescribeWorkerDeploymentRequest(
                namespace=client.namespace, deployment_name=deployment_name
            )
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return None
        raise
    current = answer.worker_deployment_info.routing_config.current_deployment_version
    return current.build_id or None


async def set_current_version(
    client: Client, version: WorkerDeploymentVersion, *, allow_no_pollers: bool = False
) -> None:
    """Make ``version`` current: every new batch goes to it from now on.

    ``allow_no_pollers``: also before any worker of it has polled (the first
    version, made current before its workers start polling)."""
    await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace,
            deployment_name=version.deployment_name,
            build_id=version.build_id,
            identity=client.identity,
            allow_no_pollers=allow_no_pollers,
        )
    )


async def make_current_if_unset(client: Client, version: WorkerDeploymentVersion) -> bool:
    """Make ``version`` current if its deployment has no current version; returns whether
    it did. The server only knows a version once one of its workers has polled."""
    if await current_build_id(client, version.deployment_name) is not None:
        return False
    await set_current_version(client, version, allow_no_pollers=True)
    return True
