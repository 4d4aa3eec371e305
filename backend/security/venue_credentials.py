"""The venue's API keys, read from the same environment by the venue and its clients.

* ``EXECBATCH_VENUE_API_KEY``: the trading secret (orders, positions,
  accounts). The venue accepts a comma-separated list (rotation: add the new
  key, move clients over, drop the old one); clients sign with the first.
* ``EXECBATCH_VENUE_ADMIN_KEY``: the admin secret (``/admin/*``; it also
  works on the trading endpoints). Same list rule.
* ``EXECBATCH_VENUE_SIGNATURE_WINDOW``: seconds a signature stays valid
  (default 60).

Neither set: the venue runs unauthenticated (development only) and clients
send no signature, so a venue and a worker started from the same environment
always interoperate. Only one set is a configuration error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from execbatch.security.keys import KeyConfigError
from execbatch.security.signing import DEFAULT_WINDOW_SECONDS

ENV_API_KEY = "EXECBATCH_VENUE_API_KEY"
ENV_ADMIN_KEY = "EXECBATCH_VENUE_ADMIN_KEY"
ENV_WINDOW = "EXECBATCH_VENUE_SIGNATURE_WINDOW"


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class VenueCredentials:
    """Accepted keys per role; ``repr`` says how many, never which."""

    api_keys: tuple[str, ...] = field(default=(), repr=False)
    admin_keys: tuple[str, ...] = field(default=(), repr=False)
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VenueCredentials:
        env = os.environ if environ is None else environ
        raw_window = env.get(ENV_WINDOW, "").strip()
        try:
            window = float(raw_window) if raw_window else DEFAULT_WINDOW_SECONDS
        except ValueError:
            raise KeyConfigError(f"{ENV_WINDOW} must be a number of seconds") from None
        if window <= 0:
            raise KeyConfigError(f"{ENV_WINDOW} must be positive")
        return cls(_split(env.get(ENV_API_KEY)), _split(env.get(ENV_ADMIN_KEY)), window)

    @property
    def enabled(self) -> bool:
        return bool(self.api_keys or self.admin_keys)

    def check_complete(self) -> None:
        """A venue with one role's keys but not the other's is misconfigured."""
        if self.enabled and not (self.api_keys and self.admin_keys):
            missing = ENV_ADMIN_KEY if self.api_keys else ENV_API_KEY
            raise KeyConfigError(
                f"venue authentication is half configured: set {missing} as well "
                f"(or neither {ENV_API_KEY} nor {ENV_ADMIN_KEY} for an open dev venue)"
            )

    @property
    def api_signing_key(self) -> str | None:
        return self.api_keys[0] if self.api_keys else None

    @property
    def admin_signing_key(self) -> str | None:
        return self.admin_keys[0] if self.admin_keys else None

    def __repr__(self) -> str:
        return (
            f"VenueCredentials(api_keys={len(self.api_keys)}, "
            f"admin_keys={len(self.admin_keys)}, window_seconds={self.window_seconds})"
        )


__all__ = ["ENV_ADMIN_KEY", "ENV_API_KEY", "ENV_WINDOW", "VenueCredentials"]
