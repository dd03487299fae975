"""Published (reported) results: a bundled, cited table, plus any the user supplies in the same TOML format.

They are shown beside measured leaderboard rows, clearly marked as reported, and never averaged, ranked or
plotted together with measured numbers.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fabrec_bench.errors import UserError, refuse_unknown

REQUIRED = {"model": str, "dataset": str, "split": str, "metric": str, "value": (int, float), "paper": str,
            "where": str}
OPTIONAL = {"normaliser": str, "protocol": str, "threshold": (int, float), "train_count": int, "note": str}


@dataclass(frozen=True)
class ReportedResult:
    model: str
    dataset: str
    split: str
    metric: str
    value: float  # as printed in the paper (NME and FR in percent)
    paper: str
    where: str
    normaliser: str | None = None
    protocol: str | None = None  # the protocol that produced the number (`fabrec-bench protocols`), if known
    threshold: float | None = None
    train_count: int | None = None
    note: str = ""


def _parse(text: str, source: str) -> list[ReportedResult]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{source}: not valid TOML ({e})") from None
    refuse_unknown(data, {"result"}, f"{source} (expected [[result]] tables)", "key")
    out = []
    for i, entry in enumerate(data.get("result", [])):
        where = f"{source}: result[{i}]"
        if not isinstance(entry, dict):
            raise UserError(f"{where} must be a table")
        refuse_unknown(entry, {*REQUIRED, *OPTIONAL}, where, "key")
        for key, kind in REQUIRED.items():
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                raise UserError(f"{where}: '{key}' is required and must be {_kind_name(kind)}, got {entry.get(key)!r}")
        for key, kind in OPTIONAL.items():
            if key in entry and (not isinstance(entry[key], kind) or isinstance(entry[key], bool)):
                raise UserError(f"{where}: '{key}' must be {_kind_name(kind)}, got {entry[key]!r}")
        if not math.isfinite(entry["value"]):
            raise UserError(f"{where}: value {entry['value']!r} is not a finite number")
        out.append(ReportedResult(**{**entry, "value": float(entry["value"])}))
    return out


def _kind_name(kind) -> str:
    return "a number" if kind == (int, float) else {str: "a string", int: "an integer"}[kind]


def bundled() -> list[ReportedResult]:
    """The cited table shipped with fabrec-bench."""
    text = (Path(__file__).parent / "reference_results.toml").read_text(encoding="utf-8")
    return _parse(text, "fabrec_bench/reports/reference_results.toml")


def load(path: Path) -> list[ReportedResult]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read reference results ({e})") from None
    return _parse(text, str(path))


def matching(results: list[ReportedResult], *, dataset: str | None = None, split: str | None = None,
             model: str | None = None) -> list[ReportedResult]:
    return [r for r in results if (dataset is None or r.dataset == dataset) and (split is None or r.split == split)
            and (model is None or r.model == model)]
