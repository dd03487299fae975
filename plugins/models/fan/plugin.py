"""Registers the `fan` model: 2D-FAN-4's released weights, run as face-alignment's API runs them."""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import OriginalFrame, released_weights
from fabrec_bench_plugins.models.fan import releases
from fabrec_bench_plugins.models.fan.options import FanOptions


def load_model(path: Path, context="auto"):
    from fabrec_bench_plugins.models.fan.model import FanModel

    return FanModel.load(path, context)


def details() -> dict:
    from fabrec_bench_plugins.models.fan.decoding import SOURCE as DECODING
    from fabrec_bench_plugins.models.fan.network import parameter_count
    from fabrec_bench_plugins.models.fan.preprocess import SOURCE as CROP

    return {
        "paper": releases.PAPER,
        "code": f"github.com/{releases.REPOSITORY} (v1.5.0, {releases.COMMIT}; TorchScript releases v1.3-v1.4.1), "
                f"{releases.LICENCE} licence",
        "architecture": "2D-FAN-4: conv 7x7/2, three multi-scale residual blocks (three chained 3x3 convolutions "
                        "concatenated), four stacked hourglasses of depth 4 (2x2 average pooling, nearest "
                        "upsampling), each with a 1x1 head to 68 heatmaps of 64 x 64 fed back into the next stack; "
                        "the last stack's heatmaps are read",
        "parameters": f"{parameter_count():,}",
        "checkpoints accepted": {
            "state dict": "2DFAN4-11f355bf06.pth.tar as downloaded (face-alignment 1.0-1.2 and 1.5): conv1.*, bn1.*, "
                          "conv2-4.*, m0-3.*, top_m_0-3.*, conv_last0-3.*, bn_end0-3.*, l0-3.*, bl0-2.*, al0-2.*; "
                          "one saved before PyTorch 0.4.1 may lack BatchNorm's num_batches_tracked (filled with 0, "
                          "as load_state_dict does; eval mode never reads them), and no other key",
            "TorchScript": "2DFAN4-cd938726ad.zip, 2DFAN4_1.5-*.zip, 2DFAN4_1.6-*.zip (face-alignment 1.3-1.4): only "
                           "the tensors of data.pkl are read, by an unpickler that allows tensors and script-module "
                           "records and nothing else; the archive's code is never compiled or run",
            "refused, one line each": "another layout (the keys missing named), a truncated file, a pickle holding "
                                      "Python objects, a TorchScript archive naming anything but tensors",
        },
        "crop": f"from the face box: centre moved up by 0.12 h, scale (w + h) / reference_scale (195), 256 px window "
                f"found through a float32 transform truncated to integers, zero padding, OpenCV bilinear resize; "
                f"RGB / 255 ({CROP}). Box source: the run's (--box-source ground-truth|landmarks|detector-hog|"
                f"detector-haar); FAN was trained on its own detectors' boxes",
        "decoding": f"argmax per 64 x 64 heatmap, a quarter cell towards the larger neighbour, - 0.5, inverse "
                    f"transform (float64 pseudo-inverse) truncated to whole pixels ({DECODING})",
        "flip test": "the API's flip_input: default on in v1.5.0 (the .pth.tar), off in v1.3-v1.4 (TorchScript); "
                     "--config flip=true|false",
        "centre type": "v1.5.0: a float64 NumPy array. v1.4.1: torch.tensor of the box values, so the boxes' type: "
                       "float64 for the NumPy rows of its default S3FD detector (and BlazeFace), float32 for its "
                       "dlib detector's integers; followed: float64, --config centre_dtype=float32 for the other",
        "torch.compile": "v1.5.0 compiles the network by default (compile=True); fabrec-bench runs it eager. "
                         "Measured with random weights on 16 crops (2-core AMD EPYC, torch 2.14.1): heatmaps "
                         "within 1.5e-6 of their range, 0 of 2,176 landmarks changed; a real release's heatmaps "
                         "could still round a near-tie argmax the other way",
        "where to download": {r.file: f"{r.url} ({r.kind}; {r.where}{'; ' + r.note if r.note else ''})"
                              for r in releases.RELEASES},
    }


ORIGINAL_FRAME = OriginalFrame(
    "predictions.csv holds face-alignment's whole pixels as its API returns them: 0-based pixels of the image "
    "array, fabrec-bench's frame too, so nothing changes", shift=lambda facts: -facts.coordinate_origin)


@hookimpl
def fabrec_bench_register_models(register):
    register(released_weights(
        "fan", load=load_model,
        description="2D-FAN-4 (ICCV 2017), face-alignment's released weights run as its API runs them on face boxes",
        options=FanOptions, checkpoint_suffix=".pth.tar", details=details, original_frame=ORIGINAL_FRAME))
