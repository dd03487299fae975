"""What bf16 (or fp16) inference changes against exact fp32, on a 3FabRec model trained here.

    python benchmarks/precision_effect.py --checkpoint RUN_DIR/checkpoint.pt --data-root demo-out/WFLW \
        [--dataset wflw] [--split test] [--precision bf16]

Predicts the split twice, in fp32 (the default, as the original computes) and in the other precision, and
prints how many landmarks move, by how much, and how the NME under the dataset's standard protocol changes,
with the time each pass took on this machine (the processor is printed: bf16 speed depends on it). A model
trained by `fabrec-bench demo` lies in demo-out/results/runs/*/checkpoint.pt.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from fabrec_bench import api
from fabrec_bench.plugins import get_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, type=Path, help="a 3fabrec checkpoint (or snapshot folder)")
    parser.add_argument("--data-root", required=True)
    parser.add_argument("--dataset", default="wflw")
    parser.add_argument("--split", default="test")
    parser.add_argument("--precision", default="bf16", choices=("bf16", "fp16"))
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from fabrec_bench.models import DatasetFacts, RunContext
    from fabrec_bench.torch_helpers.precision import processor
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel

    adapter = get_registry().dataset(args.dataset)
    split = api.load_split(args.dataset, args.split, data_root=args.data_root)
    model = FabrecModel.load(args.checkpoint, RunContext(device=args.device, dataset=DatasetFacts.of(adapter)))
    print(f"processor: {processor()}")
    print(f"{args.checkpoint}: {model.describe()['variant']}, input {model.net.input_size}; "
          f"{args.dataset}/{args.split}: {len(split)} faces x {split.scheme.num_points} landmarks")
    predictions, seconds, nme = {}, {}, {}
    for precision in ("fp32", args.precision):
        model.options = replace(model.options, inference_precision=precision)
        model.predict(split.samples[:2])  # warm-up (allocations, kernel choice)
        start = time.perf_counter()
        predictions[precision] = model.predict(split.samples)
        seconds[precision] = time.perf_counter() - start
        nme[precision] = api.evaluate(predictions[precision], split, adapter.protocol, adapter=adapter).metrics["nme"]
        print(f"{precision:>5}: NME {100 * nme[precision]:.3f} % ({adapter.protocol.normaliser}), "
              f"{len(split) / seconds[precision]:.1f} faces/s")
    shift = np.linalg.norm(predictions[args.precision] - predictions["fp32"], axis=-1)
    moved = shift > 1e-6
    total = shift.size
    print(f"landmarks that move in {args.precision}: {int(moved.sum())} of {total} ({100 * moved.mean():.2f} %)"
          + (f"; by {shift[moved].mean():.2f} px on average, at most {shift.max():.2f} px" if moved.any() else ""))
    print(f"faces with at least one moved landmark: {int(moved.any(axis=1).sum())} of {len(split)}")
    change = nme[args.precision] - nme["fp32"]
    print(f"NME change: {100 * change:+.4f} percentage points ({100 * change / nme['fp32']:+.3f} % relative)")


if __name__ == "__main__":
    main()
