"""Crop throughput, cold (decode the photo and crop) and cached (read the stored crop), through the DataLoader.

    python benchmarks/crop_throughput.py [--faces 300] [--workers 0 2] [--photo-size 1200]

Synthetic WFLW faces are drawn, then their pictures are upscaled so the long side is about --photo-size px,
like the WFLW photos (this makes the cold path pay a realistic JPEG decode). Each configuration runs one
epoch with an empty cache (cold: decode + crop + write the cache) and one more with the cache filled, both
with 3FabRec's AE augmentation (preset 4) at 256 px; it prints crops/s and the speed-up.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2

from fabrec_bench.faces.augment import PRESETS
from fabrec_bench.faces.facedata import FaceCrops
from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench.torch_helpers.torchdata import face_loader
from fabrec_bench_plugins.datasets.wflw import WFLWDataset


def upscale_release(root: Path, photo_size: int) -> None:
    """Resize every picture so its long side is `photo_size`, scaling the annotation file to match."""
    ann = root / "WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_train.txt"
    factors = {}
    for path in (root / "WFLW_images").rglob("*.jpg"):
        img = cv2.imread(str(path))
        f = photo_size / max(img.shape[:2])
        factors[path.relative_to(root / "WFLW_images").as_posix()] = f
        cv2.imwrite(str(path), cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC),
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
    lines = []
    for line in ann.read_text().splitlines():
        t = line.split()
        f = factors[t[-1]]
        lines.append(" ".join([f"{float(v) * f:.6f}" for v in t[:196]] + [str(int(float(v) * f)) for v in t[196:200]]
                              + t[200:]))
    ann.write_text("\n".join(lines) + "\n")


def epoch(loader) -> float:
    start = time.perf_counter()
    n = sum(batch["image"].shape[0] for batch in loader)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faces", type=int, default=300)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--photo-size", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fabrec-bench-crops-"))
    try:
        root = tmp / "WFLW"
        write_wflw(root, n_train=args.faces, n_test=6, seed=0)
        upscale_release(root, args.photo_size)
        split = WFLWDataset().load_split(root, "train")
        print(f"{len(split)} faces, photos upscaled to {args.photo_size} px long side, crops 256 px (ROI 363), "
              f"augmentation preset 4, batch {args.batch_size}")
        print(f"{'workers':>7} {'cold crops/s':>13} {'cached crops/s':>15} {'speed-up':>9}")
        for workers in args.workers:
            cache = tmp / f"cache-{workers}"
            crops = FaceCrops(split.samples, split.scheme, input_size=256, extension=WFLWDataset.crop_box_extension,
                              augment=PRESETS[4], cache_root=cache, dataset_name="wflw")
            cold = epoch(face_loader(crops, args.batch_size, shuffle=True, workers=workers))
            crops.set_epoch(1)
            cached = epoch(face_loader(crops, args.batch_size, shuffle=True, workers=workers))
            print(f"{workers:>7} {cold:>13.1f} {cached:>15.1f} {cached / cold:>8.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
