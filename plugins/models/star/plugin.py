"""Registers the `star` model: STAR's released checkpoints, run as its test runs them."""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import OriginalFrame, files_frame, released_weights
from fabrec_bench_plugins.models.star import releases
from fabrec_bench_plugins.models.star.options import StarOptions


def load_model(path: Path, context="auto"):
    from fabrec_bench_plugins.models.star.model import StarModel

    return StarModel.load(path, context)


def details() -> dict:
    from fabrec_bench_plugins.models.star.network import parameter_count
    from fabrec_bench_plugins.models.star.preprocess import SOURCE

    return {
        "paper": releases.PAPER,
        "code": f"github.com/{releases.REPOSITORY} at {releases.COMMIT[:12]}; licence {releases.LICENCE}: written "
                "from the facts of its code, nothing copied",
        "architecture": "four stacked hourglasses (depth 4, 256 channels, pre-activation bottleneck blocks) with "
                        "CoordConv (coordinates, radius, and from the second stack the coordinates masked by the "
                        "previous stack's last heatmap), per stack heatmaps (instance norm, ReLU) fused with AAM "
                        "point and edge maps; soft-argmax of the last stack's fused heatmaps",
        "parameters": {f"{r.dataset} ({r.points} points)": f"{parameter_count(r.points, r.edges):,}"
                       for r in releases.RELEASES},
        "checkpoints accepted": {
            "STAR": "the released .pkl as downloaded: a dict with net (run by default, as tester.py and evaluate.py "
                    "load it), net_ema (--config weights=net_ema), optimizer, scheduler, epoch; or a bare state dict",
            "refused, one line each": "another layout (the keys missing named), another landmark count than the "
                                      "dataset's, a truncated file, a pickle holding Python objects",
        },
        "crop": "centre and scale from ADNet's metadata (--config metadata=test.tsv) or STAR's demo rule (min(w, h) "
                f"/ 200 x 1.05 about the centre of the ground truth's extent or the run's box); a float32 similarity "
                f"to 256 px, OpenCV warpPerspective of the BGR image, (x - 127.5) / 127.5 ({SOURCE})",
        "decoding": "soft-argmax of the last stack's fused heatmaps on a [-1, 1] grid; to crop pixels with "
                    "align_corners False, then the float32 inverse of the crop matrix (evaluate.py)",
        "protocol": "`--protocol star` scores as evaluate.py and lib/metric (inter-ocular; COFW inter-pupil)",
        "where to download": {f"{r.dataset} ({r.points} points)": f"{r.google} or {r.baidu} (STAR README.md, "
                                                                  "Pretrained model)" for r in releases.RELEASES},
        "metadata": {r.dataset: f"{r.metadata} ({releases.ADNET} README.md, Resources)" for r in releases.RELEASES},
    }


ORIGINAL_FRAME = OriginalFrame(
    "predictions.csv holds STAR's predictions in fabrec-bench's 0-based frame; its evaluate.py returns them in "
    "its metadata's frame, the dataset files' own: 1 more on 300-W and COFW (1-based), the same on WFLW",
    shift=files_frame)


@hookimpl
def fabrec_bench_register_models(register):
    register(released_weights(
        "star", load=load_model,
        description="STAR (CVPR 2023), released stacked-hourglass checkpoints run as its test runs them",
        options=StarOptions, checkpoint_suffix=".pkl", details=details, original_frame=ORIGINAL_FRAME))
