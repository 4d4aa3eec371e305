"""The naive-Temporal reference: what a newcomer writes from the Temporal Python samples.

One regular activity per leg (httpx to the venue), ``asyncio.gather`` in the
workflow, dataclass payloads on the default data converter, a ``Worker`` with
default options, its own task queue and worker process. Correct (idempotent
client order ids, a revert on failure for COORDINATED), but untuned.
"""
