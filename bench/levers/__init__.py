"""``python -m bench.levers``: measure each lever (a worker or client change) on one stack.

The levers' own code lives here beside the runner: ``worker`` (a worker whose
options a lever changes), ``worker_options``, ``eager`` (an in-process worker
with eager start). Nothing here is used by the product; docs/BENCHMARK.md says
which levers paid and were built into it.
"""
