"""Which installed packages' fabrec-bench plugins may load: read from package metadata and the environment,
importing nothing (the CLI asks this before it decides whether to load the plugins at all)."""

from __future__ import annotations

import os
from importlib import metadata

ENTRY_POINT_GROUP = "fabrec_bench"


def allowed_entry_points() -> list[metadata.EntryPoint]:
    """The plugin entry points to load, by name: all of them, or those FABREC_BENCH_LOAD_PLUGINS names (by entry
    point or package name, comma-separated; empty: none)."""
    env = os.environ.get("FABREC_BENCH_LOAD_PLUGINS")
    allow = None if env is None else {s.strip() for s in env.split(",") if s.strip()}
    return [ep for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name)
            if _allowed(ep, allow)]


def _allowed(ep: metadata.EntryPoint, allow: set[str] | None) -> bool:
    if allow is None:
        return True
    dist = ep.dist.name if ep.dist else ""
    return ep.name in allow or dist in allow or dist.replace("_", "-") in allow
