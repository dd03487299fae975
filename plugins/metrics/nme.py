"""NME, failure rate, AUC and the cumulative error distribution, as in ../shared/docs/metrics.md.

All functions take per-face NME as fractions. Conventions pinned by tests:
- FR@t counts faces with NME strictly greater than t.
- CED(x) is the fraction of faces with NME <= x.
- AUC@t is the area under CED on [0, t] divided by t: `trapezoid` integrates CED sampled every 1e-4 with the
  trapezoid rule (STAR/ADNet evaluation code); `fabrec50` averages CED at 50 evenly spaced thresholds on
  [0, t], both ends included (3FabRec's Riemann sum).
"""

from __future__ import annotations

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.metrics import FaceErrors, Metric, Normaliser
from fabrec_bench.schemes import LandmarkScheme

AUC_GRID_STEP = 1e-4


# -- normalisers -----------------------------------------------------------------------------------------


def inter_ocular_distance(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Distance between the outer eye corners of the ground truth (WFLW 60-72, 68-point 36-45)."""
    if scheme.outer_eye_corners is None:
        raise UserError(f"scheme '{scheme.name}' has no outer eye corners; use the box normaliser")
    a, b = scheme.outer_eye_corners
    return np.linalg.norm(gt[:, a] - gt[:, b], axis=-1)


def inter_pupil_distance(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Distance between the eye centres (WFLW pupils 96-97; 68 points: means of 36-41 and 42-47)."""
    if scheme.eye_centres is None:
        raise UserError(f"scheme '{scheme.name}' has no eye centres; use inter-ocular or box")
    left, right = scheme.eye_centres
    return np.linalg.norm(gt[:, list(left)].mean(axis=1) - gt[:, list(right)].mean(axis=1), axis=-1)


def box_size_max(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """max(w, h) of the ground-truth face box (the squared box 3FabRec crops to)."""
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    return wh.max(axis=1)


def box_size_sqrt(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """sqrt(w * h) of the ground-truth face box (SAN, HRNet's AFLW box size; our `box` normaliser)."""
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    return np.sqrt(np.clip(wh[:, 0], 0, None) * np.clip(wh[:, 1], 0, None))


def fabrec_pupil_proxy(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """3FabRec's 'pupil' option: the mean of the inner-corner and outer-corner distances (68 points only)."""
    if scheme.num_points != 68:
        raise UserError("the fabrec-pupil normaliser is defined for 68-point schemes only")
    outer = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1)
    inner = np.linalg.norm(gt[:, 39] - gt[:, 42], axis=-1)
    return (outer + inner) / 2


# -- metrics on per-face NME ------------------------------------------------------------------------------


def failure_rate(nme: np.ndarray, threshold: float) -> float:
    """Fraction of faces whose NME is strictly greater than `threshold`."""
    nme = np.asarray(nme, dtype=np.float64)
    return float(np.mean(nme > threshold)) if nme.size else float("nan")


def ced(nme: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: for each threshold x, the fraction of faces with NME <= x."""
    nme = np.sort(np.asarray(nme, dtype=np.float64))
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if nme.size == 0:
        return np.full(thresholds.shape, np.nan)
    return np.searchsorted(nme, thresholds, side="right") / nme.size


def auc_thresholds(threshold: float, rule: str) -> np.ndarray:
    """The thresholds at which the CED is sampled for AUC under `rule`."""
    if rule == "trapezoid":
        return np.linspace(0.0, threshold, int(round(threshold / AUC_GRID_STEP)) + 1)
    if rule == "fabrec50":
        return np.linspace(0.0, threshold, 50)
    raise UserError(f"unknown AUC rule {rule!r}")


def area_under_ced(nme: np.ndarray, threshold: float, rule: str = "trapezoid") -> float:
    """AUC@threshold: area under the CED on [0, threshold] divided by threshold (1 is perfect)."""
    x = auc_thresholds(threshold, rule)
    y = ced(nme, x)
    if rule == "fabrec50":
        return float(y.mean())
    return float(np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2 / threshold)  # trapezoid rule


def _mean_nme(errors: FaceErrors, protocol) -> float:
    found = errors.per_face[np.isfinite(errors.per_face)]
    return float(found.mean()) if found.size else float("nan")


def _group_nme(errors: FaceErrors, group: str) -> float:
    indices = errors.scheme.groups.get(group)
    if not indices:
        return float("nan")
    idx = list(indices)
    mask = errors.mask[:, idx]
    counts = mask.sum(axis=1)
    per_face = (errors.per_point[:, idx] * mask).sum(axis=1) / np.maximum(counts, 1)
    return float(per_face[counts > 0].mean()) if (counts > 0).any() else float("nan")


def _fmt(t: float) -> str:
    return f"{t:g}"


@hookimpl
def fabrec_bench_register_metrics(register):
    register(Normaliser("inter-ocular", inter_ocular_distance, "outer eye corners (WFLW 60-72, 68-pt 36-45)"))
    register(Normaliser("inter-pupil", inter_pupil_distance, "eye centres (WFLW 96-97, 68-pt eye means)"))
    register(Normaliser("box", box_size_sqrt, "sqrt(w * h) of the ground-truth box (AFLW-19 in SAN, HRNet)"))
    register(Normaliser("box-max", box_size_max, "max(w, h) of the ground-truth box (3FabRec's crop side)"))
    register(Normaliser("fabrec-pupil", fabrec_pupil_proxy, "3FabRec's pupil proxy (68 points)"))
    register(
        Metric("nme", _mean_nme, "mean per-face NME (over the faces a box detector found)", label=lambda p: "NME")
    )
    register(
        Metric("missed", lambda e, p: float(e.missed.mean()) if e.missed is not None and e.missed.size else 0.0,
               "faces the box detector missed (counted as failures in FR and AUC)", label=lambda p: "missed")
    )
    register(
        Metric("fr", lambda e, p: failure_rate(e.per_face, p.threshold),
               "failure rate: faces with NME > threshold", label=lambda p: f"FR@{_fmt(p.threshold)}")
    )
    register(
        Metric("auc", lambda e, p: area_under_ced(e.per_face, p.threshold, p.auc_rule),
               "area under the CED up to the threshold, divided by it", higher_is_better=True, percent=False,
               label=lambda p: f"AUC@{_fmt(p.threshold)}")
    )
    register(Metric("nme-inner", lambda e, p: _group_nme(e, "inner"), "NME over non-outline points",
                    label=lambda p: "NME inner"))
    register(Metric("nme-outline", lambda e, p: _group_nme(e, "outline"), "NME over the jaw contour",
                    label=lambda p: "NME outline"))
