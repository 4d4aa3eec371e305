"""The front door for strategy code: connect, submit, follow, cancel, read the outcome.

    from execbatch.client import BatchClient

    batches = await BatchClient.connect()          # the environment the CLI reads
    submission = await batches.submit(directive, commands)
    result = await batches.result(submission.batch.batch_id)

``BatchClient.connect()`` reads what ``execbatch`` and ``execbatch worker`` read
(Temporal's ``TEMPORAL_*`` configuration, ``EXECBATCH_TASK_QUEUE``,
``EXECBATCH_VENUE_ACCOUNT``); a server it cannot reach is one ``TemporalUnreachable``
naming the address and what to check. ``EmbeddedExecutor`` runs a worker in the
strategy's own process; ``run_and_exit(main())`` ends a script that used a client
without the Temporal SDK's occasional crash at interpreter exit. Everything a caller
needs to build a directive and read a result is importable from here; README.md,
"From your strategy", has a whole script.
"""

from execbatch.client.batch_client import (
    BatchAlreadyFinal,
    BatchClient,
    BatchHandle,
    BatchRecoveryPending,
    BatchSummary,
    DirectiveConflict,
    NothingToSettle,
    Submission,
)
from execbatch.client.embedded import EmbeddedExecutor
from execbatch.client.trading import TradingControl, TradingRefused
from execbatch.config.connection import TemporalUnreachable
from execbatch.config.environment import ExecbatchConfig
from execbatch.core.enums import (
    BatchExecutionMode,
    BatchStatus,
    LegStatus,
    OrderSide,
    OrderType,
    TimeInForce,
)
from execbatch.dtos.directive_document import DirectiveDocument
from execbatch.dtos.execution import BatchResult, ExecutionCommand, ExecutionSettings, LegResult
from execbatch.dtos.strategy import ExecutionPolicy, StrategyDirective
from execbatch.temporal.process_exit import run_and_exit

__all__ = [
    "BatchAlreadyFinal",
    "BatchClient",
    "BatchExecutionMode",
    "BatchHandle",
    "BatchRecoveryPending",
    "BatchResult",
    "BatchStatus",
    "BatchSummary",
    "DirectiveConflict",
    "DirectiveDocument",
    "EmbeddedExecutor",
    "ExecbatchConfig",
    "ExecutionCommand",
    "ExecutionPolicy",
    "ExecutionSettings",
    "LegResult",
    "LegStatus",
    "NothingToSettle",
    "OrderSide",
    "OrderType",
    "StrategyDirective",
    "Submission",
    "TemporalUnreachable",
    "TimeInForce",
    "TradingControl",
    "TradingRefused",
    "run_and_exit",
]
