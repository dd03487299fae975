"""Registers the `hrnet` model: HRNetV2-W18's released face checkpoints, evaluated as HRNet-Facial's test runs
them, and HRNetV2-W18 trained by HRNet-Facial's recipe."""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, ModelSpec, OriginalFrame, files_frame
from fabrec_bench_plugins.models.hrnet import releases
from fabrec_bench_plugins.models.hrnet.options import HRNetOptions


def load_model(path: Path, context="auto"):
    from fabrec_bench_plugins.models.hrnet.model import HRNetModel

    return HRNetModel.load(path, context)


def create_model(scheme, options: HRNetOptions, context):
    """A new HRNetV2-W18 to train by HRNet-Facial's recipe (torch is imported here, when a model is made)."""
    from fabrec_bench_plugins.models.hrnet.model import HRNetModel

    return HRNetModel.create(scheme, options, context)


def check_training(scheme, options: HRNetOptions) -> None:
    """The ImageNet file a training would start from, read and fitted now (one line if it does not fit)."""
    if options.backbone_weights:
        import torch

        from fabrec_bench_plugins.models.hrnet.network import HRNetFace
        from fabrec_bench_plugins.models.hrnet.training import backbone_state

        with torch.device("meta"):
            net = HRNetFace(scheme.num_points)
        backbone_state(options.backbone_weights, net)


def details() -> dict:
    from fabrec_bench_plugins.models.hrnet.network import parameter_count

    return {
        "paper": releases.PAPER,
        "code": f"github.com/{releases.REPOSITORY} at {releases.COMMIT[:12]}, {releases.LICENCE} licence",
        "architecture": "HRNetV2-W18: timm's hrnet_w18 backbone (its module layout carries the official weights "
                        "key for key; its fusion upsampling switched from nearest to bilinear, as HRNet-Facial's), "
                        "the four branches upsampled to 64 x 64 and concatenated (270 channels), conv 1x1, "
                        "BatchNorm, ReLU, conv 1x1 to one heatmap per landmark",
        "parameters": {f"{r.dataset} ({r.num_joints} points)": parameter_count(r.num_joints)
                       for r in releases.RELEASES[:4]},
        "checkpoints accepted": {
            "HRNet-Facial": "HR18-<DATASET>.pth as downloaded: a state dict (conv1.*, ..., head.*), with or "
                            "without DataParallel's 'module.', or under 'state_dict'",
            "mmpose 0.x": "hrnetv2_w18_<dataset>_256x256-<sha256 prefix>_<date>.pth: state_dict with backbone.* "
                          "and keypoint_head.final_layer.*; run through HRNet-Facial's test (mmpose's own flip "
                          "test and affine crop are not reproduced)",
            "refused, one line each": "any other layout (the keys missing for each layout named), another "
                                      "landmark count than the dataset's, a truncated file, a pickle holding "
                                      "Python objects",
        },
        "crop": "centre and scale from HRNet-Facial's annotation file (--config annotations=FILE) or from the "
                "ground truth's extent as its COFW loader computes them; scale x 1.25; crop() pads into a float32 "
                "window found through truncating transforms and resizes with SciPy 1.2's imresize (min-max byte "
                "scaling, PIL bilinear); /255, ImageNet mean and std",
        "decoding": "first maximum of each 64 x 64 heatmap, a quarter cell towards the larger neighbour, + 0.5, the "
                    "inverse transform truncated to whole pixels (decode_preds, transform_preds)",
        "protocol": "`--protocol hrnet` scores as its compute_nme (inter-ocular; AFLW by the box size)",
        "training (run -m hrnet)": "by HRNet-Facial's recipe (tools/train.py, lib/datasets/*.py, "
                                   "lib/utils/transforms.py, face_alignment_*_hrnet_w18.yaml): centre and scale as "
                                   "evaluation takes them, scale x 1.25 x U(0.75, 1.25), rotation U(-30, 30) deg "
                                   "w.p. 0.6, flip 0.5, crop() with imrotate and imresize, Gaussian heatmaps "
                                   "(sigma 1.5, 64 x 64), MSE, init_weights N(0, 0.001), Adam 1e-4, MultiStepLR "
                                   "[30, 50] x 0.1, 60 epochs, batch 16 (last partial batch kept). Backbone: "
                                   "--config backbone_weights=FILE (hrnetv2_w18_imagenet_pretrained.pth or timm's "
                                   "hrnet_w18) or =timm (the Hugging Face cache; never downloaded). Saves "
                                   "HRNet-Facial's layout",
        "where to download": {r.file: f"{r.url} ({r.where})" for r in releases.RELEASES},
        "annotation files": f"{releases.ANNOTATIONS} (HRNet-Facial README.md, Data step 1): "
                            + ", ".join(r.annotations for r in releases.RELEASES if r.annotations),
    }


ORIGINAL_FRAME = OriginalFrame(
    "predictions.csv holds HRNet-Facial's whole-pixel predictions in fabrec-bench's 0-based frame; its "
    "decode_preds returns them in the annotation files' frame, 1 more on 300-W and COFW (1-based .pts and "
    ".mat), the same on WFLW and AFLW", shift=files_frame)


@hookimpl
def fabrec_bench_register_models(register):
    register(ModelSpec(
        name="hrnet", create=create_model, load=load_model,
        description="HRNetV2-W18 (TPAMI 2020): released face checkpoints run as HRNet-Facial's test runs them "
                    "(eval --checkpoint), or trained here by its recipe (run)",
        options=HRNetOptions, capabilities=Capabilities(needs_training=True, precisions=("fp32", "bf16", "fp16")),
        checkpoint_suffix=".pth", details=details, original_frame=ORIGINAL_FRAME, check_training=check_training))
