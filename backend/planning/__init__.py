from execbatch.planning.base_execution_planner import (
    BaseExecutionPlanner,
    PlanMismatchError,
    batch_id_for,
    check_plan_correspondence,
)

__all__ = ["BaseExecutionPlanner", "PlanMismatchError", "batch_id_for", "check_plan_correspondence"]
