"""How much the face box moves HRNetV2-W18's crop and its NME, per source of each face's centre and scale.

    python benchmarks/hrnet_box_sources.py --data-root WFLW [--dataset wflw] [--split test]
        [--checkpoint HR18-WFLW.pth | --train-minutes 15 [--train-split train]]

HRNet-Facial's published numbers were measured on crops from its processed annotation files
(face_landmarks_<ds>_test.csv). How they were made is written in issues, not in code: HRNet-Facial issue #3
gives scale = max(w, h) / 200 and centre = the box's middle, and a user there finds that WFLW's own rectangle
does not reproduce the file's values; mmpose issue #1415 (mmpose converted the same files) reads the box as the
smallest one holding all the landmarks. Those files cannot be downloaded here, so this script writes one by
that rule for the split (in HRNet-Facial's column layout) and runs the `hrnet` model with
`--config annotations=` on it: that is the reference. Each other source is a way a user without the file gets a centre and scale:

- `landmarks`: `--config boxes=landmarks` (the default: the landmarks' extent floored and ceiled to whole
  pixels, as its COFW loader computes it);
- `official box`: `--config boxes=box` with the dataset's own box (WFLW's rectangle, 300-W's
  bb_ground_truth, COFW's box);
- `detector-hog` (if dlib is installed) and `detector-haar`: `--box-source` with `boxes=box`.

Per source: the faces found, how far the crop centre lies from the reference's (median and 90th percentile, in
% of the inter-ocular distance), the median ratio of crop sides, the share of ground-truth landmarks outside
the crop, and, with a network, the inter-ocular NME over the faces found (HRNet's rule on these datasets) and
its change from the reference's.

The network: `--checkpoint` (a released HRNetV2-W18 for the dataset, as downloaded), or `--train-minutes M`,
which trains HRNetV2-W18 from scratch for at most M minutes on the `--train-split` faces by HRNet-Facial's own
recipe, the `hrnet` model's training (`fabrec-bench run -m hrnet`; fabrec_bench_plugins.models.hrnet.recipe,
checked against its code step by step), with the processed-file rule's centre and scale. It is saved in
HRNet-Facial's key layout and loaded back through `hrnet`'s own loader. Minutes on a CPU are far from its 60
epochs: such a network is far from the released one, and its NME changes say how a heatmap network trained on
one crop rule answers another, not what the released weights would score.
"""

from __future__ import annotations

import argparse
import importlib.util
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from crop_geometry import COLUMNS, geometry_cells

from fabrec_bench import api
from fabrec_bench.faces.boxes import apply_box_source
from fabrec_bench.metrics import inter_ocular_distance
from fabrec_bench.models import DatasetFacts, RunContext
from fabrec_bench.options import make_options
from fabrec_bench.plugins import get_registry
from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.precision import processor
from fabrec_bench_plugins.models.hrnet import preprocess
from fabrec_bench_plugins.models.hrnet.model import HRNetModel
from fabrec_bench_plugins.models.hrnet.network import HRNetFace
from fabrec_bench_plugins.models.hrnet.options import HRNetOptions
from fabrec_bench_plugins.models.hrnet.releases import MEAN_RGB, STD_RGB

INPUT, HEATMAP, SIGMA = 256, 64, 1.5
MEAN, STD = np.float32(MEAN_RGB), np.float32(STD_RGB)
SCALE_FACTOR, ROT_FACTOR, ROT_SHARE, FLIP_SHARE = 0.25, 30.0, 0.6, 0.5


def processed_file_rule(points: np.ndarray) -> preprocess.CentreScale:
    """HRNet-Facial's processed files as its issue #3 and mmpose issue #1415 describe them: the landmarks'
    smallest box, its middle and max(w, h) / 200."""
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return preprocess.CentreScale((x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) / 200.0)


def write_processed_file(samples, root: Path, offset: float, path: Path) -> None:
    """The split as HRNet-Facial's face_landmarks_<ds>_<split>.csv: image_name, scale, center_w, center_h, then
    x y per landmark, in the files' frame."""
    n = samples[0].landmarks_px.shape[0]
    header = ["image_name", "scale", "center_w", "center_h"] + [f"original_{i}_{a}" for i in range(n) for a in "xy"]
    lines = [",".join(header)]
    for s in samples:
        points = np.asarray(s.landmarks_px, dtype=np.float64) + offset
        where = processed_file_rule(points)
        name = Path(s.image_path).relative_to(root).as_posix()
        values = [where.scale, where.centre_w, where.centre_h, *points.reshape(-1)]
        lines.append(",".join([name] + [repr(float(v)) for v in values]))
    path.write_text("\n".join(lines) + "\n")


# -- the network, trained here by HRNet-Facial's recipe -------------------------------------------------------

