"""COFW (Caltech Occluded Faces in the Wild), 29 points with per-point occlusion, from the release's .mat files;
and `cofw68`, the 68-point re-annotation of its test faces (Ghiasi and Fowlkes' cofw68-benchmark).

    <root>/COFW_train_color.mat     IsTr (1,345 images), phisTr (N x 87), bboxesTr (N x 4)
    <root>/COFW_test_color.mat      IsT (507 images), phisT, bboxesT
    <root>/COFW68_Data/test_annotations/<i>_points.mat   Points (68 x 2), Occ (1 x 68)   (cofw68 only)
    <root>/COFW68_Data/cofw68_test_bboxes.mat            bboxes (507 x 4)                 (cofw68 only)

The .mat files are MATLAB v7.3 (HDF5, read with h5py); a shape row holds the 29 x, the 29 y and the 29
occlusion flags (1 = occluded); boxes are [x y w h]. Coordinates are 1-based and converted to 0-based (option
`zero_based = false` keeps them as written). Occluded points stay annotated: `visible` is False for them, and
they are scored unless a protocol masks invisible points. The images live inside the .mat files: they are
written once as PNG files under the cache folder ($FABREC_BENCH_CACHE, else $XDG_CACHE_HOME/fabrec-bench,
else ~/.cache/fabrec-bench), keyed by the .mat file's path, size and time.
Standard protocol: NME by the outer eye corners 8/9 (as HRNet, PIPNet and mmpose; STAR's default is the pupils
16/17, `--normaliser inter-pupil`), FR and AUC at 0.1.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import COFW29, IBUG68
from fabrec_bench.types import FaceSample, Split
from fabrec_bench.warnings import warn

OFFICIAL = {"train": 1345, "test": 507}
FILES = {"train": ("COFW_train_color.mat", "Tr"), "test": ("COFW_test_color.mat", "T")}
COFW68_FOLDER = "COFW68_Data"


def cache_root() -> Path:
    if os.environ.get("FABREC_BENCH_CACHE"):
        return Path(os.environ["FABREC_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fabrec-bench"


def extract_images(mat_path: Path, variable: str) -> list[Path]:
    """The images of cell array `variable` as PNG files in the cache (written on first use, atomically)."""
    import cv2

    from fabrec_bench.mat73 import cell_image, cell_length, open_mat

    stat = mat_path.stat()
    key = hashlib.sha1(f"{mat_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    folder = cache_root() / "cofw-images" / f"{mat_path.stem}-{key}"
    done = folder / "complete"
    with open_mat(mat_path) as mat:
        n = cell_length(mat, variable, mat_path)
        paths = [folder / f"{i + 1:04d}.png" for i in range(n)]
        if done.is_file():
            return paths
        folder.mkdir(parents=True, exist_ok=True)
        for i, path in enumerate(paths):
            try:
                image = cell_image(mat, variable, i)
            except Exception as e:
                raise DatasetError(f"{mat_path}: image {i + 1} of {variable} cannot be read ({e})") from None
            if image.ndim == 3:
                image = image[..., ::-1]  # RGB -> BGR for OpenCV
            tmp = path.with_suffix(".tmp.png")
            if not cv2.imwrite(str(tmp), np.ascontiguousarray(image)):
                raise DatasetError(f"cannot write {tmp} (set FABREC_BENCH_CACHE to a writable folder)")
            tmp.replace(path)
    done.write_text(f"{n}\n")
    return paths


class COFWDataset(DatasetAdapter):
    name = "cofw"
    description = "COFW, 29 points with per-point occlusion: train 1,345 / test 507 (MATLAB v7.3 .mat files)"
    scheme = COFW29
    splits = (
        SplitInfo("train", "COFW_train_color.mat", OFFICIAL["train"], role="train"),
        SplitInfo("test", "COFW_test_color.mat", OFFICIAL["test"]),
    )
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.10)
    layout_hint = "COFW_train_color.mat and COFW_test_color.mat"
    option_defaults = {"zero_based": True}
    file_origin = 1.0  # MATLAB coordinates: the top-left pixel is (1, 1)

    @property
    def coordinate_origin(self) -> float:
        return 0.0 if self.options["zero_based"] else 1.0

    def _mat(self, root: Path, split: str) -> tuple[Path, str]:
        name, part = FILES[split]
        path = root / name
        if not path.is_file():
            raise DatasetError(f"dataset '{self.name}': {name} not found in {root}; expected {self.layout_hint}")
        return path, part

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        from fabrec_bench.mat73 import matrix, open_mat

        self.split_info(split)
        path, part = self._mat(Path(root), split)
        with open_mat(path) as mat:
            shapes = matrix(mat, f"phis{part}", path)
            boxes = matrix(mat, f"bboxes{part}", path)
        n = len(shapes)
        if shapes.ndim != 2 or shapes.shape[1] != 87:
            raise DatasetError(f"{path}: phis{part} has shape {shapes.shape}, expected (N, 87): 29 x, 29 y, 29 flags")
        if boxes.shape != (n, 4):
            raise DatasetError(f"{path}: bboxes{part} has shape {boxes.shape}, expected ({n}, 4) [x y w h]")
        if n != OFFICIAL[split]:
            warn(f"dataset '{self.name}': {path} has {n} faces, not the official {OFFICIAL[split]}")
        images = extract_images(path, f"Is{part}")
        if len(images) != n:
            raise DatasetError(f"{path}: Is{part} holds {len(images)} images for {n} shapes")
        offset = 1.0 if self.options["zero_based"] else 0.0
        samples, skipped = [], 0
        for i in range(n):
            row, (x, y, w, h) = shapes[i], boxes[i]
            try:
                if not np.isfinite(row).all():
                    raise AnnotationError(path, None, f"face {i + 1}: phis{part} contains NaN or inf")
                if not (w > 0 and h > 0):
                    raise AnnotationError(path, None, f"face {i + 1}: bboxes{part} [{x:g} {y:g} {w:g} {h:g}] "
                                                      "has no area")
                flags = row[58:87]
                if not np.isin(flags, (0, 1)).all():
                    raise AnnotationError(path, None, f"face {i + 1}: occlusion flags must be 0 or 1, got "
                                                      f"{sorted(set(flags.tolist()) - {0.0, 1.0})}")
            except AnnotationError as e:
                bad_line(e, skip_bad)
                skipped += 1
                continue
            landmarks = np.stack([row[0:29], row[29:58]], axis=1) - offset
            samples.append(FaceSample(
                id=f"cofw/{split}/{i + 1:04d}", image_path=images[i], landmarks_px=landmarks,
                box_px=(x - offset, y - offset, x - offset + w, y - offset + h), visible=flags == 0,
                attributes={"occluded_points": int(flags.sum())},
            ))
        return Split(self.name, split, self.scheme, samples, source=str(path), skipped=skipped)


class COFW68Dataset(COFWDataset):
    """The 68-point re-annotation of COFW's 507 test faces (images from COFW_test_color.mat)."""

    name = "cofw68"
    description = "COFW-68: the 507 COFW test faces re-annotated with 68 points and occlusion (cofw68-benchmark)"
    scheme = IBUG68
    splits = (SplitInfo("test", "COFW68_Data/test_annotations/<i>_points.mat", OFFICIAL["test"]),)
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.10)
    layout_hint = "COFW_test_color.mat and COFW68_Data/{test_annotations/,cofw68_test_bboxes.mat}"
    crop_box_extension = (0.2, 0.12)  # boxes made like 300-W's (cofw68-benchmark README): 300-W's extension

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        from scipy.io import loadmat

        from fabrec_bench.mat73 import cell_length, open_mat

        self.split_info(split)
        root = Path(root)
        mat_path, _ = self._mat(root, "test")
        folder = root / COFW68_FOLDER
        if not (folder / "test_annotations").is_dir():
            raise DatasetError(f"dataset 'cofw68': {folder / 'test_annotations'} not found; expected "
                               f"{self.layout_hint}")
        with open_mat(mat_path) as mat:
            n = cell_length(mat, "IsT", mat_path)
        boxes_path = folder / "cofw68_test_bboxes.mat"
        boxes = None
        if boxes_path.is_file():
            boxes = np.asarray(loadmat(str(boxes_path))["bboxes"], dtype=np.float64)
            if boxes.shape != (n, 4):
                raise DatasetError(f"{boxes_path}: bboxes has shape {boxes.shape}, expected ({n}, 4) [x y w h]")
        else:
            warn(f"dataset 'cofw68': {boxes_path} not found; using each face's landmark extent as its box")
        images = extract_images(mat_path, "IsT")
        offset = 1.0 if self.options["zero_based"] else 0.0
        samples, skipped = [], 0
        for i in range(n):
            path = folder / "test_annotations" / f"{i + 1}_points.mat"
            try:
                if not path.is_file():
                    raise AnnotationError(path, None, f"face {i + 1}: annotation file missing")
                try:
                    ann = loadmat(str(path))
                except Exception as e:
                    raise AnnotationError(path, None, f"cannot read ({type(e).__name__}: {e})") from None
                points = np.asarray(ann.get("Points"), dtype=np.float64)
                occ = np.asarray(ann.get("Occ", np.zeros((1, 68)))).reshape(-1)
                if points.shape != (68, 2) or not np.isfinite(points).all():
                    raise AnnotationError(path, None, f"Points must be 68 x 2 finite numbers, got {points.shape}")
                if occ.shape != (68,):
                    raise AnnotationError(path, None, f"Occ must hold 68 flags, got {occ.size}")
            except AnnotationError as e:
                bad_line(e, skip_bad)
                skipped += 1
                continue
            landmarks = points - offset
            if boxes is not None:
                x, y, w, h = boxes[i]
                box = (x - offset, y - offset, x - offset + w, y - offset + h)
            else:
                box = (*landmarks.min(axis=0), *landmarks.max(axis=0))
            samples.append(FaceSample(
                id=f"cofw68/test/{i + 1:04d}", image_path=images[i], landmarks_px=landmarks, box_px=tuple(box),
                visible=occ == 0, attributes={"occluded_points": int((occ != 0).sum())},
            ))
        return Split(self.name, split, self.scheme, samples, source=str(folder), skipped=skipped)


@hookimpl
def fabrec_bench_register_datasets(register):
    register(COFWDataset())
    register(COFW68Dataset())
