from execbatch.dtos.execution.batch_result import BatchResult, LegResult
from execbatch.dtos.execution.batch_run import BatchRunRequest, ExecutionSettings
from execbatch.dtos.execution.execution_command import ExecutionCommand
from execbatch.dtos.execution.execution_command_batch import ExecutionCommandBatch

__all__ = [
    "BatchResult",
    "BatchRunRequest",
    "ExecutionCommand",
    "ExecutionCommandBatch",
    "ExecutionSettings",
    "LegResult",
]
