"""PIPNet's preprocessing: the crop box of every face, its labels as fractions of that box, the crop's pixels,
and the mean face (lib/preprocess.py; COFW-68 in lib/preprocess_gssl.py).

PIPNet never sees a whole image at test time. Its preprocessing cuts each face by a box rule of its own, resizes
the cut to 256 x 256 with cv2.resize, writes it to disk (JPEG, except 300-W images, which keep their own file
type) and writes the landmarks as fractions of the box: x' = (x - xmin) / w, y' = (y - ymin) / h. Its test reads
those files back and the network predicts the same fractions. The rules per dataset, in the annotation files'
own frame (300-W's and COFW's 1-based coordinates as written):

- WFLW (process_wflw): labels clamped into [0, W] x [0, H]; the annotation rectangle widened by 1.2 about its
  centre, clipped to [0, W - 1] x [0, H - 1].
- 300-W (process_300w): labels truncated with int(); the box is their extent, widened by int(0.05 * w) and
  int(0.05 * h) to the left and top, w and h scaled by 1.1 and truncated, the corner clipped at 0, w and h
  capped at W - xmin - 1 and H - ymin - 1.
- COFW (process_cofw): the [x y w h] box, its far corner at x + w - 1, clipped to the image; labels as written.
- COFW-68 (process_cofw_68_test): the [x y w h] box, its far corner at x + w - 1, widened by 1.3 about it (by the
  box's w and h), clipped; labels as written.
- AFLW (process_aflw): labels clamped into [0, W] x [0, H]; the (x1, x2, y1, y2) box clipped to the image.

The pixels are image[int(ymin):int(ymax), int(xmin):int(xmax)], while the labels use the unrounded box. Both
the model (fabrec_bench_plugins.models.pipnet) and the `pipnet` protocol's scoring frame use these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SOURCE = "lib/preprocess.py:6-135 (process_300w, process_cofw, process_wflw, process_aflw), " \
         "lib/preprocess_gssl.py:136-161 (process_cofw_68_test)"


@dataclass(frozen=True)
class CropBox:
    """One face's crop box as PIPNet's preprocessing computes it, in the annotation files' frame."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    @property
    def width(self) -> float:
        return self.xmax - self.xmin

    @property
    def height(self) -> float:
        return self.ymax - self.ymin

    def to_fractions(self, points: np.ndarray) -> np.ndarray:
        """(L, 2) points -> fractions of the box (what the network predicts)."""
        return (np.asarray(points, dtype=np.float64) - [self.xmin, self.ymin]) / [self.width, self.height]

    def from_fractions(self, fractions: np.ndarray) -> np.ndarray:
        """Fractions of the box -> (L, 2) points in the frame the box is in."""
        return np.asarray(fractions, dtype=np.float64) * [self.width, self.height] + [self.xmin, self.ymin]

    def pixels(self, image: np.ndarray) -> np.ndarray:
        """The image cut as the preprocessing cuts it: the box's corners truncated to whole pixels."""
        return image[int(self.ymin):int(self.ymax), int(self.xmin):int(self.xmax)]


def _clamp(points: np.ndarray, width: float, height: float) -> np.ndarray:
    return np.stack([np.clip(points[:, 0], 0, width), np.clip(points[:, 1], 0, height)], axis=1)


def _wflw(gt, box, size) -> tuple[np.ndarray, CropBox]:
    width, height = size
    xmin, ymin, xmax, ymax = box
    w, h = xmax - xmin, ymax - ymin
    scale = 1.2
    xmin, ymin = xmin - w * (scale - 1) / 2, ymin - h * (scale - 1) / 2
    xmax, ymax = xmax + w * (scale - 1) / 2, ymax + h * (scale - 1) / 2
    crop = CropBox(max(xmin, 0), max(ymin, 0), min(xmax, width - 1), min(ymax, height - 1))
    return _clamp(gt, width, height), crop


def _300w(gt, box, size) -> tuple[np.ndarray, CropBox]:
    width, height = size
    gt = np.trunc(gt)  # int(float(x)) of the .pts values
    xmin, ymin = int(gt[:, 0].min()), int(gt[:, 1].min())
    w, h = int(gt[:, 0].max()) - xmin, int(gt[:, 1].max()) - ymin
    scale = 1.1
    xmin -= int((scale - 1) / 2 * w)
    ymin -= int((scale - 1) / 2 * h)
    w, h = int(w * scale), int(h * scale)
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    w, h = min(w, int(width) - xmin - 1), min(h, int(height) - ymin - 1)
    return gt, CropBox(xmin, ymin, xmin + w, ymin + h)


