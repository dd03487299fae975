"""FAN's options (`--config KEY=VALUE`; `fabrec-bench models info fan`); importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import Options, option


@dataclass(frozen=True)
class FanOptions(Options):
    """Which release's API to follow, and how the crop is made from the face box."""

    code: str = option("auto", "the face-alignment API to follow: 1.5 (the .pth.tar release: flip test on by "
                               "default) or 1.4 (the TorchScript releases 1.3-1.4: a torch centre, see "
                               "centre_dtype, no flip test); auto: by the checkpoint's kind", choices=("auto", "1.5", "1.4"))
    centre_dtype: str = option("auto", "the box centre's type under the 1.4 API, which makes it with torch.tensor "
                                       "and so follows the boxes' type: float64 for the numpy boxes its default "
                                       "S3FD (and BlazeFace) detector hands over and for a float64 array of "
                                       "given boxes; float32 for its dlib detector's integer boxes or a list of "
                                       "Python numbers; auto: float64. The 1.5 API always computes it in float64",
                                choices=("auto", "float32", "float64"))
    flip: str = option("auto", "flip test (the heatmaps of the mirrored crop added, flip_input); auto: the "
                               "API's default for `code`", choices=("auto", "true", "false"))
    reference_scale: float = option(195.0, "the detector's reference scale, scale = (w + h) / this (S3FD, dlib "
                                           "and folder boxes: 195; its RetinaFace, SCRFD and YuNet: 165)",
                                    minimum=1.0)
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: the "
                                              "original's; TF32 off)", choices=("auto", "fp32", "bf16"))
    batch_size: int = option(1, "faces per forward pass (the API's max_batch_size: 1)", minimum=1,
                             changes_results=False)
