"""The crop-geometry columns the box-source benchmarks print (fan_box_sources.py, hrnet_box_sources.py): for
one source of face boxes, the faces it found, how far the model's crop centre lies from the reference source's
(median and 90th percentile, in % of the inter-ocular distance), the median ratio of crop sides, and the share
of ground-truth landmarks outside the crop."""

from __future__ import annotations

import numpy as np

COLUMNS = f"{'found':>7s} {'centre shift % IOD (median, p90)':>33s} {'side ratio':>10s} {'outside %':>9s}"


def geometry_cells(found: np.ndarray, centres: np.ndarray, sides: np.ndarray,
                   reference: tuple[np.ndarray, np.ndarray], gt: np.ndarray, iod: np.ndarray) -> str:
    """`found`: (N,) mask of the faces the source found; `centres` (M, 2), `sides` (M,), `gt` (M, L, 2) and
    `iod` (M,) for those M faces; `reference`: the (N, 2) centres and (N,) sides of the reference source."""
    shift = np.linalg.norm(centres - reference[0][found], axis=1) / iod * 100
    ratio = np.median(sides / reference[1][found])
    outside = (np.abs(gt - centres[:, None]) > sides[:, None, None] / 2).any(axis=2).mean() * 100
    return (f"{f'{found.sum()}/{len(found)}':>7s} {np.median(shift):16.2f} {np.percentile(shift, 90):16.2f} "
            f"{ratio:10.3f} {outside:9.2f}")
