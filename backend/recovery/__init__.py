"""Recovery of batches that Temporal's hard execution timeout ended mid-flight."""

from execbatch.recovery.sweeper import TimedOutBatchSweeper, start_sweeper

__all__ = ["TimedOutBatchSweeper", "start_sweeper"]
