from backend.dtos.execution.execution_command import ExecutionCommand
from backend.dtos.execution.execution_command_batch import ExecutionCommandBatch

__all__ = ["ExecutionCommand", "ExecutionCommandBatch"]
