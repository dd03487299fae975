"""Malformed annotations: stop at the first, skip and count them, or collect them all (`datasets check`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from fabrec_bench.errors import AnnotationError
from fabrec_bench.warnings import warn

_collector: ContextVar[list[AnnotationError] | None] = ContextVar("fabrec_bench_problems", default=None)


def bad_line(error: AnnotationError, skip_bad: bool) -> None:
    """Called by adapters for each malformed line: raise it, or record/skip it and let the adapter go on."""
    collected = _collector.get()
    if collected is not None:
        collected.append(error)
        return
    if not skip_bad:
        raise error
    warn(f"skipped {error}")


@contextmanager
def collect_problems() -> Iterator[list[AnnotationError]]:
    """Within this block, adapters record every malformed line here instead of raising."""
    problems: list[AnnotationError] = []
    token = _collector.set(problems)
    try:
        yield problems
    finally:
        _collector.reset(token)
