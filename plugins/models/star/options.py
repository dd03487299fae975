"""STAR's options (`--config KEY=VALUE`; `fabrec-bench models info star`); importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import Options, option


@dataclass(frozen=True)
class StarOptions(Options):
    """Which weights of the checkpoint, and where each face's centre and scale come from."""

    weights: str = option("net", "the checkpoint's weights to run: net (what its tester.py and evaluate.py load) "
                                 "or net_ema (the moving average it also saves)", choices=("net", "net_ema"))
    metadata: str = option("", "ADNet's metadata file for the split (test.tsv): each face's centre and scale "
                                "from it, the very crops STAR's numbers were measured on")
    boxes: str = option("landmarks", "without metadata: STAR's demo rule (scale min(w, h) / 200 x 1.05 about the "
                                     "centre) on the ground truth's extent (landmarks) or on the run's face box "
                                     "(box: a detector's, one's own photographs)", choices=("landmarks", "box"))
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: the "
                                              "original's; TF32 off)", choices=("auto", "fp32", "bf16"))
    batch_size: int = option(16, "faces per forward pass (its test: 16)", minimum=1, changes_results=False)
