"""PIPNet's scoring frame: where its test (lib/test.py) measures errors.

PIPNet's test compares the network's output, fractions of each face's crop box, with the labels its
preprocessing wrote in the same fractions, and normalises by the distance between two label points (or by 1 for
AFLW). Because a box's width and height differ, that is not the image frame: errors along x and along y are
weighed differently. The boxes and labels per dataset are the preprocessing's
(fabrec_bench_plugins.models.pipnet.preprocess, which the PIPNet model crops by too).

Predictions go through the same map, unclamped (the network's output is not clamped either). The boxes this
frame returns are the unit box, so a per-axis box normaliser is 1 there, as PIPNet's AFLW norm.
"""

from __future__ import annotations

import numpy as np

from fabrec_bench.protocol import ScoringFrame
from fabrec_bench_plugins.models.pipnet.preprocess import BOX_RULES, SOURCE, image_sizes


def to_pipnet_frame(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray, split, dataset
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions, labels and unit boxes in PIPNet's frame (see the module docstring) for `split`."""
    rule = BOX_RULES[dataset.name]
    offset = dataset.file_origin - dataset.coordinate_origin  # back to the files' frame as written
    pred, gt, boxes = pred + offset, gt + offset, boxes + offset
    sizes = image_sizes([s.image_path for s in split.samples])
    out_pred, out_gt = np.empty_like(pred, dtype=np.float64), np.empty_like(gt, dtype=np.float64)
    for i in range(len(gt)):
        labels, crop = rule(gt[i], boxes[i], sizes[i])
        out_gt[i], out_pred[i] = crop.to_fractions(labels), crop.to_fractions(pred[i])
    return out_pred, out_gt, np.tile([0.0, 0.0, 1.0, 1.0], (len(gt), 1))


PIPNET_FRAME = ScoringFrame("pipnet-crop", "PIPNet's crop boxes (fractions of each face's crop box, labels as its "
                            "preprocessing writes them)", to_pipnet_frame, datasets=tuple(BOX_RULES), source=SOURCE)
