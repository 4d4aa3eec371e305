"""Settlement of batches whose run Temporal closed without a result (hard timeout,
terminate, failure): see ``sweeper``."""

from execbatch.recovery.sweeper import UnsettledBatchSweeper, start_sweeper

__all__ = ["UnsettledBatchSweeper", "start_sweeper"]
