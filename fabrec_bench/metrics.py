"""The metric and normaliser contracts, and evaluation of predictions against a split.

Per-face NME is kept as a fraction (0.05 = 5 %); metrics are stored as fractions too and shown in percent
where `Metric.percent` says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import LandmarkScheme


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
