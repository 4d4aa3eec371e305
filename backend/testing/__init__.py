"""execbatch's testing kit: test your own batches against a real paper venue.

``BatchTestKit`` starts (or shares) the time-skipping Temporal test server,
the paper venue process and a worker, and gives a test the typed helpers it
needs: run a directive, read positions and orders, script venue faults,
move prices and the clock. ``execbatch.testing.pytest_plugin`` provides the
``batch_kit`` fixture. See docs/TESTING.md.
"""

from execbatch.testing.clock import KitClock, TimeHeldByActivity
from execbatch.testing.documents import (
    BatchInput,
    as_document,
    placement_id_of,
    unique_document,
    with_policy,
)
from execbatch.testing.environment import (
    BatchTestEnvironment,
    register_search_attributes,
    start_time_skipping_environment,
)
from execbatch.testing.kit import TEST_SETTINGS, BatchTestKit, DirectiveIdReused
from execbatch.testing.scripting import VenueScript

__all__ = [
    "TEST_SETTINGS",
    "BatchInput",
    "BatchTestEnvironment",
    "BatchTestKit",
    "DirectiveIdReused",
    "KitClock",
    "TimeHeldByActivity",
    "VenueScript",
    "as_document",
    "placement_id_of",
    "register_search_attributes",
    "start_time_skipping_environment",
    "unique_document",
    "with_policy",
]
