"""The same predictions under every protocol that has rules for a dataset (the README's worked example).

Writes a synthetic tree in the dataset's official layout, makes predictions = ground truth + seeded Gaussian
noise whose size varies per face (so NMEs spread across the 5-10 % thresholds the codes use), writes them as a
predictions CSV and runs `fabrec-bench score PRED -d DATASET -s SPLIT --protocol all` on them.

    python benchmarks/protocols_side_by_side.py --dataset 300w --out /tmp/protocols
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

WRITERS = {"300w": "full", "wflw": "test", "aflw": "full", "cofw": "test"}


def write_tree(dataset: str, root: Path, seed: int) -> None:
    from fabrec_bench.synth.formats import write_300w, write_aflw, write_cofw
    from fabrec_bench.synth.wflw import write_wflw

    if dataset == "300w":
        write_300w(root, per_folder=12, seed=seed)
    elif dataset == "wflw":
        write_wflw(root, n_train=8, n_test=40, seed=seed)
    elif dataset == "aflw":
        write_aflw(root, faces=200, seed=seed)
    else:
        write_cofw(root, train=4, test=40, seed=seed, with_68=False)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(WRITERS), default="300w")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from click.testing import CliRunner

    from fabrec_bench import api
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.predictions import write_landmarks_csv
    from fabrec_bench_runners.cli import cli

    root = args.out / args.dataset
    if not root.exists():
        write_tree(args.dataset, root, args.seed)
    split_name = WRITERS[args.dataset]
    split = api.read_split(get_registry().dataset(args.dataset), root, split_name)
    rng = np.random.default_rng(args.seed)
    gt = split.landmarks()
    size = np.ptp(gt, axis=1).max(axis=1)  # the face's extent in pixels
    scale = rng.uniform(0.01, 0.05, len(gt)) * size
    pred = gt + rng.normal(0.0, 1.0, gt.shape) * scale[:, None, None]
    path = args.out / f"{args.dataset}-predictions.csv"
    write_landmarks_csv(path, split.ids, [str(s.image_path) for s in split.samples], pred)
    command = ["score", str(path), "-d", args.dataset, "-s", split_name, "--data-root", str(root), "--protocol", "all"]
    print("fabrec-bench " + " ".join(command))
    result = CliRunner().invoke(cli, ["--work-dir", str(args.out / "work"), *command], terminal_width=140)
    print(result.output, end="")
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
