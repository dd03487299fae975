"""The series behind every figure, built one way for `fabrec-bench plot` and `fabrec-bench demo`: from
leaderboard rows (one per configuration, seeds averaged) to the curves, bars and few-shot points that
fabrec_bench.reports.plots draws, each labelled as its leaderboard row is.

A series' label is the row's (model, training size, non-default precision); the protocol joins it only when
the rows given were scored under more than one, so numbers of two protocols never share a line unlabelled.
"""

from __future__ import annotations

import numpy as np

from fabrec_bench.reports.leaderboard import LeaderboardRow, protocol_label, row_label
from fabrec_bench.store import ResultsStore


def _labeller(rows: list[LeaderboardRow], with_size: bool = True):
    several = len({protocol_label(r.protocol) for r in rows}) > 1

    def label(row: LeaderboardRow) -> str:
        name = row_label(row) if with_size else row.model
        return f"{name} ({protocol_label(row.protocol)})" if several else name

    return label


def ced_curves(store: ResultsStore, rows: list[LeaderboardRow]) -> list[tuple[str, np.ndarray]]:
    """One CED curve per row: the per-face NME of every run the row averages (all its seeds)."""
    label = _labeller(rows)
    return [(label(row), np.concatenate([list(store.face_errors(run.id).values()) for run in row.runs]))
            for row in rows if row.runs]


def subset_bars(rows: list[LeaderboardRow], splits: list[str], metric: str = "nme") -> dict[str, dict[str, float]]:
    """Grouped bars: each row's metric (percent) on each of `splits`, by the row's label."""
    label = _labeller(rows)
    values: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.split in splits and metric in row.metrics:
            values.setdefault(label(row), {})[row.split] = 100 * row.metrics[metric]
    return values


def fewshot_series(rows: list[LeaderboardRow], split: str, metric: str = "nme"
                   ) -> dict[str, list[tuple[int, float, float]]]:
    """Few-shot lines: per model (training size on the x axis), (N, mean, std over seeds) in percent on
    `split`."""
    on_split = [r for r in rows if r.split == split and r.train_count is not None and metric in r.metrics]
    label = _labeller(on_split, with_size=False)
    series: dict[str, list[tuple[int, float, float]]] = {}
    for row in on_split:
        series.setdefault(label(row), []).append((row.train_count, 100 * row.metrics[metric],
                                                  100 * row.metrics_std.get(metric, 0.0)))
    return series
