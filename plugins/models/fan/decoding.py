"""FAN's decoding (face_alignment/utils.py get_preds_fromhm, _get_preds_fromhm, transform_np).

Per 64 x 64 heatmap: the first maximum as a 1-based cell (float32), a quarter cell towards the larger neighbour
along x and along y when the cell is inside the map's border (0 < cell - 1 < 63), minus 0.5; then the inverse
crop transform at heatmap resolution (float64, the pseudo-inverse) truncated to whole image pixels (int32).
"""

from __future__ import annotations

import numpy as np

from fabrec_bench_plugins.models.fan.preprocess import SCALE_UNIT, CentreScale

SOURCE = "face_alignment/utils.py:184-244 (get_preds_fromhm, _get_preds_fromhm), 147-181 (transform_np)"


def heatmap_cells(heatmaps: np.ndarray) -> np.ndarray:
    """(B, L, 2) float32 heatmap coordinates after the quarter shift and - 0.5."""
    batch, points, height, width = heatmaps.shape
    idx = np.argmax(heatmaps.reshape(batch, points, height * width), axis=-1) + 1
    cells = np.repeat(idx, 2).reshape(batch, points, 2).astype(np.float32)
    cells[..., 0] = (cells[..., 0] - 1) % width + 1
    cells[..., 1] = np.floor((cells[..., 1] - 1) / height) + 1
    x = cells[..., 0].astype(np.int64) - 1
    y = cells[..., 1].astype(np.int64) - 1
    inside = (x > 0) & (x < 63) & (y > 0) & (y < 63)
    b, p = np.nonzero(inside)
    xi, yi = x[b, p], y[b, p]
    maps = heatmaps[b, p]
    rows = np.arange(len(b))
    diff = np.stack([maps[rows, yi, xi + 1] - maps[rows, yi, xi - 1],
                     maps[rows, yi + 1, xi] - maps[rows, yi - 1, xi]], axis=1)
    cells[b, p] += np.sign(diff) * np.float32(0.25)
    return cells - np.float32(0.5)


def to_image(cells: np.ndarray, where: CentreScale, resolution: int = 64) -> np.ndarray:
    """transform_np(..., invert=True) for one face's (L, 2) heatmap coordinates: whole image pixels."""
    h = SCALE_UNIT * where.scale
    t = np.eye(3)
    t[0, 0] = resolution / h
    t[1, 1] = resolution / h
    t[0, 2] = resolution * (-where.centre[0] / h + 0.5)
    t[1, 2] = resolution * (-where.centre[1] / h + 0.5)
    inverse = np.ascontiguousarray(np.linalg.pinv(t))
    points = np.concatenate([cells.astype(np.float64), np.ones((len(cells), 1))], axis=1)
    # one 3x3 x 3 product per point, as transform_np computes it: a single matrix product over all points may
    # round differently, and the result is truncated to whole pixels
    return np.array([inverse.dot(p)[:2] for p in points]).astype(np.int32).astype(np.float64)
