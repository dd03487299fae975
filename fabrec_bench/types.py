"""Plain data types that cross plugin boundaries: faces, splits, predictions."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fabrec_bench.schemes import LandmarkScheme


@dataclass
class FaceSample:
    """One annotated face.

    Landmarks are float (L, 2) in 0-based pixel coordinates of the original image; they may lie outside it.
    `box_px` is (x0, y0, x1, y1) in the same frame. `id` is stable across runs and unique within the
    dataset (an image can hold several faces, so it is never the image path alone).
    """

    id: str
    image_path: Path
    landmarks_px: np.ndarray
    box_px: tuple[float, float, float, float]
    visible: np.ndarray | None = None
    attributes: dict[str, int | float | str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.landmarks_px = np.asarray(self.landmarks_px, dtype=np.float64)
        if self.visible is None:
            self.visible = np.ones(len(self.landmarks_px), dtype=bool)


@dataclass
class Split:
    """The faces of one named split, with where they came from."""

    dataset: str
    name: str
    scheme: LandmarkScheme
    samples: list[FaceSample]
    source: str = ""  # the file(s) the split was read from, for messages and `datasets info`
    skipped: int = 0  # malformed lines skipped with --skip-bad

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.samples]

    def landmarks(self) -> np.ndarray:
        """Ground truth as one (N, L, 2) array in original-image pixels."""
        if not self.samples:
            return np.zeros((0, self.scheme.num_points, 2))
        return np.stack([s.landmarks_px for s in self.samples])

    def boxes(self) -> np.ndarray:
        """Face boxes as one (N, 4) array (x0, y0, x1, y1)."""
        return np.asarray([s.box_px for s in self.samples], dtype=np.float64).reshape(-1, 4)

    def visibility(self) -> np.ndarray:
        """Visibility masks as one (N, L) boolean array."""
        if not self.samples:
            return np.zeros((0, self.scheme.num_points), dtype=bool)
        return np.stack([s.visible for s in self.samples])
