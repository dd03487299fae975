"""The one face-crop pipeline every model uses, with exact landmark mapping into the crop and back.

Geometry (3FabRec's, ../shared/docs/3fabrec.md section 4): the face box is extended per dataset (top and
bottom, as fractions of its height), made square around its centre with side max(w, h), and that square
fills the model's input crop. Training crops a larger region of interest first (side scaled by
roi_size / input_size, 363/256 for 256 inputs, so a 45-degree rotation shows no empty corners), augments it,
then takes the centre `input_size` square. Outside the image the crop is zero (black).

Every crop comes with one 2 x 3 affine matrix `M` from original-image coordinates to crop coordinates, so
landmarks map with `to_crop` and predictions map back with `to_image`; the round trip is exact up to floating
point. Two rules make the pixels (`CropSettings.rule`):

- `3fabrec`: exactly what the original 3FabRec code crops (csl_common/utils/{geometry,image_loader,cropping}
  .py; pinned by ../shared/fixtures/3fabrec-crops): every side of the extended box truncated towards zero,
  the square region of interest computed in float32 and its corners truncated to integers (tl, br), that
  region cut out of the zero-padded image and resized to roi x roi with bicubic `cv2.resize` (no pre-filter;
  x and y scales can differ by a pixel), the input crop taken at the integer offset int((roi - input) / 2).
  Landmarks enter as (p - tl) * roi / (br - tl) - offset per axis, a frame half a pixel off cv2's pixel
  centres, which is the frame released 3FabRec models learned. `frame_offset` is added to our 0-based
  coordinates first when a model learned another frame (released 300-W models: raw 1-based `.pts`).
- `affine`: one warp whose matrix maps pixel centres exactly (OpenCV's warpAffine frame), with an area
  pre-filter against aliasing when shrinking by more than 2x. For models that are not 3FabRec's.
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


CROP_RULES = ("3fabrec", "affine")


@dataclass(frozen=True)
class CropSettings:
    """How faces are cropped; part of the crop cache's key."""

    input_size: int = 256
    extension: tuple[float, float] = (0.0, 0.0)  # the dataset's (top, bottom) box extension
    roi: bool = False  # crop the enlarged training region (roi_size_for(input_size)) instead of the input crop
    rule: str = "affine"  # see the module docstring
    frame_offset: float = 0.0  # `3fabrec` only: added to our coordinates to reach the frame the model learned

    def __post_init__(self) -> None:
        if self.rule not in CROP_RULES:
            raise ValueError(f"crop rule {self.rule!r} is not one of {', '.join(CROP_RULES)}")

    @property
    def output_size(self) -> int:
        return roi_size_for(self.input_size) if self.roi else self.input_size

    @property
    def centre_offset(self) -> float:
        """Where the input crop starts inside the ROI: 3FabRec's integer int((roi - input) / 2), else centred."""
        margin = roi_size_for(self.input_size) - self.input_size
        return float(margin // 2) if self.rule == "3fabrec" else margin / 2


def fabrec_region(box, extension: tuple[float, float], input_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The original 3FabRec region of interest for a face box: integer corners (tl, br), br exclusive.

    The extension moves top and bottom by fractions of the box height and every side is truncated towards
    zero (`int()`); the square of side max(w, h) about the centre is computed in float32 (as the original's
    box conversion does) and scaled by roi / input; its corners are truncated again."""
    x0, y0, x1, y1 = (float(v) for v in box)
    top, bottom = extension
    h = y1 - y0
    left, upper, right, lower = int(x0), int(y0 - top * h), int(x1), int(y1 + bottom * h)
    side = max(right - left, lower - upper)
    if side <= 0:
        raise ValueError(f"face box {tuple(box)} has no area")
    cx, cy = (left + right) / 2, (upper + lower) / 2
    square = np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2], dtype=np.float32)
    half = (square[2:] - square[:2]) * np.float32(0.5)
    centre = square[:2] + half
    half = half * np.float32(roi_size_for(input_size) / input_size)
    tl = centre - half
    br = 2 * half + tl
    return tl.astype(int), br.astype(int)


def _fabrec_matrix(box, settings: CropSettings) -> np.ndarray:
    """Image -> crop for the `3fabrec` rule: (p + frame_offset - tl) * roi / (br - tl) - offset, per axis."""
    o = settings.frame_offset
    tl, br = fabrec_region(np.asarray(box, dtype=np.float64) + o, settings.extension, settings.input_size)
    scale = roi_size_for(settings.input_size) / (br - tl).astype(np.float64)
    shift = 0.0 if settings.roi else settings.centre_offset
    return np.array([[scale[0], 0.0, (o - tl[0]) * scale[0] - shift],
                     [0.0, scale[1], (o - tl[1]) * scale[1] - shift]])


def _fabrec_pixels(image: np.ndarray, box, settings: CropSettings) -> np.ndarray:
    """The original's crop pixels: the ROI cut out of the zero-padded image, bicubic-resized to roi x roi.

    The original pads the image by its own width and height on each side (more if the ROI starts further
    out) and slices; a ROI reaching past that padding on the right or bottom is cut short there and the
    resize stretches it. Both are reproduced without building the padded image."""
    tl, br = fabrec_region(np.asarray(box, dtype=np.float64) + settings.frame_offset, settings.extension,
                           settings.input_size)
    h, w = image.shape[:2]
    dilate = np.maximum(-(tl + (w, h)), 0)
    end = np.minimum(br, np.array((2 * w, 2 * h)) + dilate)  # the padded image's far edge
    size = end - tl
    if (size <= 0).any():
        raise ValueError(f"face box {tuple(box)} lies entirely outside the {w}x{h} image")
    region = np.zeros((size[1], size[0], *image.shape[2:]), dtype=image.dtype)
    sx0, sy0 = max(tl[0], 0), max(tl[1], 0)
    sx1, sy1 = min(end[0], w), min(end[1], h)
    if sx1 > sx0 and sy1 > sy0:
        region[sy0 - tl[1]:sy1 - tl[1], sx0 - tl[0]:sx1 - tl[0]] = image[sy0:sy1, sx0:sx1]
    roi = roi_size_for(settings.input_size)
    out = cv2.resize(region, (roi, roi), interpolation=cv2.INTER_CUBIC)
    if settings.roi:
        return out
    start = int(settings.centre_offset)
    return np.ascontiguousarray(out[start:start + settings.input_size, start:start + settings.input_size])


def crop_matrix(box, settings: CropSettings) -> np.ndarray:
    """The 2 x 3 affine map from image coordinates to crop coordinates for a face box."""
    if settings.rule == "3fabrec":
        return _fabrec_matrix(box, settings)
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
    if settings.rule == "3fabrec":
        return _fabrec_pixels(image, box, settings), matrix
    return warp(image, matrix, settings.output_size), matrix


def centre_crop_matrix(settings: CropSettings) -> np.ndarray:
    """The map from a ROI crop to its input-size square (a pure shift by the rule's centre offset)."""
    offset = settings.centre_offset
    return np.array([[1.0, 0.0, -offset], [0.0, 1.0, -offset]])


def compose(*matrices: np.ndarray) -> np.ndarray:
    """compose(A, B, C) applies A first, then B, then C."""
    total = np.eye(3)
    for m in matrices:
        total = np.vstack([m, [0, 0, 1]]) @ total
    return total[:2]
