"""How much face geometry a stage-1 autoencoder's 99-d code holds: a linear probe.

    python benchmarks/latent_probe.py --data-root DIR/WFLW AE.pt [AE2.pt ...] [random] [--counts 50,1500]

For each autoencoder (a stage-1 checkpoint, or `random` for the untrained network with the same seed) it
encodes the WFLW train and test faces (no augmentation), fits ridge regression from the code to the 98
landmarks (crop pixels) on the first N training faces, and prints the NME of that linear read-out on the test
faces beside mean-shape's. A code that only beats the random network's read-out with many labeled faces has
learned little geometry; the few-shot claim needs one whose read-out beats mean-shape from few faces. Cheap
(one encoder pass per face), so it can follow stage 1 while it trains.

`--supervised SECONDS` adds the bound from the other side: the same encoder trained from random weights with
labels, Q plus a linear layer regressing the landmarks from the 99-d code (L1 loss, Adam lr 1e-3, batches of
16, bf16 on CPU), on the first N faces for SECONDS each. If that beats mean-shape from few faces in minutes
while the autoencoder's read-out does not, the geometry is learnable and the unsupervised stage is what lags.

    python benchmarks/latent_probe.py --data-root DIR/WFLW random --supervised 180 --counts 50
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.faces.facedata import FaceCrops
from fabrec_bench.schemes import WFLW98
from fabrec_bench.torch_helpers.torchdata import face_loader, normalise
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.checkpoints import load_weights, read_checkpoint
from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB
from fabrec_bench_plugins.models.fabrec.networks import Fabrec


def crops_and_landmarks(samples, input_size: int, cache: Path) -> tuple[torch.Tensor, np.ndarray]:
    """Uint8 crops (N, S, S, 3) and crop-pixel landmarks (N, 98, 2), no augmentation."""
    crops = FaceCrops(samples, WFLW98, input_size=input_size, extension=tuple(WFLWDataset.crop_box_extension),
                      cache_root=cache, dataset_name="wflw")
    batches = list(face_loader(crops, 64))
    return (torch.cat([b["image"] for b in batches]),
            np.concatenate([b["landmarks"].numpy() for b in batches]).astype(np.float64))


def encode(net: Fabrec, images: torch.Tensor) -> np.ndarray:
    """Codes (N, 99) of uint8 crops."""
    with torch.inference_mode():
        codes = [net.Q(normalise(images[i:i + 64], "cpu", mean_rgb=IMAGE_MEAN_RGB)).float().numpy() for i in range(0, len(images), 64)]
    return np.concatenate(codes).astype(np.float64)


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


def supervised_bound(images: torch.Tensor, landmarks: np.ndarray, test_images: torch.Tensor,
                     test_landmarks: np.ndarray, seconds: float) -> tuple[float, int]:
    """Test NME of Q + linear read-out trained on the given labeled crops for `seconds`; and the batches run."""
    torch.manual_seed(0)
    input_size = images.shape[1]
    encoder = Fabrec(98, input_size).Q.to(memory_format=torch.channels_last)
    readout = torch.nn.Linear(encoder.fc.out_features, 98 * 2)
    params = list(encoder.parameters()) + list(readout.parameters())
    optimiser = torch.optim.Adam(params, lr=1e-3)
    targets = torch.from_numpy(landmarks).float() / input_size - 0.5
    generator = torch.Generator().manual_seed(0)
    started, batches = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        pick = torch.randint(len(images), (16,), generator=generator)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = readout(encoder(normalise(images[pick], "cpu", mean_rgb=IMAGE_MEAN_RGB).contiguous(memory_format=torch.channels_last)))
        loss = (out.float().view(-1, 98, 2) - targets[pick]).abs().mean()
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        batches += 1
    encoder.eval()
    with torch.inference_mode():
        predicted = torch.cat([readout(encoder(normalise(test_images[i:i + 64], "cpu", mean_rgb=IMAGE_MEAN_RGB)))
                               for i in range(0, len(test_images), 64)])
    predicted = (predicted.float().view(-1, 98, 2).numpy() + 0.5) * input_size
    return nme(predicted, test_landmarks), batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("autoencoders", nargs="+", help="stage-1 checkpoints, or `random`")
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--counts", default="50,1500", help="labeled training faces for the read-out")
    parser.add_argument("--ridge", type=float, default=1.0, help="ridge strength (codes are N(0, I)-like)")
    parser.add_argument("--test-faces", type=int, default=0, help="0: the whole test split")
    parser.add_argument("--cache", type=Path, default=Path("crop-cache"))
    parser.add_argument("--supervised", type=float, default=0, metavar="SECONDS",
                        help="also train Q + a linear read-out with labels for this long per count")
    args = parser.parse_args()

    train = WFLWDataset().load_split(args.data_root, "train").samples
    test = WFLWDataset().load_split(args.data_root, "test").samples
    test = test[: args.test_faces] if args.test_faces else test
    counts = [min(int(c), len(train)) for c in args.counts.split(",")]
    train = train[: max(counts)]
    print(f"{len(train)} training faces, {len(test)} test faces, {args.input_size} px, ridge {args.ridge}")
    train_images, l_train = crops_and_landmarks(train, args.input_size, args.cache)
    test_images, l_test = crops_and_landmarks(test, args.input_size, args.cache)
    mean_shape = nme(np.broadcast_to(l_train[: counts[0]].mean(axis=0), l_test.shape), l_test)
    header = f"{'autoencoder':<40}" + "".join(f"{f'N={n}':>10}" for n in counts) + f"{'mean-shape':>12}"
    print(header)
    for source in args.autoencoders:
        torch.manual_seed(0)
        state = {} if source == "random" else read_checkpoint(Path(source))[0]
        net = Fabrec.for_weights(state, 98, args.input_size)
        if state:
            load_weights(net, state, Path(source), head=False)
        net.eval()
        z_train, z_test = encode(net, train_images), encode(net, test_images)
        cells = []
        for n in counts:
            weights = ridge(z_train[:n], l_train[:n].reshape(n, -1), args.ridge)
            predicted = (np.c_[z_test, np.ones(len(z_test))] @ weights).reshape(l_test.shape)
            cells.append(nme(predicted, l_test))
        print(f"{source[-40:]:<40}" + "".join(f"{c:>10.2f}" for c in cells) + f"{mean_shape:>12.2f}")
    if args.supervised:
        bounds = [supervised_bound(train_images[:n], l_train[:n], test_images, l_test, args.supervised) for n in counts]
        label = f"supervised Q, {args.supervised:.0f} s ({'/'.join(str(b) for _, b in bounds)} batches)"
        print(f"{label[-40:]:<40}" + "".join(f"{c:>10.2f}" for c, _ in bounds) + f"{mean_shape:>12.2f}")


if __name__ == "__main__":
    main()
