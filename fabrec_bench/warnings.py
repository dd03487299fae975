"""User-facing warnings: printed to stderr once each, never fatal."""

from __future__ import annotations

import sys

_seen: set[str] = set()


def warn(message: str) -> None:
    """Print 'Warning: message' to stderr (each distinct message once per process)."""
    if message in _seen:
        return
    _seen.add(message)
    print(f"Warning: {message}", file=sys.stderr)
