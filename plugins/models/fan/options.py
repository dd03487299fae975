"""FAN's options (`--config KEY=VALUE`; `fabrec-bench models info fan`); importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import Options, option


@dataclass(frozen=True)
class FanOptions(Options):
    """Which release's API to follow, and how the crop is made from the face box."""

    code: str = option("auto", "the face-alignment API to follow: 1.5 (the .pth.tar release: float64 centre, "
                               "flip test on by default) or 1.4 (the TorchScript releases 1.3-1.4: float32 centre, "
                               "no flip test); auto: by the checkpoint's kind", choices=("auto", "1.5", "1.4"))
    flip: str = option("auto", "flip test (the heatmaps of the mirrored crop added, flip_input); auto: the "
                               "API's default for `code`", choices=("auto", "true", "false"))
    reference_scale: float = option(195.0, "the detector's reference scale, scale = (w + h) / this (S3FD, dlib "
                                           "and folder boxes: 195; its RetinaFace, SCRFD and YuNet: 165)",
                                    minimum=1.0)
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: the "
                                              "original's; TF32 off)", choices=("auto", "fp32", "bf16"))
    batch_size: int = option(1, "faces per forward pass (the API's max_batch_size: 1)", minimum=1,
                             changes_results=False)
