from backend.dtos.execution.batch_result import BatchResult, LegResult
from backend.dtos.execution.batch_run import BatchRunRequest, ExecutionSettings
from backend.dtos.execution.execution_command import ExecutionCommand
from backend.dtos.execution.execution_command_batch import ExecutionCommandBatch

__all__ = [
    "BatchResult",
    "BatchRunRequest",
    "ExecutionCommand",
    "ExecutionCommandBatch",
    "ExecutionSettings",
    "LegResult",
]
