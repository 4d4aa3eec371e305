"""Recovery of batches that Temporal's hard execution timeout ended mid-flight."""

from backend.recovery.sweeper import TimedOutBatchSweeper

__all__ = ["TimedOutBatchSweeper"]
