from execbatch.dtos.strategy.strategy_directive import ExecutionPolicy, StrategyDirective

__all__ = ["ExecutionPolicy", "StrategyDirective"]
