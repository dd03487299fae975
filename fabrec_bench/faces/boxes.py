"""Face-box sources: which box a model is given for each annotated face.

- `ground-truth`: the dataset's own box (its protocol file, or what its adapter documents).
- `landmarks`: the tight box around the ground-truth landmarks (what many papers crop from).
- `detector-hog`: dlib's HOG face detector (`pip install "fabrec-bench[dlib]"`); `detector` is an alias.
- `detector-haar`: OpenCV's bundled frontal-face Haar cascade (from `cv2.data`; no extra needed).

Detectors run once per image. Each annotated face takes the unclaimed detection that overlaps its
ground-truth box most (intersection over union at least `MIN_IOU`); a face no detection matches is *missed*:
the model is not asked about it, and it counts as a failure (NME = infinity: above every FR threshold, never
under the CED curve), never silently dropped. Mean NME is over the faces found, and the number missed is
stored with the result. Numbers are comparable only between runs with the same box source, so the source is
part of every result's protocol and a column of every leaderboard.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.protocol import canonical_box_source
from fabrec_bench.types import FaceSample

MIN_IOU = 0.25


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of boxes a (N, 4) and b (M, 4), corners (x0, y0, x1, y1): (N, M)."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    union = area(a) + area(b) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match(truth: np.ndarray, detections: np.ndarray, min_iou: float = MIN_IOU) -> np.ndarray:
    """For each ground-truth box, the index of its detection or -1: greedy by overlap, one face per detection."""
    out = np.full(len(truth), -1)
    if len(truth) == 0 or len(detections) == 0:
        return out
    overlap = iou(truth, detections)
    for flat in np.argsort(-overlap, axis=None):
        t, d = np.unravel_index(flat, overlap.shape)
        if overlap[t, d] < min_iou:
            break
        if out[t] < 0 and d not in out:
            out[t] = d
    return out


class HaarDetector:
    """OpenCV's frontal-face Haar cascade as shipped inside opencv-python (cv2.data)."""

    name = "detector-haar"

    def __init__(self):
        import cv2  # here, not at import: protocols and the CLI name box sources without OpenCV

        self.cv2 = cv2
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self.cascade = cv2.CascadeClassifier(path)
        if self.cascade.empty():
            raise UserError(f"cannot load OpenCV's Haar cascade from {path}")

    def __call__(self, image: np.ndarray) -> np.ndarray:
        cv2 = self.cv2
        grey = cv2.equalizeHist(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))
        faces = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=4, minSize=(24, 24))
        faces = np.asarray(faces, dtype=np.float64).reshape(-1, 4)
        return np.concatenate([faces[:, :2], faces[:, :2] + faces[:, 2:]], axis=1)


class HogDetector:
    """dlib's HOG + linear SVM frontal face detector, upsampling the image once (dlib's usual setting)."""

    name = "detector-hog"

    def __init__(self, upsample: int = 1):
        try:
            import dlib
        except ImportError:
            raise UserError('box source detector-hog needs dlib: pip install "fabrec-bench[dlib]" '
                            "(or use --box-source detector-haar)") from None
        self.detector = dlib.get_frontal_face_detector()
        self.upsample = upsample

    def __call__(self, image: np.ndarray) -> np.ndarray:
        rgb = np.ascontiguousarray(image[..., ::-1])
        rects = self.detector(rgb, self.upsample)
        return np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects],
                        dtype=np.float64).reshape(-1, 4)


def detector_for(source: str):
    return {"detector-haar": HaarDetector, "detector-hog": HogDetector}[source]()


def apply_box_source(samples: list[FaceSample], source: str) -> tuple[list[FaceSample], np.ndarray]:
    """The samples with their boxes from `source`, and a (N,) mask of faces the detector missed."""
    source = canonical_box_source(source)
    missed = np.zeros(len(samples), dtype=bool)
    if source == "ground-truth":
        return list(samples), missed
    if source == "landmarks":
        out = []
        for s in samples:
            pts = np.asarray(s.landmarks_px, dtype=np.float64)
            out.append(replace(s, box_px=tuple(float(v) for v in (*pts.min(axis=0), *pts.max(axis=0)))))
        return out, missed
    from fabrec_bench.faces.facedata import load_image

    detector = detector_for(source)
    by_image: dict[str, list[int]] = defaultdict(list)
    for i, s in enumerate(samples):
        by_image[str(s.image_path)].append(i)
    out = list(samples)
    for path, indices in by_image.items():
        image = load_image(Path(path))
        found = detector(image)
        truth = np.array([np.asarray(samples[i].box_px, dtype=np.float64) for i in indices])
        for i, d in zip(indices, match(truth, found), strict=True):
            if d < 0:
                missed[i] = True
            else:
                out[i] = replace(samples[i], box_px=tuple(float(v) for v in found[d]))
    return out, missed
