"""Where a synthetic face's box sits in its image, for the tests that compare with another project's code: a
third of the faces cut by one of the four borders in turn, COFW's boxes whole numbers as its release's. Test
code only."""

from __future__ import annotations

import numpy as np


def box_in_image(rng: np.random.Generator, i: int, width: int, height: int, bw: float, bh: float,
                 dataset: str) -> tuple[float, float, float, float]:
    """(x0, y0, w, h) of face i in a width x height image."""
    x0, y0 = rng.uniform(5, width - bw - 5), rng.uniform(5, height - bh - 5)
    if i % 3 == 0:  # cut by a border: left, right, top, bottom in turn
        x0 = [-0.3 * bw, width - 0.7 * bw, rng.uniform(5, 20), rng.uniform(5, 20)][i // 3 % 4]
        y0 = [rng.uniform(5, 20), rng.uniform(5, 20), -0.25 * bh, height - 0.8 * bh][i // 3 % 4]
    if dataset in ("cofw", "cofw68"):
        x0, y0, bw, bh = round(x0), round(y0), round(bw), round(bh)
    return x0, y0, bw, bh
