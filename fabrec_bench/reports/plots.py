"""Figures from stored results: cumulative error distribution (CED) curves with AUC and FR in the legend, NME
per WFLW attribute subset as grouped bars, few-shot curves (NME vs. training-set size, mean ± std over seeds),
and per-landmark error drawn on the mean face.

Curves are drawn from the per-face NME every run stores, so other thresholds need no re-run. Written with
matplotlib's Agg backend (never a window); the file extension picks the format (.png, .svg, .pdf).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fabrec_bench.metrics import area_under_ced, ced, failure_rate


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    _pyplot().close(fig)
    return path


CED_AXIS_CAP = 2.0  # NME 200 %: beyond that a curve says nothing a table does not


def ced_axis_extent(curves: list[tuple[str, np.ndarray]], threshold: float) -> float:
    """The CED plot's x extent: the threshold, unless some curve has no face under it."""
    stuck = [np.asarray(nme, dtype=float) for _, nme in curves
             if np.size(nme) and not (np.asarray(nme, dtype=float) <= threshold).any()]
    finite = [n[np.isfinite(n)] for n in stuck]
    finite = [n for n in finite if n.size]
    if not finite:
        return threshold
    return float(min(max(np.percentile(n, 95) for n in finite) * 1.05, CED_AXIS_CAP))


def ced_plot(curves: list[tuple[str, np.ndarray]], path: Path, *, threshold: float = 0.1, auc_rule: str = "trapezoid",
             title: str = "") -> Path:
    """Plot one CED curve per (label, per-face NME) pair up to `threshold`; returns the written path.

    A curve with no face under the threshold would be a flat line at 0: then the axis extends to where the
    curves rise (the 95th percentile of the worst curve's NME, at most CED_AXIS_CAP), and the threshold, which
    AUC and FR still use, is marked."""
    plt = _pyplot()
    xmax = ced_axis_extent(curves, threshold)
    x = np.linspace(0, xmax, 401)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, nme in sorted(curves, key=lambda c: -area_under_ced(c[1], threshold, auc_rule)):
        auc = area_under_ced(nme, threshold, auc_rule)
        fr = failure_rate(nme, threshold)
        ax.plot(100 * x, ced(nme, x), linewidth=1.8,
                label=f"{label}: AUC@{threshold:g} {auc:.4f}, FR@{threshold:g} {100 * fr:.2f} %")
    if xmax > threshold:
        ax.axvline(100 * threshold, color="0.3", linestyle="--", linewidth=1)
        ax.annotate(f"threshold {100 * threshold:g} %", (100 * threshold, 0.5), rotation=90, fontsize=8,
                    xytext=(3, 0), textcoords="offset points", va="center")
    ax.set_xlim(0, 100 * xmax)
    ax.set_ylim(0, 1)
    ax.set_xlabel("NME (%)")
    ax.set_ylabel("fraction of faces")
    ax.grid(alpha=0.3)
    if xmax > threshold:  # the curves cross the whole plot: the legend goes below it
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, frameon=False)
        fig.set_size_inches(6, 4.5 + 0.22 * len(curves))
    else:
        ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def attribute_bars(values: dict[str, dict[str, float]], splits: list[str], path: Path, *, title: str = "",
                   ylabel: str = "NME (%)") -> Path:
    """Grouped bars: one group per split (e.g. the WFLW attribute subsets), one bar per model.

    `values` maps model label -> split -> value (already in display units); missing values leave a gap.
    """
    plt = _pyplot()
    labels = list(values)
    width = 0.8 / max(len(labels), 1)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(splits) + 2), 4.5))
    x = np.arange(len(splits))
    for i, label in enumerate(labels):
        heights = [values[label].get(s, np.nan) for s in splits]
        bars = ax.bar(x - 0.4 + width * (i + 0.5), heights, width, label=label)
        crowded = len(labels) > 3  # upright labels would overlap their neighbours
        ax.bar_label(bars, fmt="%.1f", fontsize=6 if crowded else 7, padding=1, rotation=90 if crowded else 0)
    ax.set_xticks(x, splits)
    ax.set_ylabel(ylabel)
    ax.margins(y=0.12)  # room for the value labels
    ax.grid(axis="y", alpha=0.3)
    # Below the axes: inside, it covers the tallest bars' value labels.
    ax.legend(fontsize=8, ncol=2 if len(labels) > 3 else 1, loc="upper center", bbox_to_anchor=(0.5, -0.08),
              frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def fewshot_plot(series: dict[str, list[tuple[int, float, float]]], path: Path, *, title: str = "",
                 ylabel: str = "NME (%)") -> Path:
    """NME against the number of training images on a log x axis: one line per model, (N, mean, std) points,
    with a ±std band over seeds."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for label, points in series.items():
        points = sorted(points)
        n = np.array([p[0] for p in points], dtype=float)
        mean = np.array([p[1] for p in points])
        std = np.array([p[2] for p in points])
        line, = ax.plot(n, mean, marker="o", linewidth=1.8, label=label)
        ax.fill_between(n, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xscale("log")
    # Ticks at the training sizes that were run, written as numbers (not 2×10¹): the reader looks them up.
    sizes = sorted({int(p[0]) for points in series.values() for p in points})
    ax.set_xticks(sizes, [str(n) for n in sizes])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.set_xlabel("training images (log scale)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def landmark_error_plot(errors: np.ndarray, face: np.ndarray, path: Path, *, title: str = "") -> Path:
    """Per-landmark NME (fractions, shown in percent) drawn on the mean face (box coordinates, y down):
    each landmark a disc whose colour and size grow with its error."""
    plt = _pyplot()
    errors = 100 * np.asarray(errors, dtype=float)
    face = np.asarray(face, dtype=float)
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    finite = np.isfinite(errors)
    top = float(np.nanmax(errors)) if finite.any() else 1.0
    sizes = 20 + 180 * np.where(finite, errors, 0) / max(top, 1e-9)
    points = ax.scatter(face[finite, 0], face[finite, 1], c=errors[finite], s=sizes[finite], cmap="viridis",
                        edgecolors="k", linewidths=0.4, zorder=2)
    if (~finite).any():
        ax.scatter(face[~finite, 0], face[~finite, 1], marker="x", color="red", zorder=2, label="never scored")
        ax.legend(fontsize=8)
    fig.colorbar(points, ax=ax, shrink=0.8, label="NME (%)")
    ax.set_aspect("equal")
    ax.invert_yaxis()
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or "per-landmark NME on the mean face")
    fig.tight_layout()
    return _save(fig, path)



