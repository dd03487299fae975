"""The metric and normaliser contracts and the metric math: normalisers, per-face errors, FR, CED and AUC.

Per-face NME is kept as a fraction (0.05 = 5 %); metrics are stored as fractions too and shown in percent
where `Metric.percent` says so. Conventions pinned by tests:
- FR@t counts faces with NME strictly greater than t.
- CED(x) is the fraction of faces with NME <= x.
- AUC@t is the area under CED on [0, t] divided by t: `trapezoid` integrates CED sampled every 1e-4 with the
  trapezoid rule (ours); `fabrec50` averages CED at 50 evenly spaced thresholds on [0, t], both ends included
  (3FabRec's Riemann sum); `simpson` samples CED on np.arange(0, t + 1e-4, 1e-4) and integrates it by Simpson's
  rule as SciPy's `simps` did before 1.11 (STAR/ADNet, PIPNet); `spiga` is SPIGA's 10,000-bin histogram rule.
- The field's codes also differ in how FR is read (`fr_rule`) and NME averaged (`averaging`, mmpose pools
  every point); the registered protocols (fabrec_bench.protocol) say which code does what.
Each rule is one function in a table by name (`FAILURE_RULES`, `AUC_RULES`, `AVERAGES`), the names a stored
protocol carries. The built-in metrics plugin (fabrec_bench_plugins.metrics.nme) registers the metrics and
normalisers by name.
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
    if d.shape not in ((len(gt),), (len(gt), 2)):
        raise UserError(f"normaliser '{normaliser.name}' returned shape {d.shape}, expected ({len(gt)},) "
                        f"or ({len(gt)}, 2)")
    if len(d) and not (np.isfinite(d).all() and (d > 0).all()):
        bad = int(np.flatnonzero(~(np.isfinite(d) & (d > 0)).reshape(len(d), -1).all(axis=1))[0])
        raise UserError(f"normaliser '{normaliser.name}' is {d[bad]!r} for face #{bad}; NME is undefined there")
    mask = np.ones(gt.shape[:2], dtype=bool)
    if mask_invisible and visible is not None:
        mask = np.asarray(visible, dtype=bool)
    if d.ndim == 2:  # per-axis normalisers (PIPNet's AFLW: x by the box width, y by its height)
        per_point = np.linalg.norm((pred - gt) / d[:, None, :], axis=-1)
    else:
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


def landmark_box_sqrt(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """sqrt(w * h) of the extent of the ground-truth landmarks (SPIGA's `lnd_bbox`)."""
    wh = gt.max(axis=1) - gt.min(axis=1)
    return np.sqrt(wh[:, 0] * wh[:, 1])


def box_axes(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """Per-axis normaliser: x errors divided by the box width, y errors by its height (PIPNet's AFLW, whose
    coordinates are fractions of the box and whose normaliser is 1)."""
    return boxes[:, 2:4] - boxes[:, 0:2]


# -- metrics on per-face NME ------------------------------------------------------------------------------


def failure_rate(nme: np.ndarray, threshold: float, rule: str = "strict") -> float:
    """Fraction of faces that fail at `threshold` by the failure rule `rule` (`FAILURE_RULES`)."""
    nme = np.asarray(nme, dtype=np.float64)
    if not nme.size:
        return float("nan")
    return _rule(FAILURE_RULES, rule, "failure rule")(nme, threshold)


def _rule(table: dict, name: str, what: str):
    if name not in table:
        raise UserError(f"unknown {what} {name!r}; known: {', '.join(table)}")
    return table[name]


def ced(nme: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Cumulative error distribution: for each threshold x, the fraction of faces with NME <= x."""
    nme = np.sort(np.asarray(nme, dtype=np.float64))
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if nme.size == 0:
        return np.full(thresholds.shape, np.nan)
    return np.searchsorted(nme, thresholds, side="right") / nme.size


def field_grid(threshold: float, step: float = AUC_GRID_STEP) -> np.ndarray:
    """The CED grid of STAR/ADNet and PIPNet, np.arange(0, t + step, step), float quirks included (for
    t = 0.05 it has 502 points and ends at 0.0501)."""
    return np.arange(0, threshold + step, step)


def _simpson_odd(y: np.ndarray, x: np.ndarray) -> float:
    """Composite Simpson's rule over an odd number of samples with uneven spacing (pairs of intervals)."""
    h = np.diff(x)
    h0, h1 = h[0:-1:2], h[1::2]
    y0, y1, y2 = y[0:-2:2], y[1:-1:2], y[2::2]
    hsum, hprod, ratio = h0 + h1, h0 * h1, h0 / h1
    return float(np.sum(hsum / 6.0 * (y0 * (2.0 - 1.0 / ratio) + y1 * (hsum * hsum / hprod) + y2 * (2.0 - ratio))))


def simpson_classic(y: np.ndarray, x: np.ndarray) -> float:
    """Simpson's rule as SciPy's `simps` computed it before SciPy 1.11 (the versions the field's codes ran):
    odd sample counts by the composite rule; even counts averaged from Simpson on the first N-1 samples plus
    a trapezoid on the last interval, and a trapezoid on the first interval plus Simpson on the rest."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    n = len(y)
    if n < 2:
        return 0.0
    if n == 2:
        return float((x[1] - x[0]) * (y[0] + y[1]) / 2)
    if n % 2 == 1:
        return _simpson_odd(y, x)
    first = _simpson_odd(y[:-1], x[:-1]) + (x[-1] - x[-2]) * (y[-1] + y[-2]) / 2
    last = (x[1] - x[0]) * (y[0] + y[1]) / 2 + _simpson_odd(y[1:], x[1:])
    return float((first + last) / 2)


SPIGA_BINS = 10_000


def spiga_auc_fr(nme: np.ndarray, threshold: float, bins: int = SPIGA_BINS) -> tuple[float, float]:
    """SPIGA's AUC and FR (spiga/eval/benchmark/metrics/landmarks.py), as fractions: errors in percent are
    binned into `bins` equal bins between their minimum and maximum; the CED at each bin's left edge is the
    cumulative count up to that bin's right edge over N; the edges below the threshold are kept; AUC is
    Simpson's rule over them divided by the threshold, plus (t - last edge) / t when every face is counted by
    then; FR is 1 - the last kept CED value (1 when no edge lies below the threshold). Faces without a
    prediction (infinite NME) count in N but not in the histogram."""
    nme = np.asarray(nme, dtype=np.float64)
    finite = nme[np.isfinite(nme)] * 100.0
    thr = threshold * 100.0
    if not nme.size:
        return float("nan"), float("nan")
    if not finite.size:
        return 0.0, 1.0
    counts, edges = np.histogram(finite, bins=bins)
    cumulative = np.cumsum(counts) / float(len(nme))
    base = edges[:bins]
    keep = base < thr
    base, cumulative = base[keep], cumulative[: int(keep.sum())]
    if not base.size:
        return 0.0, 1.0
    auc = simpson_classic(cumulative, base) / thr
    if base[-1] < thr and cumulative[-1] == 1:
        auc += (thr - base[-1]) / thr
    return float(auc), float(1.0 - cumulative[-1])


def auc_thresholds(threshold: float, rule: str) -> np.ndarray:
    """The thresholds at which the CED is sampled for AUC under `rule` (and drawn in CED plots): the field's
    grid (`field_grid`) unless the rule has its own."""
    return _AUC_GRIDS.get(rule, field_grid)(threshold)


_AUC_GRIDS = {
    "trapezoid": lambda t: np.linspace(0.0, t, int(round(t / AUC_GRID_STEP)) + 1),  # every 1e-4
    "fabrec50": lambda t: np.linspace(0.0, t, 50),  # 3FabRec's 50 points, both ends included
}


def area_under_ced(nme: np.ndarray, threshold: float, rule: str = "trapezoid") -> float:
    """AUC@threshold: area under the CED on [0, threshold] divided by threshold (1 is perfect), by `rule`."""
    return _rule(AUC_RULES, rule, "AUC rule")(np.asarray(nme, dtype=np.float64), threshold)


def _auc_trapezoid(nme: np.ndarray, threshold: float) -> float:
    # On the uniform grid the trapezoid area divided by t is (sum(y) - (y_0 + y_n) / 2) / n: exactly 1 for a
    # CED of 1 everywhere, where summing the steps' widths can exceed t by a rounding.
    y = ced(nme, auc_thresholds(threshold, "trapezoid"))
    return float((y.sum() - (y[0] + y[-1]) / 2) / (len(y) - 1))


def _auc_fabrec50(nme: np.ndarray, threshold: float) -> float:
    return float(ced(nme, auc_thresholds(threshold, "fabrec50")).mean())


def _auc_simpson(nme: np.ndarray, threshold: float) -> float:
    x = field_grid(threshold)
    return simpson_classic(ced(nme, x), x) / threshold


# Each failure rule and AUC rule by the name a protocol stores (fabrec_bench.protocol.FR_RULES, AUC_RULES).
FAILURE_RULES = {
    "strict": lambda nme, t: float(np.mean(nme > t)),  # NME > t
    "grid-end": lambda nme, t: float(1.0 - ced(nme, field_grid(t)[-1:])[0]),  # STAR/PIPNet: 1 - CED at the grid end
    "histogram": lambda nme, t: spiga_auc_fr(nme, t)[1],  # SPIGA
}
AUC_RULES = {
    "trapezoid": _auc_trapezoid,
    "fabrec50": _auc_fabrec50,
    "simpson": _auc_simpson,
    "spiga": lambda nme, t: spiga_auc_fr(nme, t)[0],
    "none": lambda nme, t: float("nan"),
}


def _per_face_mean(errors: FaceErrors) -> float:
    """Mean per-face NME over the faces that have a prediction (a detector's misses are infinite)."""
    found = errors.per_face[np.isfinite(errors.per_face)]
    return float(found.mean()) if found.size else float("nan")


def _pooled_mean(errors: FaceErrors) -> float:
    """mmpose: the mean of every scored point's error over the whole dataset."""
    points = errors.per_point[errors.mask & np.isfinite(errors.per_point)]
    return float(points.mean()) if points.size else float("nan")


AVERAGES = {"per-face": _per_face_mean, "pooled": _pooled_mean}


def mean_nme(errors: FaceErrors, protocol=None) -> float:
    """NME by the protocol's averaging (`AVERAGES`; per face when no protocol is given)."""
    return _rule(AVERAGES, getattr(protocol, "averaging", "per-face"), "averaging")(errors)


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
