"""PIPNet's scoring frame: where its test (lib/test.py) measures errors.

PIPNet's preprocessing (lib/preprocess.py; COFW-68 in lib/preprocess_gssl.py) crops every test face by a box
rule of its own and writes the ground truth as fractions of that box: x' = (x - xmin) / w, y' = (y - ymin) / h.
Its test compares the network's output, in the same fractions, with those labels, and normalises by the
distance between two label points (or by 1 for AFLW). Because w and h differ, that is not the image frame:
errors along x and along y are weighed differently. The box and the labels per dataset, in the files' own
frame (300-W's and COFW's 1-based coordinates as written):

- WFLW (process_wflw): labels clamped into [0, W] x [0, H]; the annotation rectangle widened by 1.2 about its
  centre, clipped to [0, W - 1] x [0, H - 1].
- 300-W (process_300w): labels truncated with int(); the box is their extent, widened by int(0.05 * w) and
  int(0.05 * h) to the left and top, w and h scaled by 1.1 and truncated, the corner clipped at 0, w and h
  capped at W - xmin - 1 and H - ymin - 1.
- COFW (process_cofw): the [x y w h] box, its far corner at x + w - 1, clipped to the image; labels as written.
- COFW-68 (process_cofw_68_test): the [x y w h] box, its far corner at x + w - 1, widened by 1.3 about it (by the
  box's w and h), clipped; labels as written.
- AFLW (process_aflw): labels clamped into [0, W] x [0, H]; the (x1, x2, y1, y2) box clipped to the image.

Predictions go through the same map, unclamped (the network's output is not clamped either). The boxes this
frame returns are the unit box, so a per-axis box normaliser is 1 there, as PIPNet's AFLW norm.
"""

from __future__ import annotations

import numpy as np

from fabrec_bench.protocol import ScoringFrame

SOURCE = "lib/preprocess.py:6-135 (process_300w, process_cofw, process_wflw, process_aflw), " \
         "lib/preprocess_gssl.py:136-161 (process_cofw_68_test)"


def image_sizes(split) -> np.ndarray:
    """(N, 2) width and height of each face's image, read from the file headers (each file once)."""
    from PIL import Image

    sizes: dict[str, tuple[int, int]] = {}
    for sample in split.samples:
        path = str(sample.image_path)
        if path not in sizes:
            with Image.open(path) as image:
                sizes[path] = image.size
    return np.array([sizes[str(s.image_path)] for s in split.samples], dtype=np.float64).reshape(-1, 2)


def _wflw(gt, box, size):
    width, height = size
    gt = np.stack([np.clip(gt[:, 0], 0, width), np.clip(gt[:, 1], 0, height)], axis=1)
    xmin, ymin, xmax, ymax = box
    w, h = xmax - xmin, ymax - ymin
    scale = 1.2
    xmin, ymin = xmin - w * (scale - 1) / 2, ymin - h * (scale - 1) / 2
    xmax, ymax = xmax + w * (scale - 1) / 2, ymax + h * (scale - 1) / 2
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax, ymax = min(xmax, width - 1), min(ymax, height - 1)
    return gt, (xmin, ymin, xmax - xmin, ymax - ymin)


def _300w(gt, box, size):
    width, height = size
    gt = np.trunc(gt)  # int(float(x)) of the .pts values
    xmin, ymin = gt[:, 0].min(), gt[:, 1].min()
    w, h = gt[:, 0].max() - xmin, gt[:, 1].max() - ymin
    scale = 1.1
    xmin -= int((scale - 1) / 2 * w)
    ymin -= int((scale - 1) / 2 * h)
    w, h = int(w * scale), int(h * scale)
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    w, h = min(w, width - xmin - 1), min(h, height - ymin - 1)
    return gt, (xmin, ymin, w, h)


def _cofw_box(box, size, scale):
    width, height = size
    xmin, ymin = box[0], box[1]
    w, h = box[2] - box[0], box[3] - box[1]  # the file's [x y w h]
    xmax, ymax = xmin + w - 1, ymin + h - 1
    if scale != 1:
        xmin, ymin = xmin - w * (scale - 1) / 2, ymin - h * (scale - 1) / 2
        xmax, ymax = xmax + w * (scale - 1) / 2, ymax + h * (scale - 1) / 2
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax, ymax = min(xmax, width - 1), min(ymax, height - 1)
    return xmin, ymin, xmax - xmin, ymax - ymin


def _cofw(gt, box, size):
    return gt, _cofw_box(box, size, 1)


def _cofw68(gt, box, size):
    return gt, _cofw_box(box, size, 1.3)


def _aflw(gt, box, size):
    width, height = size
    gt = np.stack([np.clip(gt[:, 0], 0, width), np.clip(gt[:, 1], 0, height)], axis=1)
    xmin, ymin, xmax, ymax = box
    xmin, ymin = max(xmin, 0), max(ymin, 0)
    xmax, ymax = min(xmax, width - 1), min(ymax, height - 1)
    return gt, (xmin, ymin, xmax - xmin, ymax - ymin)


BOX_RULES = {"wflw": _wflw, "300w": _300w, "cofw": _cofw, "cofw68": _cofw68, "aflw": _aflw}


def to_pipnet_frame(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray, split, dataset
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions, labels and unit boxes in PIPNet's frame (see the module docstring) for `split`."""
    rule = BOX_RULES[dataset.name]
    offset = dataset.file_origin - dataset.coordinate_origin  # back to the files' frame as written
    pred, gt, boxes = pred + offset, gt + offset, boxes + offset
    sizes = image_sizes(split)
    out_pred, out_gt = np.empty_like(pred, dtype=np.float64), np.empty_like(gt, dtype=np.float64)
    for i in range(len(gt)):
        labels, (xmin, ymin, w, h) = rule(gt[i], boxes[i], sizes[i])
        origin, extent = np.array([xmin, ymin], dtype=np.float64), np.array([w, h], dtype=np.float64)
        out_gt[i] = (labels - origin) / extent
        out_pred[i] = (pred[i] - origin) / extent
    return out_pred, out_gt, np.tile([0.0, 0.0, 1.0, 1.0], (len(gt), 1))


PIPNET_FRAME = ScoringFrame("pipnet-crop", "PIPNet's crop boxes (fractions of each face's crop box, labels as its "
                            "preprocessing writes them)", to_pipnet_frame, datasets=tuple(BOX_RULES), source=SOURCE)
