"""The few-shot claim at small scale: an autoencoder-pretrained 3FabRec vs the same network from scratch vs
mean-shape, all trained on the same N labeled faces, scored on every WFLW test split.

    python benchmarks/fewshot.py --data-root DIR/WFLW --work-dir DIR/work [--train-count 50] [--device cuda]

Stage 1 trains on all faces of the WFLW train split with their labels ignored. Results land in the work
directory's results store; the script ends with the leaderboard.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from fabrec_bench.reports.leaderboard import build_rows, render
from fabrec_bench.runs import RunRequest, TrainingPlan, execute
from fabrec_bench.schemes import WFLW98
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

SPLITS = ("test", "pose", "expression", "illumination", "make-up", "occlusion", "blur")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--input-size", type=int, default=256)
    parser.add_argument("--ae-epochs", type=int, default=30)
    parser.add_argument("--ae-max-seconds", type=float, default=None, help="stop stage 1 after this budget")
    parser.add_argument("--ae-lr", type=float, default=2e-4)
    parser.add_argument("--ae-batch-size", type=int, default=64)
    parser.add_argument("--ae-daug", type=int, default=4, help="stage-1 augmentation level (0-7)")
    parser.add_argument("--daug", type=int, default=0, help="stage-2 augmentation level (0-7)")
    parser.add_argument("--train-encoder", action="store_true", help="also fine-tune Q in stage 2")
    parser.add_argument("--splits", default=",".join(SPLITS))
    parser.add_argument("--stage2-epochs", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=0, help="stage-2 batches (overrides --stage2-epochs)")
    parser.add_argument("--train-count", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()

    train = WFLWDataset().load_split(args.data_root, "train")
    start = time.perf_counter()
    summary = train_autoencoder(train.samples, WFLW98, args.work_dir / "ae", input_size=args.input_size,
                                epochs=args.ae_epochs, batch_size=args.ae_batch_size, preset="recon", lr=args.ae_lr, daug=args.ae_daug,
                                device=args.device, workers=args.workers, crop_extension=WFLWDataset.crop_box_extension,
                                cache_dir=args.work_dir / "crop-cache", seed=args.seed,
                                max_seconds=args.ae_max_seconds)
    print(f"stage 1: {len(train)} faces, {summary['epoch']} epochs, reconstruction L1 {summary['recon_l1']:.2f}, "
          f"{summary['images_per_second']} img/s, {time.perf_counter() - start:.0f} s")
    common = {"input_size": args.input_size, "epochs": args.stage2_epochs, "batch_size": 16,
              "workers": args.workers, "daug": args.daug, "iterations": args.iterations}
    splits = args.splits.split(",")
    configs = {
        "3fabrec": {**common, "autoencoder": str(args.work_dir / "ae" / "latest.pt"),
                    "train_encoder": args.train_encoder},
        "3fabrec-scratch": {**common, "init": "scratch"},
    }
    plan = TrainingPlan(count=args.train_count, seed=args.seed)
    for label, config in configs.items():
        outcomes = execute(RunRequest(model="3fabrec", dataset="wflw", splits=tuple(splits), model_options=config,
                                      training=plan, data_root=args.data_root, device=args.device, label=label),
                           args.work_dir)
        print(f"{label}: NME {100 * outcomes[0].evaluation.metrics['nme']:.2f} % on test "
              f"({outcomes[0].train_seconds:.0f} s training); run folder {outcomes[0].run_dir}")
    execute(RunRequest(model="mean-shape", dataset="wflw", splits=tuple(splits), training=plan,
                       data_root=args.data_root), args.work_dir)
    with ResultsStore(store_path(args.work_dir)) as store:
        rows = build_rows(store.runs(dataset="wflw"))
    print(render(rows, "markdown"))


if __name__ == "__main__":
    main()
