"""HRNet-Facial's decoding (lib/core/evaluation.py get_preds, decode_preds; lib/utils/transforms.py
transform_preds): per heatmap the first maximum (1-based cell), a quarter cell towards the larger neighbour
along x and along y unless the cell is on the map's border, + 0.5, then the inverse crop transform, truncated
to whole pixels. A heatmap whose maximum is not positive gives the cell (0, 0), as get_preds' mask does."""

from __future__ import annotations

import numpy as np
import torch

from fabrec_bench_plugins.models.hrnet.preprocess import to_image_pixels

SOURCE = "lib/core/evaluation.py:16-35 (get_preds), 66-88 (decode_preds); lib/utils/transforms.py:175-178"


def heatmap_cells(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, L, 2) float32 cell coordinates after the quarter shift and + 0.5 (the heatmap frame decode_preds
    hands to transform_preds)."""
    batch, lms, height, width = heatmaps.shape
    maxval, idx = torch.max(heatmaps.reshape(batch, lms, -1), 2)
    idx = (idx + 1).float()
    coords = torch.stack(((idx - 1) % width + 1, torch.floor((idx - 1) / width) + 1), dim=2)
    coords = coords * (maxval > 0).float()[..., None]
    px, py = coords[..., 0].long(), coords[..., 1].long()  # floor of whole numbers
    inside = (px > 1) & (px < width) & (py > 1) & (py < height)
    b, p = torch.nonzero(inside, as_tuple=True)
    x, y = px[b, p], py[b, p]
    maps = heatmaps.float()
    diff_x = maps[b, p, y - 1, x] - maps[b, p, y - 1, x - 2]
    diff_y = maps[b, p, y, x - 1] - maps[b, p, y - 2, x - 1]
    coords[b, p] += torch.stack((diff_x, diff_y), dim=1).sign() * .25
    return coords + 0.5


def to_image(cells: np.ndarray, centre: tuple[float, float], scale: float, heatmap_size=(64, 64)) -> np.ndarray:
    """transform_preds: one face's (L, 2) heatmap coordinates -> whole image pixels (the files' frame)."""
    return to_image_pixels(cells, centre, scale, heatmap_size).astype(np.float64)
