"""STAR's test-time input (lib/dataset/alignmentDataset.py __getitem__, lib/dataset/augmentation.py
GetCropMatrix and Transform, evaluate.py) and ADNet's metadata files that its test reads.

- Centre and scale: a metadata row's (ADNet's processed annotations), or STAR's demo rule on a box: scale =
  min(w, h) / 200 x 1.05, centre = the box centre (demo.py, from the extent of 68 detected landmarks).
- Crop: the float32 similarity that maps the centre to (255/2, 255/2) at 256 / (scale x 200) pixels per pixel,
  OpenCV's warpPerspective (bilinear, zero border) of the BGR image to 256 x 256; (x - 127.5) x (1 / 127.5).
- Back to the image: the landmarks' [-1, 1] to crop pixels ((p + 1) x 256 - 1) / 2 (align corners False), then
  the float32 inverse of the matrix applied in float32 (evaluate.py postprocess).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.files import RowsByImage

SIZE = 256
SOURCE = ("lib/dataset/augmentation.py:76-120 (GetCropMatrix, align_corners=True), 206-234 (Transform); "
          "lib/dataset/alignmentDataset.py:260-316 (__getitem__); evaluate.py:136-163 (denorm_points, postprocess)")
# alignmentDataset.py: image paths in ADNet's files carry these prefixes, removed before joining image_dir
PATH_PREFIXES = ("//msr-facestore/Workspace/MSRA_EP_Allergan/users/yanghuan/training_data/wflw/rawImages/",
                 "./rawImages/")


@dataclass(frozen=True)
class CentreScale:
    centre: tuple[float, float]
    scale: float


def from_box(box: np.ndarray) -> CentreScale:
    """demo.py's rule on a box [x0, y0, x1, y1]."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return CentreScale(((x1 + x0) / 2, (y1 + y0) / 2), min(x1 - x0, y1 - y0) / 200 * 1.05)


def crop_matrix(where: CentreScale, size: int = SIZE) -> np.ndarray:
    """The 3x3 float32 map from image pixels to crop pixels."""
    s = size / (where.scale * 200.0)  # target_face_scale 1.0 (crop_op); no rotation at test time
    to = (size - 1) / 2.0  # align_corners: the centre goes to the middle of pixels 0 .. size - 1
    cx, cy = where.centre
    return np.array([[s, 0.0, to - s * cx], [0.0, s, to - s * cy], [0.0, 0.0, 1.0]], np.float32)


def crop(bgr: np.ndarray, matrix: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(3, size, size) float32 network input from a BGR uint8 image."""
    import cv2

    warped = cv2.warpPerspective(bgr, matrix, dsize=(size, size), flags=cv2.INTER_LINEAR, borderValue=0)
    return (warped.transpose(2, 0, 1).astype(np.float32) - np.float32(127.5)) * np.float32(1 / 127.5)


def to_image(unit: np.ndarray, matrix: np.ndarray, size: int = SIZE) -> np.ndarray:
    """(L, 2) float32 landmarks in [-1, 1] -> float32 image pixels."""
    pixels = ((unit.astype(np.float32) + np.float32(1)) * np.float32(size) - np.float32(1)) / np.float32(2)
    inverse = np.linalg.inv(matrix)
    x, y = pixels[:, 0], pixels[:, 1]
    return np.stack([inverse[0, 0] * x + inverse[0, 1] * y + inverse[0, 2],
                     inverse[1, 0] * x + inverse[1, 1] * y + inverse[1, 2]], axis=1)


@dataclass(frozen=True)
class MetadataRow:
    image: str  # the path as alignmentDataset.py joins it to image_dir
    landmarks: np.ndarray  # (L, 2)
    where: CentreScale


def read_metadata(path: str | Path, points: int) -> dict[str, list[MetadataRow]]:
    """ADNet's metadata (train.tsv / test.tsv), tab-separated: image path, five points "x,y,...", the landmarks
    "x,y,...", scale, centre x, centre y[, attribute tags]; per image path. A first line that is not a face (a
    header, which pandas' read_csv in STAR's loader skips) is skipped."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UserError(f"{path}: cannot read the metadata file ({e})") from None
    rows: dict[str, list[MetadataRow]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = line.rstrip("\n").split("\t")
        try:
            if len(item) < 6:
                raise ValueError(f"{len(item)} tab-separated fields, 6 or 7 expected")
            landmarks = np.array([float(v) for v in item[2].split(",")]).reshape(-1, 2)
            scale, cx, cy = float(item[3]), float(item[4]), float(item[5])
        except ValueError as e:
            if number == 1:  # a header
                continue
            raise UserError(f"{path}, line {number}: {e}") from None
        if len(landmarks) != points:
            raise UserError(f"{path}, line {number}: {len(landmarks)} landmarks; the checkpoint predicts {points}")
        image = item[0].replace("\\", "/")
        for prefix in PATH_PREFIXES:
            image = image.replace(prefix, "")
        rows.setdefault(image, []).append(MetadataRow(image, landmarks, CentreScale((cx, cy), scale)))
    return rows


def metadata_row(rows: RowsByImage, image_path: Path, landmarks: np.ndarray,
                 tolerance: float = 0.5) -> tuple[MetadataRow, np.ndarray] | None:
    """The row of the same image whose landmarks are the face's up to a constant shift of at most 1.5 px (a
    file written in another pixel origin), and that shift; None if no row fits."""
    best = None
    for row in rows.for_image(image_path):
        shift = (row.landmarks - landmarks).mean(axis=0)
        residual = np.abs(row.landmarks - landmarks - shift).max()
        if residual < tolerance and np.abs(shift).max() <= 1.5 and (best is None or residual < best[0]):
            best = (residual, row, shift)
    return None if best is None else (best[1], best[2])


def no_row(path: str | Path, rows: RowsByImage, sample, landmarks: np.ndarray) -> str:
    """Why no metadata row fits a face, naming the nearest row's path and the face's image path."""
    candidates = rows.for_image(sample.image_path)
    if candidates:
        off = min(float(np.abs(row.landmarks - landmarks).max()) for row in candidates)
        return (f"{path}: the rows naming '{candidates[0].image}' hold other landmarks than face {sample.id} "
                f"({sample.image_path}; the nearest is {off:.1f} px off); is it the metadata file of this split?")
    nearest = rows.nearest(sample.image_path)
    return (f"{path}: no row names the image of face {sample.id} ({sample.image_path}); the nearest row path is "
            f"'{nearest}'; rows are matched by the tail of the image path, down to the file name")
