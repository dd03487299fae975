"""HRNet's options (`--config KEY=VALUE`; `fabrec-bench models info hrnet`); importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import RecipeTraining, option


@dataclass(frozen=True)
class HRNetOptions(RecipeTraining):
    """Where each face's centre and scale come from, and how the network computes."""

    annotations: str = option("", "HRNet-Facial's processed annotation file (face_landmarks_<ds>_test.csv): each "
                                   "face's centre and scale from it, the very crops its numbers were measured on")
    boxes: str = option("landmarks", "without annotations: landmarks (the ground truth's extent, as its COFW "
                                     "loader computes centre and scale) or box (the run's face box: a detector's, "
                                     "one's own photographs)", choices=("landmarks", "box"))
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: the "
                                              "original's; TF32 off)", choices=("auto", "fp32", "bf16"))
    batch_size: int = option(8, "faces per forward pass (its test: 8)", minimum=1, changes_results=False)
    # -- training by HRNet-Facial's recipe (`fabrec-bench run -m hrnet`; fabrec_bench_plugins.models.hrnet.recipe)
    backbone_weights: str = option("", "the backbone's initialisation when training: HRNet's "
                                       "hrnetv2_w18_imagenet_pretrained.pth or timm's hrnet_w18 ImageNet file (the "
                                       "keys of the face network's backbone are taken, as its init_weights takes "
                                       "them), 'timm' for timm's in the Hugging Face cache (never downloaded), "
                                       "or empty for init_weights' N(0, 0.001) alone")
