"""Registers the `pipnet` model: PIPNet's released checkpoints, evaluated as its own test code evaluates them,
and PIPNet trained by its own recipe."""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, ModelSpec, OriginalFrame
from fabrec_bench_plugins.models.pipnet import releases
from fabrec_bench_plugins.models.pipnet.options import PipNetOptions


def load_model(path: Path, context="auto"):
    """A PIPNet state dict as a model for a run with `context` (torch is imported here, not at registration)."""
    from fabrec_bench_plugins.models.pipnet.model import PipNetModel

    return PipNetModel.load(path, context)


def details() -> dict:
    """What `models info pipnet` shows besides the options."""
    from fabrec_bench_plugins.models.pipnet.network import Variant, parameter_count

    parameters = {}
    for backbone in ("resnet18", "resnet50", "resnet101"):
        counts = {f"{r.dataset} ({r.num_lms} points)": parameter_count(Variant(backbone, r.num_lms, 10, 32))
                  for r in releases.RELEASES if r.backbone == backbone}
        parameters[backbone] = counts
    return {
        "paper": releases.PAPER,
        "code": f"github.com/{releases.REPOSITORY} at {releases.COMMIT[:12]}, {releases.LICENCE} licence",
        "architecture": "torchvision ResNet-18/50/101 without pooling and fc (lib/networks.py), stride 32 at the "
                        "releases (an 8 x 8 map for 256-px crops), five 1x1 heads: a score map per landmark, its "
                        "x and y offsets within a cell, and the offsets of its num_nb mean-face neighbours",
        "parameters (num_nb 10, stride 32)": parameters,
        "checkpoints accepted": {
            "as released": "epoch59.pth, the state dict lib/train.py saves (torch.save(net.state_dict()))",
            "also": "the same with DataParallel's 'module.' prefix, or wrapped in a dict under "
                    + ", ".join(f"'{w}'" for w in ("state_dict", "model", "net")),
            "read from the keys": "backbone (blocks in layer3), landmarks (cls_layer), num_nb (nb_x_layer), "
                                  "net_stride (layer5/layer6/deconv1)",
            "refused, one line each": "another layout (the keys missing named), another landmark count than the "
                                      "dataset's, a truncated file, a pickle holding Python objects",
        },
        "crop": "per dataset as lib/preprocess.py cuts the test faces (WFLW: the rectangle x1.2; 300-W: the "
                "ground-truth landmarks' extent x1.1; COFW: the [x y w h] box; COFW-68: that box x1.3; AFLW: its "
                "box), clipped to the image, cv2.resize to 256, written as JPEG (quality 95; 300-W in its own "
                "type) and read back; RGB, ImageNet mean and std",
        "decoding": "per landmark the argmax cell plus its offsets, averaged with the votes of the landmarks "
                    "that count it among their num_nb mean-face neighbours (lib/functions.py forward_pip, "
                    "lib/test.py); fractions of the crop box, mapped back to image pixels",
        "mean face": "--config meanface=PATH (the repository's data/<DATA>/meanface.txt), or computed from the "
                     "dataset's training split as gen_meanface computes it",
        "protocol": "`--protocol pipnet` scores as lib/test.py prints (in its crop frame)",
        "training (run -m pipnet)": "by its own recipe (lib/train.py, lib/data_utils.py, lib/functions.py, "
                                    "pip_32_16_60_r*_l2_l1_10_1_nb10.py): the preprocessing's crops (JPEG round "
                                    "trip), translation, occlusion, flip, rotation, blur, RandomGrayscale(0.2); "
                                    "cell, offset and mean-face-neighbour targets; 10 x MSE + L1; Adam 1e-4 "
                                    "(weight decay 5e-4 from scratch), MultiStepLR [30, 50] x 0.1, 60 epochs, "
                                    "batch 16, last partial batch dropped. Backbone: --config "
                                    "backbone_weights=FILE (a torchvision ResNet state dict) or =torchvision "
                                    "(torch's hub cache; never downloaded), else scratch. Saves lib/train.py's "
                                    "state dict and meanface.txt beside it",
        "where to download": {
            "folder": releases.DOWNLOAD + " (README.md, Demo step 2; no sizes or checksums are published)",
            "files": {r.name: f"{r.checkpoint}; mean face {r.meanface}" for r in releases.RELEASES},
        },
    }


def crop_fractions(landmarks, split, facts):
    """predictions.csv's image pixels as fractions of each face's crop box, as PIPNet's lib/test.py keeps them."""
    from fabrec_bench_plugins.metrics.pipnet_frame import to_pipnet_frame

    return to_pipnet_frame(landmarks, split.landmarks(), split.boxes(), split, facts)[0]


ORIGINAL_FRAME = OriginalFrame(
    "predictions.csv holds PIPNet's predictions in fabrec-bench's 0-based image pixels; its lib/test.py keeps "
    "the network's output as fractions of each face's crop box (its preprocessing's box, crop=pipnet), which "
    "this map gives back", transform=crop_fractions,
    refuses=lambda options: None if options.get("crop", "pipnet") == "pipnet" else
    f"it cropped by the given box (crop={options['crop']}), not by the crop box PIPNet's preprocessing makes")


def create_model(scheme, options: PipNetOptions, context):
    """A new PIPNet to train by its own recipe (torch is imported here, when a model is made)."""
    from fabrec_bench_plugins.models.pipnet.model import PipNetModel

    return PipNetModel.create(scheme, options, context)


def check_training(scheme, options: PipNetOptions) -> None:
    """The backbone weights a training would start from, read and fitted now (one line if they do not fit)."""
    from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant
    from fabrec_bench_plugins.models.pipnet.training import backbone_state, load_backbone

    backbone = "resnet18" if options.backbone == "auto" else options.backbone
    state, _ = backbone_state(options.backbone_weights, backbone)
    if state is not None:
        load_backbone(PipNet(Variant(backbone, scheme.num_points, options.num_nb or 10, options.net_stride or 32)),
                      state, options.backbone_weights)


@hookimpl
def fabrec_bench_register_models(register):
    register(ModelSpec(
        name="pipnet", create=create_model, load=load_model,
        description="PIPNet (IJCV 2021): released checkpoints run as its test code runs them (eval --checkpoint), "
                    "or trained here by its own recipe (run)",
        options=PipNetOptions, capabilities=Capabilities(needs_training=True, precisions=("fp32", "bf16", "fp16")),
        checkpoint_suffix=".pth", details=details, original_frame=ORIGINAL_FRAME, check_training=check_training))
