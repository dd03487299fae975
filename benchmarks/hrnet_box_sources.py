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
which trains HRNetV2-W18 from scratch for M minutes on the `--train-split` faces with HRNet-Facial's training
input (lib/datasets/wflw.py __getitem__: crops from the same processed-file rule, scale x 1.25 x U(0.75, 1.25),
rotation U(-30, 30) degrees with probability 0.6, horizontal flip with probability 0.5, centre never moved;
Gaussian heatmaps with sigma 1.5 at 64 x 64 about the truncated point (lib/utils/transforms.py
transform_pixel, generate_target: the same maps, compared with its own functions on 29,400 points); mean-squared
error; Adam) except two things: the crop is resampled once by OpenCV's bilinear warp (its crop() rotates and
resizes with SciPy), and the learning rate is 1e-3 instead of 1e-4, for a budget of minutes instead of 60
epochs. The
trained network is saved in HRNet-Facial's key layout and loaded back through `hrnet`'s own loader. Such a
network is far from the released one; its NME changes say how a heatmap network trained on one crop rule
answers another, not what the released weights would score.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
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


# -- the stand-in network, trained with HRNet-Facial's training input -----------------------------------------

def crop_affine(centre, side: float, degrees: float) -> np.ndarray:
    """2 x 3: image pixels -> INPUT-pixel crop of `side` image pixels around `centre`, rotated by `degrees`."""
    zoom = INPUT / side
    a = math.radians(degrees)
    rot = np.array([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]]) * zoom
    return np.hstack([rot, (np.array([INPUT / 2, INPUT / 2]) - rot @ np.asarray(centre, dtype=np.float64))[:, None]])


def gaussian_targets(points: np.ndarray) -> np.ndarray:
    """(L, 64, 64) heatmaps as lib/utils/transforms.py draws them: each point truncated to whole heatmap pixels
    (transform_pixel's astype(int)), a Gaussian of sigma 1.5 peaking 1 there, cut to a 10 x 10 patch starting
    at int(p - 4.5) (generate_target); nothing for a point whose 1-based y is not positive."""
    out = np.zeros((len(points), HEATMAP, HEATMAP), dtype=np.float32)
    half = 3 * SIGMA
    size = int(2 * half + 1)
    patch = np.arange(size, dtype=np.float32)
    gauss = np.exp(-((patch[None, :] - size // 2) ** 2 + (patch[:, None] - size // 2) ** 2) / (2 * SIGMA ** 2))
    for i, (x, y) in enumerate(points.astype(int)):
        if y + 1 <= 0:
            continue
        x0, y0 = int(x - half), int(y - half)
        x1, y1 = int(x + half + 1), int(y + half + 1)
        if x0 >= HEATMAP or y0 >= HEATMAP or x1 < 0 or y1 < 0:
            continue
        gx, gy = (max(0, -x0), min(x1, HEATMAP) - x0), (max(0, -y0), min(y1, HEATMAP) - y0)
        out[i, max(0, y0):min(y1, HEATMAP), max(0, x0):min(x1, HEATMAP)] = gauss[gy[0]:gy[1], gx[0]:gx[1]]
    return out


def training_example(image: np.ndarray, points: np.ndarray, flip: tuple[int, ...], rng: np.random.Generator):
    """One (3, 256, 256) input and its (L, 64, 64) target, augmented as HRNet-Facial's training loader."""
    if rng.random() <= FLIP_SHARE:
        image = image[:, ::-1]
        points = points[list(flip)].copy()
        points[:, 0] = image.shape[1] - 1 - points[:, 0]
    where = processed_file_rule(points)
    side = 200 * where.padded_scale * rng.uniform(1 - SCALE_FACTOR, 1 + SCALE_FACTOR)
    degrees = rng.uniform(-ROT_FACTOR, ROT_FACTOR) if rng.random() <= ROT_SHARE else 0.0
    affine = crop_affine((where.centre_w, where.centre_h), side, degrees)
    crop = cv2.warpAffine(np.ascontiguousarray(image), affine, (INPUT, INPUT), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    x = ((crop.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1)
    in_crop = points @ affine[:, :2].T + affine[:, 2]
    return x, gaussian_targets(in_crop * HEATMAP / INPUT)


def train_stand_in(samples, minutes: float, seed: int, batch: int = 8) -> tuple[HRNetFace, int]:
    """HRNetV2-W18 trained from scratch for `minutes` on `samples`; returns it and the steps taken."""
    from PIL import Image

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    num_points = samples[0].landmarks_px.shape[0]
    flip = scheme_for_points(num_points).flip_permutation
    images = {}
    for s in samples:
        if s.image_path not in images:
            with Image.open(s.image_path) as image:
                images[s.image_path] = np.array(image.convert("RGB"), dtype=np.uint8)
    net = HRNetFace(num_points)
    net.train()
    optimiser = torch.optim.Adam(net.parameters(), lr=1e-3)
    deadline = time.monotonic() + minutes * 60
    steps, start = 0, time.monotonic()
    while time.monotonic() < deadline:
        pairs = [training_example(images[samples[i].image_path], np.asarray(samples[i].landmarks_px), flip, rng)
                 for i in rng.integers(0, len(samples), batch)]
        x = torch.from_numpy(np.stack([p[0] for p in pairs]))
        y = torch.from_numpy(np.stack([p[1] for p in pairs]))
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        optimiser.step()
        steps += 1
        if steps % 50 == 0:
            print(f"  step {steps}: loss {loss.item():.3g} ({time.monotonic() - start:.0f} s)", flush=True)
    net.eval()
    return net, steps


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
            print(f"training HRNetV2-W18 from scratch on {len(train)} {args.train_split} faces for "
                  f"{args.train_minutes:g} min (HRNet-Facial's training input, Adam lr 1e-3, batch 8)")
            trained, steps = train_stand_in(train, args.train_minutes, args.seed)
            print(f"  {steps} steps, {steps * 8} faces seen")
            HRNetModel(trained, "hrnet-facial", make_options(HRNetOptions), context).save(scratch / "stand-in.pth")
            model = HRNetModel.load(scratch / "stand-in.pth", context)
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
