"""The floor: the cheapest batch any Temporal-based executor can run on the same stack."""
