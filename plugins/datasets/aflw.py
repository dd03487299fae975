"""AFLW-19 (the "AFLW-Full" protocol), 19 points, from AFLWinfo_release.mat and the release's flickr/ tree.

    <root>/AFLWinfo_release.mat               (also found as <root>/data/AFLWinfo_release.mat)
    <root>/data/flickr/{0,2,3}/imageNNNNN.jpg (the AFLW image archives; <root>/flickr/ is accepted too)

The .mat holds `data` (N x 38: the 19 x then the 19 y coordinates), `bbox` (x_left, x_right, y_top,
y_bottom), `mask_new` (1 = visible), `nameList` (paths under flickr/) and `ra`, a 1-based permutation:
ra[:20000] is train and ra[20000:] the 4,386 test faces (`full`). `frontal` = the test faces whose 19 points
are all visible, computed from the mask. Names ending in .png whose file is a .jpg (and the reverse) are
resolved. A file with fewer faces than the official 24,386 (e.g. a small synthetic one) is split in the
same proportion unless the option `train_size` says otherwise. Coordinates are used as they are.
Standard protocol: NME normalised by the box, sqrt(w * h) (the `box` normaliser; `box-max` gives 3FabRec's).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import AFLW19
from fabrec_bench.types import FaceSample, Split
from fabrec_bench.warnings import warn

OFFICIAL_FACES, OFFICIAL_TRAIN = 24386, 20000
MAT_NAME = "AFLWinfo_release.mat"


def find_mat(root: Path) -> Path:
    for candidate in (root / MAT_NAME, root / "data" / MAT_NAME):
        if candidate.is_file():
            return candidate
    raise DatasetError(f"dataset 'aflw': {MAT_NAME} not found in {root} or {root / 'data'}")


def find_flickr(root: Path) -> Path:
    for candidate in (root / "data" / "flickr", root / "flickr"):
        if candidate.is_dir():
            return candidate
    raise DatasetError(f"dataset 'aflw': image folder {root / 'data' / 'flickr'} not found")


def read_release(path: Path) -> dict[str, np.ndarray]:
    """The five arrays of AFLWinfo_release.mat, checked for shape."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except Exception as e:
        raise DatasetError(f"{path}: cannot read ({type(e).__name__}: {e})") from None
    missing = [k for k in ("data", "bbox", "mask_new", "nameList", "ra") if k not in mat]
    if missing:
        raise DatasetError(f"{path}: missing variable(s) {', '.join(missing)}")
    n = len(mat["data"])
    names = [str(np.asarray(v).reshape(-1)[0]) for v in np.asarray(mat["nameList"]).reshape(-1)]
    arrays = {"data": np.asarray(mat["data"], float), "bbox": np.asarray(mat["bbox"], float),
              "mask": np.asarray(mat["mask_new"]), "ra": np.asarray(mat["ra"]).reshape(-1).astype(np.int64),
              "names": np.asarray(names, dtype=object)}
    for key, shape in (("data", (n, 38)), ("bbox", (n, 4)), ("mask", (n, 19))):
        if arrays[key].shape != shape:
            raise DatasetError(f"{path}: {key} has shape {arrays[key].shape}, expected {shape}")
    if len(names) != n or sorted(arrays["ra"].tolist()) != list(range(1, n + 1)):
        raise DatasetError(f"{path}: nameList and ra must cover the {n} faces (ra is a 1-based permutation)")
    return arrays


def resolve_image(flickr: Path, name: str) -> Path | None:
    image = flickr / name
    if image.is_file():
        return image
    for ext in (".jpg", ".png", ".jpeg"):
        other = image.with_suffix(ext)
        if other.is_file():
            return other
    return None


class AFLWDataset(DatasetAdapter):
    name = "aflw"
    description = "AFLW-19, 19 points: train 20,000 / full 4,386 / frontal (all 19 points visible)"
    scheme = AFLW19
    splits = (
        SplitInfo("train", "ra[:20000]", OFFICIAL_TRAIN, role="train"),
        SplitInfo("full", "ra[20000:], all test faces", OFFICIAL_FACES - OFFICIAL_TRAIN),
        SplitInfo("frontal", "test faces with all 19 points visible (computed from mask_new)", None, parent="full"),
    )
    protocol = EvalProtocol(normaliser="box", threshold=0.10)
    layout_hint = f"{MAT_NAME} and data/flickr/"
    option_defaults = {"train_size": 0}  # 0: 20,000 for the official file, else the same proportion

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        mat_path = find_mat(root)
        flickr = find_flickr(root)
        release = read_release(mat_path)
        n = len(release["data"])
        order = release["ra"] - 1
        train_size = self.options["train_size"] or (
            OFFICIAL_TRAIN if n == OFFICIAL_FACES else int(round(n * OFFICIAL_TRAIN / OFFICIAL_FACES)))
        if n != OFFICIAL_FACES and not self.options["train_size"]:
            warn(f"dataset 'aflw': {mat_path} has {n} faces, not the official {OFFICIAL_FACES}; "
                 f"using the first {train_size} of ra for training")
        indices = order[:train_size] if split == "train" else order[train_size:]
        samples, skipped = [], 0
        for i in indices:
            name = release["names"][i]
            data = release["data"][i]
            x_left, x_right, y_top, y_bottom = release["bbox"][i]
            visible = release["mask"][i].astype(bool)
            if split == "frontal" and not visible.all():
                continue
            try:
                if not np.isfinite(data).all():
                    raise AnnotationError(mat_path, None, f"face {i + 1} ({name}): landmarks contain NaN or inf")
                if not (x_right > x_left and y_bottom > y_top):
                    raise AnnotationError(mat_path, None, f"face {i + 1} ({name}): bbox has no area")
                image = resolve_image(flickr, name)
                if image is None:
                    raise AnnotationError(mat_path, None, f"face {i + 1}: image {flickr / name} not found")
            except AnnotationError as e:
                bad_line(e, skip_bad)
                skipped += 1
                continue
            samples.append(FaceSample(
                id=f"aflw/{i:05d}", image_path=image, landmarks_px=np.stack([data[:19], data[19:]], axis=1),
                box_px=(x_left, y_top, x_right, y_bottom), visible=visible, attributes={"name": name},
            ))
        return Split(self.name, split, self.scheme, samples, source=str(mat_path), skipped=skipped)


@hookimpl
def fabrec_bench_register_datasets(register):
    register(AFLWDataset())