def train_hrnet(train_samples, minutes: float, seed: int, adapter, root: Path, folder: Path,
                context: RunContext) -> tuple[HRNetModel, dict]:
    """HRNetV2-W18 trained from scratch by HRNet-Facial's recipe (the `hrnet` model's own training), for
    `minutes` at most, with the processed-file rule's centre and scale; returns it loaded back from its saved
    checkpoint, and the training's facts."""
    processed = folder / "face_landmarks_train.csv"
    offset = context.dataset.file_origin - context.dataset.coordinate_origin
    write_processed_file(train_samples, root, offset, processed)
    options = make_options(HRNetOptions, {"annotations": str(processed), "max_seconds": minutes * 60})
    model = HRNetModel.create(scheme_for_points(train_samples[0].landmarks_px.shape[0]), options,
                              replace(context, seed=seed, run_dir=folder))
    facts = model.train(train_samples)
    model.save(folder / "trained.pth")
    return HRNetModel.load(folder / "trained.pth", context), facts


# -- the table --------------------------------------------------------------------------------------------

def windows(model: HRNetModel, samples, offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2) crop centres and (N,) crop sides (image pixels, files' frame) the model uses for the samples."""
    places = [model.centre_scale(s, offset) for s in samples]
    return np.array([p.centre for p in places]), np.array([200 * p.padded_scale for p in places])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True, help="a release of the dataset (its layout)")
    parser.add_argument("--dataset", default="wflw", choices=("wflw", "300w", "cofw"))
    parser.add_argument("--split", default="test")
    network = parser.add_mutually_exclusive_group()
    network.add_argument("--checkpoint", type=Path, help="a released HRNetV2-W18 for the dataset")
    network.add_argument("--train-minutes", type=float, help="train a stand-in HRNetV2-W18 for this long")
    parser.add_argument("--train-split", default="train")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    registry = get_registry()
    adapter = api.get_adapter(args.dataset, None, registry)
    facts = DatasetFacts.of(adapter)
    context = RunContext(device="cpu", dataset=facts)
    offset = facts.file_origin - facts.coordinate_origin
    root = Path(args.data_root).resolve()
    samples = list(api.read_split(adapter, root, args.split).samples)
    print(f"cpu: {processor()}; torch {torch.__version__}; data: {root} ({args.dataset} {args.split}, "
          f"{len(samples)} faces)")

    scratch = Path(tempfile.mkdtemp(prefix="hrnet-box-sources-"))
    processed = scratch / f"face_landmarks_{args.dataset}_{args.split}.csv"
    write_processed_file(samples, root, offset, processed)
    scored = bool(args.checkpoint or args.train_minutes)
    if args.checkpoint:
        model = HRNetModel.load(args.checkpoint, context)
    else:
        if args.train_minutes:
            train = list(api.read_split(adapter, root, args.train_split).samples)
            print(f"training HRNetV2-W18 from scratch on {len(train)} {args.train_split} faces for at most "
                  f"{args.train_minutes:g} min, by HRNet-Facial's recipe (`fabrec-bench run -m hrnet`'s training)")
            model, facts = train_hrnet(train, args.train_minutes, args.seed, adapter, root, scratch, context)
            print(f"  {facts['iterations']} steps of {facts['batch_size']}, {facts['epochs_run']} epoch(s)")
        else:  # crop geometry only: the network is never run
            model = HRNetModel(HRNetFace(samples[0].landmarks_px.shape[0]), "hrnet-facial",
                               make_options(HRNetOptions), context)

    sources = [("processed file", "ground-truth", {"annotations": str(processed)}),
               ("landmarks", "ground-truth", {"boxes": "landmarks"}),
               ("official box", "ground-truth", {"boxes": "box"})]
    if importlib.util.find_spec("dlib"):
        sources.append(("detector-hog", "detector-hog", {"boxes": "box"}))
    sources.append(("detector-haar", "detector-haar", {"boxes": "box"}))
    header = f"{'centre and scale':16s} {COLUMNS}" + (f" {'NME %':>7s} {'change':>7s}" if scored else "")
    print(header)
    print("-" * len(header))
    gt_all = np.stack([s.landmarks_px for s in samples]) + offset
    iod = inter_ocular_distance(gt_all, np.zeros((len(samples), 4)), scheme_for_points(gt_all.shape[1]))
    reference = None
    for label, box_source, options in sources:
        model.options = replace(model.options, **{"annotations": "", **options})
        boxed, missed = apply_box_source(samples, box_source)
        found = ~missed
        kept = [s for s, f in zip(boxed, found, strict=True) if f]
        centres, sides = windows(model, kept, offset)
        gt, scale = gt_all[found], iod[found]
        if reference is None:
            reference = (centres, sides)
        row = f"{label:16s} " + geometry_cells(found, centres, sides, reference, gt, scale)
        if scored:
            nme = np.linalg.norm(model.predict(kept) + offset - gt, axis=2).mean(axis=1) / scale * 100
            if label == "processed file":
                base = nme
            change = nme.mean() - base[found].mean()  # over the same faces
            row += f" {nme.mean():7.2f} {change:+7.2f}"
        print(row, flush=True)
    if not scored:
        print("(no network given: --checkpoint FILE or --train-minutes M adds each source's NME)")


if __name__ == "__main__":
    main()
