"""How much face geometry a stage-1 autoencoder's 99-d code holds: a linear probe.

    python benchmarks/latent_probe.py --data-root DIR/WFLW AE.pt [AE2.pt ...] [random] [--counts 50,1500]

For each autoencoder (a stage-1 checkpoint, or `random` for the untrained network with the same seed) it
encodes the WFLW train and test faces (no augmentation), fits ridge regression from the code to the 98
landmarks (crop pixels) on the first N training faces, and prints the NME of that linear read-out on the test
faces beside mean-shape's. A code that only beats the random network's read-out with many labeled faces has
learned little geometry; the few-shot claim needs one whose read-out beats mean-shape from few faces. Cheap
(one encoder pass per face), so it can follow stage 1 while it trains.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.facedata import FaceCrops
from fabrec_bench.schemes import WFLW98
from fabrec_bench.torchdata import face_loader, normalise
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.model import load_weights, read_checkpoint
from fabrec_bench_plugins.models.fabrec.networks import Fabrec


def encode(net: Fabrec, samples, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Codes (N, 99) and crop-pixel landmarks (N, 98, 2)."""
    crops = FaceCrops(samples, WFLW98, input_size=net.input_size, extension=tuple(WFLWDataset.crop_box_extension),
                      cache_root=cache, dataset_name="wflw")
    codes, landmarks = [], []
    with torch.inference_mode():
        for batch in face_loader(crops, 64):
            codes.append(net.Q(normalise(batch["image"], "cpu")).float().numpy())
            landmarks.append(batch["landmarks"].numpy())
    return np.concatenate(codes).astype(np.float64), np.concatenate(landmarks).astype(np.float64)


def nme(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean NME (%) normalised by the outer eye corners (60, 72), WFLW's protocol."""
    ocular = np.linalg.norm(truth[:, 60] - truth[:, 72], axis=1)
    return float((np.linalg.norm(predicted - truth, axis=2).mean(axis=1) / ocular).mean() * 100)


def ridge(codes: np.ndarray, targets: np.ndarray, strength: float) -> np.ndarray:
    """Weights (with a bias row) of ridge regression; the bias is not penalised."""
    design = np.c_[codes, np.ones(len(codes))]
    penalty = strength * np.eye(design.shape[1])
    penalty[-1, -1] = 0
    return np.linalg.solve(design.T @ design + penalty, design.T @ targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autoencoders", nargs="+", help="stage-1 checkpoints, or `random`")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--counts", default="50,1500", help="labeled training faces for the read-out")
    parser.add_argument("--ridge", type=float, default=1.0, help="ridge strength (codes are N(0, I)-like)")
    parser.add_argument("--test-faces", type=int, default=0, help="0: the whole test split")
    parser.add_argument("--cache", type=Path, default=Path("crop-cache"))
    args = parser.parse_args()

    train = WFLWDataset().load_split(args.data_root, "train").samples
    test = WFLWDataset().load_split(args.data_root, "test").samples
    test = test[: args.test_faces] if args.test_faces else test
    counts = [min(int(c), len(train)) for c in args.counts.split(",")]
    train = train[: max(counts)]
    print(f"{len(train)} training faces, {len(test)} test faces, {args.input_size} px, ridge {args.ridge}")
    header = f"{'autoencoder':<40}" + "".join(f"{f'N={n}':>10}" for n in counts) + f"{'mean-shape':>12}"
    print(header)
    for source in args.autoencoders:
        torch.manual_seed(0)
        net = Fabrec(98, args.input_size)
        if source != "random":
            state, _ = read_checkpoint(Path(source))
            load_weights(net, state, Path(source), head=False)
        net.eval()
        z_train, l_train = encode(net, train, args.cache)
        z_test, l_test = encode(net, test, args.cache)
        cells = []
        for n in counts:
            weights = ridge(z_train[:n], l_train[:n].reshape(n, -1), args.ridge)
            predicted = (np.c_[z_test, np.ones(len(z_test))] @ weights).reshape(l_test.shape)
            cells.append(nme(predicted, l_test))
        mean_shape = nme(np.broadcast_to(l_train[: counts[0]].mean(axis=0), l_test.shape), l_test)
        print(f"{source[-40:]:<40}" + "".join(f"{c:>10.2f}" for c in cells) + f"{mean_shape:>12.2f}")


if __name__ == "__main__":
    main()
