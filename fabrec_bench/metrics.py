"""The metric and normaliser contracts and the metric math: normalisers, per-face errors, FR, CED and AUC.

Per-face NME is kept as a fraction (0.05 = 5 %); metrics are stored as fractions too and shown in percent
where `Metric.percent` says so. Conventions pinned by tests:
- FR@t counts faces with NME strictly greater than t.
- CED(x) is the fraction of faces with NME <= x.
- AUC@t is the area under CED on [0, t] divided by t: `trapezoid` integrates CED sampled every 1e-4 with the
  trapezoid rule (STAR/ADNet evaluation code); `fabrec50` averages CED at 50 evenly spaced thresholds on
  [0, t], both ends included (3FabRec's Riemann sum).
The built-in metrics plugin (fabrec_bench_plugins.metrics.nme) registers them by name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import LandmarkScheme

AUC_GRID_STEP = 1e-4  # the `trapezoid` rule samples the CED this finely


@dataclass(frozen=True)
class Normaliser:
    """Maps ground truth to one normalising distance per face: `distances(gt (N,L,2), boxes (N,4), scheme)`."""

    name: str
    distances: Callable[[np.ndarray, np.ndarray, LandmarkScheme], np.ndarray]
    description: str = ""


@dataclass
class FaceErrors:
    """Normalised errors of one evaluation: per point (N, L) and per face (N,), as fractions."""

    per_point: np.ndarray
    per_face: np.ndarray
    scheme: LandmarkScheme
    mask: np.ndarray  # (N, L) bool: which points count
    missed: np.ndarray | None = None  # (N,) bool: faces the box detector missed (per-face NME = inf)

    def mark_missed(self, missed: np.ndarray) -> None:
        """Faces the detector missed count as failures: infinite per-face NME, no per-point errors."""
        missed = np.asarray(missed, dtype=bool)
        self.missed = missed
        self.per_face = np.where(missed, np.inf, self.per_face)
        self.per_point = np.where(missed[:, None], np.nan, self.per_point)
        self.mask = self.mask & ~missed[:, None]

    def per_landmark(self) -> np.ndarray:
        """Mean normalised error of each landmark over the faces where it counts (NaN where it never does)."""
        counts = self.mask.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(counts > 0, (self.per_point * self.mask).sum(axis=0) / counts, np.nan)


def mean_face(gt: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """The mean ground-truth shape in box coordinates ((0,0) top-left, (1,1) bottom-right of the face box):
    where to draw per-landmark errors."""
    gt = np.asarray(gt, dtype=np.float64)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    size = np.maximum(boxes[:, 2:] - boxes[:, :2], 1e-9)
    return np.nanmean((gt - boxes[:, None, :2]) / size[:, None, :], axis=0)


@dataclass(frozen=True)
class Metric:
    """A number computed from `FaceErrors` under a protocol: `compute(errors, protocol) -> float`."""

    name: str
    compute: Callable[[FaceErrors, EvalProtocol], float]
    description: str = ""
    higher_is_better: bool = False
    percent: bool = True
    # Column label; may use the protocol's threshold, e.g. "FR@0.1".
    label: Callable[[EvalProtocol], str] | None = None

    def label_for(self, protocol: EvalProtocol) -> str:
        base = self.label(protocol) if self.label else self.name.upper()
        return f"{base} (%)" if self.percent else base


def face_errors(
    pred: np.ndarray,
    gt: np.ndarray,
    boxes: np.ndarray,
    scheme: LandmarkScheme,
    normaliser: Normaliser,
    visible: np.ndarray | None = None,
    mask_invisible: bool = False,
) -> FaceErrors:
    """Normalised point and face errors, vectorised over faces and landmarks."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise UserError(f"predictions have shape {pred.shape}, ground truth {gt.shape}")
    if not np.isfinite(pred).all():
        bad = int(np.flatnonzero(~np.isfinite(pred).reshape(len(pred), -1).all(axis=1))[0])
        raise UserError(f"prediction for face #{bad} contains NaN or inf")
    d = np.asarray(normaliser.distances(gt, boxes, scheme), dtype=np.float64)
    if d.shape != (len(gt),):
        raise UserError(f"normaliser '{normaliser.name}' returned shape {d.shape}, expected ({len(gt)},)")
    if len(d) and not (np.isfinite(d).all() and (d > 0).all()):
        bad = int(np.flatnonzero(~(np.isfinite(d) & (d > 0)))[0])
        raise UserError(f"normaliser '{normaliser.name}' is {d[bad]!r} for face #{bad}; NME is undefined there")
    mask = np.ones(gt.shape[:2], dtype=bool)
    if mask_invisible and visible is not None:
        mask = np.asarray(visible, dtype=bool)
    per_point = np.linalg.norm(pred - gt, axis=-1) / d[:, None]
    counts = mask.sum(axis=1)
    if (counts == 0).any():
        bad = int(np.flatnonzero(counts == 0)[0])
        raise UserError(f"face #{bad} has no visible landmark to score; drop it or turn off visibility masking")
    per_face = (per_point * mask).sum(axis=1) / counts
    return FaceErrors(per_point=per_point, per_face=per_face, scheme=scheme, mask=mask)


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


def mean_nme(errors: FaceErrors, protocol=None) -> float:
    """Mean per-face NME over the faces that have a prediction (a detector's misses are infinite)."""
    found = errors.per_face[np.isfinite(errors.per_face)]
    return float(found.mean()) if found.size else float("nan")


def group_nme(errors: FaceErrors, group: str) -> float:
    """Mean NME over one landmark group of the scheme (e.g. inner, outline), per face then over faces."""
    indices = errors.scheme.groups.get(group)
    if not indices:
        return float("nan")
    idx = list(indices)
    mask = errors.mask[:, idx]
    counts = mask.sum(axis=1)
    per_face = (errors.per_point[:, idx] * mask).sum(axis=1) / np.maximum(counts, 1)
    return float(per_face[counts > 0].mean()) if (counts > 0).any() else float("nan")