def _cofw_box(box, size, scale) -> CropBox:
    width, height = size
    xmin, ymin = box[0], box[1]
    w, h = box[2] - box[0], box[3] - box[1]  # the file's [x y w h]
    xmax, ymax = xmin + w - 1, ymin + h - 1
    if scale != 1:
        xmin, ymin = xmin - w * (scale - 1) / 2, ymin - h * (scale - 1) / 2
        xmax, ymax = xmax + w * (scale - 1) / 2, ymax + h * (scale - 1) / 2
    return CropBox(max(xmin, 0), max(ymin, 0), min(xmax, width - 1), min(ymax, height - 1))


def _cofw(gt, box, size) -> tuple[np.ndarray, CropBox]:
    return gt, _cofw_box(box, size, 1)


def _cofw68(gt, box, size) -> tuple[np.ndarray, CropBox]:
    return gt, _cofw_box(box, size, 1.3)


def _aflw(gt, box, size) -> tuple[np.ndarray, CropBox]:
    width, height = size
    xmin, ymin, xmax, ymax = box
    crop = CropBox(max(xmin, 0), max(ymin, 0), min(xmax, width - 1), min(ymax, height - 1))
    return _clamp(gt, width, height), crop


# dataset -> rule(labels, box (x0, y0, x1, y1), image (width, height)) -> (labels as written, crop box),
# everything in the dataset's files' own frame.
BOX_RULES: dict[str, Callable[..., tuple[np.ndarray, CropBox]]] = {
    "wflw": _wflw, "300w": _300w, "cofw": _cofw, "cofw68": _cofw68, "aflw": _aflw}

# The file type the preprocessing writes each dataset's crops as (None: the source image's own type).
CROP_FILE_TYPE: dict[str, str | None] = {"wflw": ".jpg", "300w": None, "cofw": ".jpg", "cofw68": ".jpg",
                                         "aflw": ".jpg"}


def box_rule(dataset: str) -> Callable[..., tuple[np.ndarray, CropBox]]:
    """The preprocessing rule of `dataset`, or a one-line error naming the datasets PIPNet has rules for."""
    from fabrec_bench.errors import UserError

    if dataset not in BOX_RULES:
        raise UserError(f"PIPNet's preprocessing has no crop rule for dataset '{dataset}' (it has "
                        f"{', '.join(BOX_RULES)}); pass --config crop=box to crop by the face box instead")
    return BOX_RULES[dataset]


def given_box(gt, box, size) -> tuple[np.ndarray, CropBox]:
    """`crop=box`: any face box (a detector's, one's own photographs) cut as WFLW's rule cuts its rectangle."""
    return _wflw(gt if gt is not None else np.zeros((0, 2)), box, size)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) from the image file's header."""
    from PIL import Image

    with Image.open(path) as image:
        return image.size


def image_sizes(paths: Sequence[str | Path]) -> np.ndarray:
    """(N, 2) widths and heights, each file read once."""
    sizes: dict[str, tuple[int, int]] = {}
    for path in map(str, paths):
        if path not in sizes:
            sizes[path] = image_size(path)
    return np.array([sizes[str(p)] for p in paths], dtype=np.float64).reshape(-1, 2)


def crop_pixels(image: np.ndarray, crop: CropBox, input_size: int, file_type: str) -> np.ndarray:
    """The BGR crop the test reads: cut, cv2.resize to input_size (bilinear), written as `file_type` (cv2's
    defaults: JPEG at quality 95) and read back, as the preprocessing writes its crop files ("": not written)."""
    import cv2

    cut = crop.pixels(image)
    if cut.size == 0:
        raise ValueError(f"crop box ({crop.xmin:g}, {crop.ymin:g})-({crop.xmax:g}, {crop.ymax:g}) holds no pixel "
                         f"of the {image.shape[1]}x{image.shape[0]} image")
    resized = cv2.resize(cut, (input_size, input_size))
    if not file_type:
        return resized
    ok, encoded = cv2.imencode(file_type, resized)
    if not ok:
        raise ValueError(f"OpenCV cannot write a {file_type} image")
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR)


def mean_face(labels: np.ndarray) -> np.ndarray:
    """gen_meanface: the mean of the training labels (N, L, 2) in crop fractions, as (L, 2)."""
    labels = np.asarray(labels, dtype=np.float64)
    return np.mean(labels.reshape(len(labels), -1), axis=0).reshape(-1, 2)
