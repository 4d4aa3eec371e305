"""The paper venue: a simulated exchange in its own process (``service``), and the
HTTP contract it speaks beside the orders (``wire``). Its adapter is
``execbatch.venue.adapters.paper``."""
