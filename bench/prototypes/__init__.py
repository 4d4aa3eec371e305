"""Prototypes of worker/client changes, measured by ``python -m bench.levers``.

Nothing here is used by the product; each prototype is the smallest change
that lets a lever be measured, and docs/BENCHMARK.md says which ones paid.
"""
