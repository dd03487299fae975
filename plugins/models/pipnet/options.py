"""PIPNet's options (`--config KEY=VALUE`; `fabrec-bench models info pipnet`); importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import RecipeTraining, option

BACKBONE_CHOICES = ("auto", "resnet18", "resnet50", "resnet101")
CROP_CHOICES = ("pipnet", "box")


@dataclass(frozen=True)
class PipNetOptions(RecipeTraining):
    """The variant (read from the checkpoint unless given), the mean face, and how faces are cut."""

    backbone: str = option("auto", "the checkpoint's ResNet (auto: read from its keys; a value given must match "
                                   "them)", choices=BACKBONE_CHOICES)
    meanface: str = option("", "PIPNet's data/<DATA>/meanface.txt for the neighbour tables; empty: computed from "
                               "the dataset's training split as its preprocessing computes it")
    input_size: int = option(256, "the crop side the network sees, in pixels (every released config: 256)",
                             minimum=32)
    num_nb: int = option(0, "mean-face neighbours per landmark (0: read from the checkpoint; the releases: 10)",
                         minimum=0)
    net_stride: int = option(0, "the network's stride (0: read from the checkpoint; the releases: 32)",
                             choices=(0, 16, 32, 64, 128))
    crop: str = option("pipnet", "pipnet: each dataset's box rule as its preprocessing applies it (300-W's box "
                                 "from the ground-truth landmarks); box: the run's face box (a detector's, or a "
                                 "dataset PIPNet has no rule for) widened by 1.2 as WFLW's", choices=CROP_CHOICES)
    crop_files: bool = option(True, "write each crop as the preprocessing writes it (JPEG at quality 95; 300-W's "
                                    "in its source image's type) and read it back, as its test reads them")
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: the "
                                              "original's; TF32 off)", choices=("auto", "fp32", "bf16"))
    batch_size: int = option(32, "faces per forward pass (the original's test: 1; the result is the same to "
                                 "float rounding)", minimum=1, changes_results=False)
    # -- training by PIPNet's own recipe (`fabrec-bench run -m pipnet`; fabrec_bench_plugins.models.pipnet.recipe)
    backbone_weights: str = option("", "the backbone's initialisation when training: a torchvision ResNet state "
                                       "dict file (resnet18-f37072fd.pth ...), 'torchvision' for the one in torch's "
                                       "hub cache (never downloaded), or empty for scratch (pretrained=False)")

