"""The one face-crop pipeline every model uses, with exact landmark mapping into the crop and back.

Geometry (3FabRec's, ../shared/docs/3fabrec.md section 4): the face box is extended per dataset (top and
bottom, as fractions of its height), made square around its centre with side max(w, h), and that square
fills the model's input crop. Training crops a larger region of interest first (side scaled by
roi_size / input_size, 363/256 for 256 inputs, so a 45-degree rotation shows no empty corners), augments it,
then takes the centre `input_size` square. Outside the image the crop is zero (black).

Every crop is one 2 x 3 affine matrix `M` from original-image pixels to crop pixels (pixel centres at integer
coordinates, as in OpenCV's warpAffine), so landmarks map with `to_crop` and predictions map back with
`to_image`; the round trip is exact up to floating point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


def roi_size_for(input_size: int) -> int:
    """Side of the enlarged training region: ceil(sqrt(2) * input), 363 for 256."""
    return int(math.ceil(math.sqrt(2) * input_size))


def extend_box(box, top: float = 0.0, bottom: float = 0.0) -> tuple[float, float, float, float]:
    """Raise the top by `top`·h and lower the bottom by `bottom`·h (3FabRec's per-dataset adjustment)."""
    x0, y0, x1, y1 = (float(v) for v in box)
    h = y1 - y0
    return x0, y0 - top * h, x1, y1 + bottom * h


def square_box(box) -> tuple[float, float, float]:
    """Centre (cx, cy) and side max(w, h) of the square around a box."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0)


@dataclass(frozen=True)
class CropSettings:
    """How faces are cropped; part of the crop cache's key."""

    input_size: int = 256
    extension: tuple[float, float] = (0.0, 0.0)  # the dataset's (top, bottom) box extension
    roi: bool = False  # crop the enlarged training region (roi_size_for(input_size)) instead of the input crop

    @property
    def output_size(self) -> int:
        return roi_size_for(self.input_size) if self.roi else self.input_size


def crop_matrix(box, settings: CropSettings) -> np.ndarray:
    """The 2 x 3 affine map from image pixels to crop pixels for a face box."""
    cx, cy, side = square_box(extend_box(box, *settings.extension))
    if side <= 0:
        raise ValueError(f"face box {tuple(box)} has no area")
    out = settings.output_size
    scale = settings.input_size / side  # the square box fills the input crop; the ROI shows more around it
    centre = (out - 1) / 2
    return np.array([[scale, 0.0, centre - scale * cx], [0.0, scale, centre - scale * cy]])


def to_crop(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) image points into the crop."""
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2 x 3 affine map."""
    return cv2.invertAffineTransform(np.asarray(matrix, dtype=np.float64))


def to_image(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Map (..., 2) crop points back to original-image pixels."""
    return to_crop(points, invert(matrix))


def warp(image: np.ndarray, matrix: np.ndarray, size: int, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
    """Apply a 2 x 3 map to an image, zero outside. Strong downscaling is pre-filtered against aliasing."""
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale < 0.5:
        # Shrink the source first with area averaging, then warp with the remaining factor.
        factor = max(1, int(1 / (2 * scale)))
        small = cv2.resize(image, (max(1, image.shape[1] // factor), max(1, image.shape[0] // factor)),
                           interpolation=cv2.INTER_AREA)
        fx, fy = image.shape[1] / small.shape[1], image.shape[0] / small.shape[0]
        # small pixel centre j corresponds to image pixel (j + 0.5) * f - 0.5
        pre = np.array([[fx, 0, 0.5 * fx - 0.5], [0, fy, 0.5 * fy - 0.5], [0, 0, 1]])
        matrix = np.vstack([matrix, [0, 0, 1]]) @ pre
        matrix, image = matrix[:2], small
    return cv2.warpAffine(image, matrix, (size, size), flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=0)


def crop_face(image: np.ndarray, box, settings: CropSettings) -> tuple[np.ndarray, np.ndarray]:
    """Crop one face: the crop image and its image-to-crop matrix."""
    matrix = crop_matrix(box, settings)
    return warp(image, matrix, settings.output_size), matrix


def centre_crop_matrix(roi_size: int, input_size: int) -> np.ndarray:
    """The map from a ROI crop to its centre input-size square (a pure shift)."""
    offset = (roi_size - input_size) / 2
    return np.array([[1.0, 0.0, -offset], [0.0, 1.0, -offset]])


def compose(*matrices: np.ndarray) -> np.ndarray:
    """compose(A, B, C) applies A first, then B, then C."""
    total = np.eye(3)
    for m in matrices:
        total = np.vstack([m, [0, 0, 1]]) @ total
    return total[:2]
