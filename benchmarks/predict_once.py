"""What predicting each distinct face once saves on WFLW's test split and its six attribute subsets.

    python benchmarks/predict_once.py [--test 150] [--data-root WFLW] [--seed 0]

Evaluates a PIPNet-R18 checkpoint (random weights: speed does not depend on them) on WFLW test + pose,
expression, illumination, make-up, occlusion and blur, once as one run (each distinct face predicted once, its
prediction shared by every split that holds it) and once as seven runs of one split each, in this one process.
Prints the faces each way hands the model, the wall time of each and their ratio, and the processor. Without
--data-root it draws a synthetic WFLW release (its subsets are smaller than the real ones, where test + subsets
are 5,553 faces for 2,500 distinct: 2.2x).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

SPLITS = ("test", "pose", "expression", "illumination", "make-up", "occlusion", "blur")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--test", type=int, default=150, help="synthetic test faces (without --data-root)")
    parser.add_argument("--data-root", type=Path, default=None, help="a WFLW release instead of synthetic faces")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    from fabrec_bench.runs import RunRequest, execute, face_key, prepare
    from fabrec_bench.synth.wflw import write_wflw
    from fabrec_bench.torch_helpers.precision import processor
    from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant

    with tempfile.TemporaryDirectory(prefix="predict-once-") as tmp:
        tmp = Path(tmp)
        root = args.data_root
        if root is None:
            root = tmp / "WFLW"
            write_wflw(root, n_train=40, n_test=args.test, seed=args.seed)
        torch.manual_seed(args.seed)
        checkpoint = tmp / "epoch59.pth"
        torch.save(PipNet(Variant("resnet18", 98, 10, 32)).state_dict(), checkpoint)

        def request(splits) -> RunRequest:
            return RunRequest(model="pipnet", dataset="wflw", splits=tuple(splits), checkpoint=checkpoint,
                              data_root=root, device="cpu")

        prepared = prepare(request(SPLITS), tmp / "count")
        sizes = {s.name: len(s) for s in prepared.eval_splits}
        distinct = len({face_key(f, "ground-truth") for s in prepared.eval_splits for f in s.samples})
        execute(request(["test"]), tmp / "warm-up")  # the first run pays for imports and the crop code's setup
        start = time.perf_counter()
        execute(request(SPLITS), tmp / "one-run")
        together = time.perf_counter() - start
        start = time.perf_counter()
        for split in SPLITS:
            execute(request([split]), tmp / f"run-{split}")
        apart = time.perf_counter() - start
    print(f"WFLW {', '.join(f'{k} {v}' for k, v in sizes.items())} faces ({'synthetic' if args.data_root is None else root})")
    print(f"one run: {distinct} faces predicted, {together:.1f} s; seven runs: {sum(sizes.values())} faces "
          f"predicted, {apart:.1f} s")
    print(f"faces ratio {sum(sizes.values()) / distinct:.2f}x; wall-time ratio (seven runs / one run) "
          f"{apart / together:.2f}x, measured in this run")
    print(f"processor: {processor()}")


if __name__ == "__main__":
    main()
