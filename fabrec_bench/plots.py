"""Figures from stored results: cumulative error distribution (CED) curves with AUC and FR in the legend.

Curves are drawn from the per-face NME every run stores, so other thresholds need no re-run. Written with
matplotlib's Agg backend (never a window); the file extension picks the format (.png, .svg, .pdf).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fabrec_bench.store import RunRecord
from fabrec_bench_plugins.metrics.nme import area_under_ced, ced, failure_rate


def ced_plot(curves: list[tuple[str, np.ndarray]], path: Path, *, threshold: float = 0.1, auc_rule: str = "trapezoid",
             title: str = "") -> Path:
    """Plot one CED curve per (label, per-face NME) pair up to `threshold`; returns the written path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.linspace(0, threshold, 401)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, nme in sorted(curves, key=lambda c: -area_under_ced(c[1], threshold, auc_rule)):
        auc = area_under_ced(nme, threshold, auc_rule)
        fr = failure_rate(nme, threshold)
        ax.plot(100 * x, ced(nme, x), linewidth=1.8,
                label=f"{label}: AUC@{threshold:g} {auc:.4f}, FR@{threshold:g} {100 * fr:.2f} %")
    ax.set_xlim(0, 100 * threshold)
    ax.set_ylim(0, 1)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("fraction of faces")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def run_label(run: RunRecord) -> str:
    variant = run.model_info.get("variant")
    name = f"{run.model} ({variant})" if variant else run.model
    size = "" if run.train_count is None else f", N={run.train_count}"
    return f"{name}{size}"
