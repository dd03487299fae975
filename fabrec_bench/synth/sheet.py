"""Contact sheets: a grid of face crops with landmarks drawn on top, for looking at data and predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from fabrec_bench.types import FaceSample

# Colours per landmark group (BGR): contour, brows, nose, eyes, mouth, pupils.
GROUP_COLOURS = {"outline": (80, 220, 80), "brows": (60, 200, 255), "nose": (255, 200, 60),
                 "eyes": (255, 90, 255), "mouth": (80, 80, 255), "pupils": (255, 255, 255)}


def draw_face_tile(sample: FaceSample, groups: dict[str, tuple[int, ...]], tile: int = 192,
                   predicted: np.ndarray | None = None) -> np.ndarray:
    """The face's box (made square, 30 % margin) scaled to `tile` px, with its landmarks drawn."""
    img = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR)
    if img is None:
        img = np.zeros((tile, tile, 3), np.uint8)
    x0, y0, x1, y1 = sample.box_px
    side = max(x1 - x0, y1 - y0) * 1.3
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    s = tile / side
    m = np.array([[s, 0, tile / 2 - s * cx], [0, s, tile / 2 - s * cy]], np.float32)
    out = cv2.warpAffine(img, m, (tile, tile), flags=cv2.INTER_AREA, borderValue=(0, 0, 0))

    def to_tile(points):
        return points @ m[:, :2].T + m[:, 2]

    gt = to_tile(sample.landmarks_px)
    for group, colour in GROUP_COLOURS.items():
        for i in groups.get(group, ()):
            cv2.circle(out, (int(round(gt[i, 0] * 4)), int(round(gt[i, 1] * 4))), 6, colour, -1, cv2.LINE_AA, 2)
    if predicted is not None:
        for x, y in to_tile(predicted):
            cv2.drawMarker(out, (int(round(x)), int(round(y))), (0, 0, 255), cv2.MARKER_CROSS, 5, 1)
    return out


def contact_sheet(samples: Sequence[FaceSample], groups: dict[str, tuple[int, ...]], path: Path,
                  columns: int = 8, tile: int = 160, predictions: np.ndarray | None = None) -> Path:
    """Write a PNG grid of faces with their landmarks (and predictions as red crosses, if given)."""
    tiles = [draw_face_tile(s, groups, tile, None if predictions is None else predictions[i])
             for i, s in enumerate(samples)]
    if not tiles:
        raise ValueError("no faces to draw")
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.concatenate(rows, axis=0))
    return path
