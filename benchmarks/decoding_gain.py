"""What sub-pixel decoding gains: the NME that heatmap decoding alone costs, on synthetic WFLW faces.

    python benchmarks/decoding_gain.py [--faces 150] [--input-size 256]

For every test face, a perfect head's output is simulated: a continuous Gaussian (sigma 7 heatmap pixels)
centred exactly on each true landmark in the crop. It is decoded with `argmax` (the reference protocol:
9x9 box blur, integer argmax, x2) and with `quarter` (a quarter-pixel step towards the larger neighbour),
mapped back to original-image pixels through the crop pipeline, and scored with WFLW's inter-ocular NME.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.api import evaluate
from fabrec_bench.faces.crops import CropSettings, crop_matrix, to_crop, to_image
from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.heatmaps import DECODINGS, decode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=150)
    parser.add_argument("--input-size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "WFLW"
        write_wflw(root, n_train=1, n_test=args.faces, seed=3)
        split = WFLWDataset().load_split(root, "test")
        settings = CropSettings(args.input_size, extension=WFLWDataset.crop_box_extension)
        matrices = [crop_matrix(s.box_px, settings) for s in split.samples]
        in_crop = np.stack([to_crop(s.landmarks_px, m) for s, m in zip(split.samples, matrices, strict=True)])
        p = torch.tensor(in_crop * 128 / args.input_size, dtype=torch.float32)
        grid = torch.arange(128.0)
        heatmaps = torch.exp(-((grid.view(1, 1, 1, -1) - p[..., 0, None, None]) ** 2
                               + (grid.view(1, 1, -1, 1) - p[..., 1, None, None]) ** 2) / (2 * 7.0 ** 2))
        print(f"{len(split)} synthetic WFLW test faces, {args.input_size}-px crops, heatmaps 128 x 128")
        for method in DECODINGS:
            decoded = decode(heatmaps, args.input_size, method).numpy().astype(np.float64)
            pred = np.stack([to_image(d, m) for d, m in zip(decoded, matrices, strict=True)])
            nme = evaluate(pred, split, WFLWDataset.protocol).metrics["nme"]
            error_px = np.linalg.norm(decoded - in_crop, axis=-1).mean()
            print(f"{method:>8}: NME {100 * nme:.3f} %  (mean error {error_px:.3f} px in the crop)")


if __name__ == "__main__":
    main()
