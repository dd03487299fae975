"""Landmarks drawn on images: the ground truth in green, predictions in blue (the 3FabRec figures' colours),
each point a filled disc centred on its pixel, so the pixel under a landmark has its colour."""

from __future__ import annotations

import numpy as np

GROUND_TRUTH_BGR = (0, 200, 0)
PREDICTION_BGR = (255, 0, 0)
BOX_BGR = (160, 160, 160)


def point_radius(box) -> int:
    """Disc radius for a face of this box: about 1/100 of its side, at least 1 pixel."""
    x0, y0, x1, y1 = box
    return max(1, int(round(max(x1 - x0, y1 - y0) / 100)))


def draw_points(image: np.ndarray, points: np.ndarray, colour, radius: int) -> None:
    """Filled discs at (L, 2) points (NaN points skipped), in place."""
    import cv2

    for x, y in np.asarray(points, dtype=np.float64):
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(image, (int(round(x)), int(round(y))), radius, colour, thickness=-1, lineType=cv2.LINE_8)


def draw_faces(image: np.ndarray, boxes: np.ndarray, predictions: np.ndarray,
               truths: np.ndarray | None = None) -> np.ndarray:
    """A copy of a BGR image with each face's box, its ground truth (if given) and its prediction drawn on top."""
    import cv2

    out = np.ascontiguousarray(image.copy())
    for i, box in enumerate(np.asarray(boxes, dtype=np.float64).reshape(-1, 4)):
        radius = point_radius(box)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x0, y0), (x1, y1), BOX_BGR, thickness=max(1, radius // 2))
        if truths is not None:
            draw_points(out, truths[i], GROUND_TRUTH_BGR, radius)
        draw_points(out, predictions[i], PREDICTION_BGR, radius)
    return out
