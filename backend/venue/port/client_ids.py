"""Client order ids a venue accepts, derived from ours deterministically.

Our ids (``batch-d-42:c1:place``) can be up to ~240 characters and use ``:``;
Alpaca takes 128 characters, Binance spot 36 from ``[A-Za-z0-9_-]``. An id
that fits the venue's rules is sent as it is; one that does not is replaced by
a derivation that never depends on anything but the id (never random), so the
batch alone recovers it: the id's last characters (letters and digits, other
runs as ``-``), ``-``, and 20 characters of the lower-case base32 SHA-256 of
the full id (100 bits: a collision between two ids of one account is not a
practical concern). Adapters send the derived id and report orders under ours.
"""

from __future__ import annotations

import base64
import hashlib
import re

HASH_CHARS = 20


def venue_client_order_id(client_order_id: str, *, max_length: int, pattern: str) -> str:
    """The id sent to the venue for ``client_order_id``: itself when it fits."""
    if len(client_order_id) <= max_length and re.fullmatch(pattern, client_order_id):
        return client_order_id
    digest = base64.b32encode(hashlib.sha256(client_order_id.encode()).digest())
    tag = digest.decode().rstrip("=").lower()[:HASH_CHARS]
    slug = re.sub(r"[^A-Za-z0-9]+", "-", client_order_id).strip("-")
    room = max_length - HASH_CHARS - 1
    head = slug[-room:] if room > 0 else ""
    if room > 0 and len(slug) > room and slug[-room - 1] != "-" and "-" in head:
        head = head.split("-", 1)[1]  # start at a word, not inside one
    head = head.strip("-")
    derived = f"{head}-{tag}" if head else tag
    if not re.fullmatch(pattern, derived) or len(derived) > max_length:
        raise ValueError(f"cannot derive an id matching {pattern} from {client_order_id!r}")
    return derived
