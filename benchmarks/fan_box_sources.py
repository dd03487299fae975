"""How much the face box moves FAN's crop (and, given a checkpoint, its NME), per box source.

    python benchmarks/fan_box_sources.py --data-root 300W [--split full] [--checkpoint 2DFAN4-11f355bf06.pth.tar]

FAN crops around its box's centre moved up by 0.12 h, at scale (w + h) / 195: it was trained on its own
detectors' boxes, so the box a benchmark hands it changes what it sees. For each box source fabrec-bench has,
on a 300-W release: the faces found, how far FAN's crop centre lies from the one the dataset's ground-truth
box gives (median and 90th percentile, in % of the inter-ocular distance), the median ratio of crop sizes,
and the share of ground-truth landmarks outside the crop. The sources: `ground-truth` (300-W's
bb_ground_truth, the landmarks' extent), `300-W detector` (its bb_detector, dataset option
annotation_boxes=detector), `landmarks`, `detector-hog` (dlib's HOG, FAN's own dlib detector on CPU) and
`detector-haar`. With --checkpoint, each source's inter-ocular NME over the faces it found (the mean over
found faces; missed faces are counted, not scored).
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np
from crop_geometry import COLUMNS, geometry_cells

from fabrec_bench import api
from fabrec_bench.faces.boxes import apply_box_source
from fabrec_bench.plugins import get_registry
from fabrec_bench.torch_helpers.precision import processor
from fabrec_bench_plugins.models.fan import preprocess


def fan_windows(samples, origin: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) crop centres and (N,) crop sides in 0-based pixels, as FAN's API computes them from the boxes."""
    places = [preprocess.from_box(np.asarray(s.box_px, dtype=np.float64) - origin) for s in samples]
    return np.array([p.centre for p in places]), np.array([preprocess.SCALE_UNIT * p.scale for p in places])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True, help="a 300-W release (its folders and boxes)")
    parser.add_argument("--split", default="full")
    parser.add_argument("--checkpoint", type=Path, default=None, help="a 2D-FAN-4 release to score per source")
    args = parser.parse_args()
    registry = get_registry()
    sources = [("ground-truth", "ground-truth", "ground-truth"), ("300-W detector", "detector", "ground-truth"),
               ("landmarks", "ground-truth", "landmarks")]
    if importlib.util.find_spec("dlib"):
        sources.append(("detector-hog", "ground-truth", "detector-hog"))
    sources.append(("detector-haar", "ground-truth", "detector-haar"))
    print(f"cpu: {processor()}; data: {args.data_root} ({args.split})")
    reference = None
    header = f"{'box source':15s} {COLUMNS}" + (f" {'NME %':>7s}" if args.checkpoint else "")
    print(header)
    print("-" * len(header))
    for label, annotation_boxes, source in sources:
        adapter = api.get_adapter("300w", {"annotation_boxes": annotation_boxes}, registry)
        split = api.read_split(adapter, args.data_root, args.split)
        origin = adapter.coordinate_origin
        samples, missed = apply_box_source(list(split.samples), source)
        centres, sides = fan_windows(samples, origin)
        gt = np.stack([s.landmarks_px for s in samples]) - origin
        iod = np.linalg.norm(gt[:, 36] - gt[:, 45], axis=1)
        if reference is None:
            reference = (centres, sides)
        found = ~missed
        row = f"{label:15s} " + geometry_cells(found, centres[found], sides[found], reference, gt[found], iod[found])
        if args.checkpoint:
            from fabrec_bench.models import DatasetFacts, RunContext
            from fabrec_bench_plugins.models.fan.model import FanModel

            model = FanModel.load(args.checkpoint, RunContext(device="cpu", dataset=DatasetFacts.of(adapter)))
            kept = [s for s, f in zip(samples, found, strict=True) if f]
            pred = model.predict(kept) - origin
            nme = np.linalg.norm(pred - gt[found], axis=2).mean(axis=1) / iod[found]
            row += f" {nme.mean() * 100:7.2f}"
        print(row)


if __name__ == "__main__":
    main()
