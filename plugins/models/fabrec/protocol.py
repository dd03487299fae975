"""How the 3FabRec paper's tables were scored, as the `3fabrec-paper` protocol, and 3FabRec's pupil-proxy
normaliser (the original's train_aae_landmarks.py and landmarks/lmutils.py).

The paper scored in the 256-pixel crop of the original's crop rule, in the frame of the annotation files as
written (300-W 1-based), with negative ground-truth coordinates clamped to 0 (its centre crop does that); NME
normalised by the outer eye corners (300-W 36/45, WFLW 60/72) and for AFLW by the crop side, 256 (the squared
box's max(w, h)); FR = NME > 10 %; AUC = mean CED at 50 thresholds on [0, 0.1].
"""

from __future__ import annotations

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.metrics import Normaliser
from fabrec_bench.protocol import DatasetRule, Protocol, ScoringFrame
from fabrec_bench.schemes import LandmarkScheme

CROP_SIZE = 256
# In the crop frame a face's box is the crop, so AFLW's box-max is 256.
PAPER_RULES = {"wflw": DatasetRule("inter-ocular", 0.10, "landmarks/lmutils.py, calc_landmark_nme: 98 points -> 60/72"),
               "300w": DatasetRule("inter-ocular", 0.10, "landmarks/lmutils.py, calc_landmark_nme: ocular_norm "
                                                         "'outer' -> 36/45"),
               "aflw": DatasetRule("box-max", 0.10, "landmarks/lmutils.py, calc_landmark_nme: 19 points -> "
                                                    "image_size (the crop side)")}


def to_crop_frame(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray, split, dataset) -> tuple[np.ndarray, ...]:
    """Predictions, ground truth and boxes in the 256-px crop of 3FabRec's crop rule, as the original scored:
    the frame of the annotation files as written, ground truth clamped at 0, each face's box the crop.
    `dataset` is the split's fabrec_bench.models.DatasetFacts (its crop-box extension and frames)."""
    from fabrec_bench.faces.crops import CropSettings, crop_matrix, to_crop

    settings = CropSettings(CROP_SIZE, extension=tuple(dataset.crop_box_extension), rule="3fabrec",
                            frame_offset=dataset.file_origin - dataset.coordinate_origin)
    matrices = [crop_matrix(box, settings) for box in boxes]
    pred_crop = np.stack([to_crop(p, m) for p, m in zip(pred, matrices, strict=True)]) if len(pred) else pred
    gt_crop = np.stack([to_crop(g, m) for g, m in zip(gt, matrices, strict=True)]) if len(gt) else gt
    crop_boxes = np.tile([0.0, 0.0, CROP_SIZE, CROP_SIZE], (len(boxes), 1))
    return pred_crop, np.maximum(gt_crop, 0.0), crop_boxes


CROP_FRAME = ScoringFrame("3fabrec-crop", "3FabRec's 256-px crops of the annotation box, ground truth clamped at 0",
                          to_crop_frame, datasets=tuple(PAPER_RULES),
                          source="csl_common/utils/{geometry,image_loader,cropping,transforms}.py")

PAPER_PROTOCOL = Protocol(
    name="3fabrec-paper",
    summary="how the 3FabRec paper's tables were scored: errors in the 256-px crop of the original's crop rule, "
            "in the annotation files' own frame, ground truth clamped at 0",
    follows="browatbn2/3FabRec: train_aae_landmarks.py, landmarks/lmutils.py, csl_common/utils/transforms.py "
            "(CenterCrop)",
    datasets=PAPER_RULES, metrics=None, fr_rule="strict", auc_rule="fabrec50", frame=CROP_FRAME,
    repository="browatbn2/3FabRec", commit="0c90f9109610332c49edc44ede677375e6813bfc",
    sources={"failure and AUC": "train_aae_landmarks.py, print_eval_metrics: NME > 10 %; AUC = mean of the CED at "
                                "linspace(0, 10, 50)",
             "frame": "csl_common/utils/transforms.py, CenterCrop: landmarks shifted into the 256 crop, negative "
                      "values set to 0"},
    notes=("AFLW is normalised by the crop side, 256: the squared annotation box's max(w, h).",
           "The crop is cut from the annotation box; --box-source does not apply."),
)


def fabrec_pupil_proxy(gt: np.ndarray, boxes: np.ndarray, scheme: LandmarkScheme) -> np.ndarray:
    """3FabRec's 'pupil' option: the mean of the inner-corner and outer-corner distances (68 points only)."""
    if scheme.num_points != 68:
        raise UserError("the fabrec-pupil normaliser is defined for 68-point schemes only")
    outer = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=-1)
    inner = np.linalg.norm(gt[:, 39] - gt[:, 42], axis=-1)
    return (outer + inner) / 2


PUPIL_PROXY = Normaliser("fabrec-pupil", fabrec_pupil_proxy, "3FabRec's pupil proxy (68 points)")
