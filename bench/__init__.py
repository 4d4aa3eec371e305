"""Benchmarks (run as modules, e.g. ``python -m bench.venue_bench``); not tests."""
