"""VGGFace2, unlabeled faces for unsupervised (autoencoder) training, from the official release layout.

    <root>/train/n000002/0001_01.jpg ...   <root>/test/n000001/...
    <root>/bb_landmark/loose_bb_{train,test}.csv        NAME_ID,X,Y,W,H   ("n000001/0001_01", no .jpg)
    <root>/bb_landmark/loose_landmark_{train,test}.csv  NAME_ID,P1X,P1Y,...,P5X,P5Y (optional)

Boxes and the five points are MTCNN estimates on the loosely cropped JPEGs, not manual annotations, so the
dataset is not scored; the five points (eyes, nose tip, mouth corners) are kept when the file is there,
otherwise the landmarks are NaN and marked invisible. The option `min_face_height` drops faces whose box is
not taller than it (the 3FabRec recipe uses 100). A face's id is its NAME_ID.
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.files import path_inside
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.schemes import FIVE_POINT
from fabrec_bench.types import FaceSample, Split

BOX_HEADER = ["NAME_ID", "X", "Y", "W", "H"]
LANDMARK_HEADER = ["NAME_ID"] + [f"P{i}{a}" for i in range(1, 6) for a in "XY"]


def _read_csv(path: Path, header: list[str]) -> list[tuple[int, list[str]]]:
    """Rows of a VGGFace2 meta CSV with their 1-based line numbers; the header must match."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, skipinitialspace=True)
        first = next(reader, None)
        if first is None or [h.strip() for h in first] != header:
            raise DatasetError(f"{path}:1: expected the header {','.join(header)}")
        return [(reader.line_num, row) for row in reader if row]


def _numbers(path: Path, line_no: int, row: list[str], count: int) -> list[float]:
    if len(row) != count + 1:
        raise AnnotationError(path, line_no, f"expected {count + 1} fields, found {len(row)}")
    try:
        values = [float(v) for v in row[1:]]
    except ValueError:
        raise AnnotationError(path, line_no, f"non-numeric value in {row[1:]}") from None
    if not all(math.isfinite(v) for v in values):
        raise AnnotationError(path, line_no, "values must be finite")
    return values


class VGGFace2Dataset(DatasetAdapter):
    name = "vggface2"
    description = "VGGFace2 loose crops with MTCNN boxes (unlabeled; 5 MTCNN points when present)"
    scheme = FIVE_POINT
    labeled = False
    splits = (
        SplitInfo("train", "8,631 identities", None, role="train"),
        SplitInfo("test", "500 identities", None),
    )
    required_paths = ("bb_landmark",)
    layout_hint = "train/, test/ and bb_landmark/loose_bb_{train,test}.csv"
    option_defaults = {"min_face_height": 0.0}
    crop_box_extension = (0.05, 0.10)

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        box_csv = root / "bb_landmark" / f"loose_bb_{split}.csv"
        if not box_csv.is_file():
            raise DatasetError(f"dataset 'vggface2': {box_csv} not found; {self.layout_hint}")
        image_root = root / split
        if not image_root.is_dir():
            raise DatasetError(f"dataset 'vggface2': image folder {image_root} not found")
        existing = _list_images(image_root)
        landmarks = self._landmarks(root, split, skip_bad)
        min_height = float(self.options["min_face_height"])
        samples, skipped = [], 0
        for line_no, row in _read_csv(box_csv, BOX_HEADER):
            name_id = row[0].strip().strip('"')
            try:
                x, y, w, h = _numbers(box_csv, line_no, row, 4)
                if w <= 0 or h <= 0:
                    raise AnnotationError(box_csv, line_no, f"box {w:g} x {h:g} has no area")
                rel = name_id + ".jpg"
                if path_inside(image_root, rel) is None:
                    raise AnnotationError(box_csv, line_no, f"NAME_ID {name_id!r} escapes {image_root}")
                if rel not in existing:
                    raise AnnotationError(box_csv, line_no, f"image {image_root / rel} not found")
            except AnnotationError as e:
                bad_line(e, skip_bad)
                skipped += 1
                continue
            if h <= min_height:
                continue
            points = landmarks.get(name_id)
            samples.append(FaceSample(
                id=name_id, image_path=image_root / rel,
                landmarks_px=points if points is not None else np.full((5, 2), np.nan),
                box_px=(x, y, x + w, y + h),
                visible=np.full(5, points is not None),
                attributes={"identity": name_id.split("/")[0]},
            ))
        return Split(self.name, split, self.scheme, samples, source=str(box_csv), skipped=skipped)

    def _landmarks(self, root: Path, split: str, skip_bad: bool) -> dict[str, np.ndarray]:
        path = root / "bb_landmark" / f"loose_landmark_{split}.csv"
        if not path.is_file():
            return {}
        out = {}
        for line_no, row in _read_csv(path, LANDMARK_HEADER):
            try:
                out[row[0].strip().strip('"')] = np.asarray(_numbers(path, line_no, row, 10)).reshape(5, 2)
            except AnnotationError as e:
                bad_line(e, skip_bad)
        return out


def _list_images(image_root: Path) -> set[str]:
    """Relative paths of every image below the identity folders (one directory listing per identity)."""
    found = set()
    with os.scandir(image_root) as identities:
        for identity in identities:
            if identity.is_dir():
                with os.scandir(identity.path) as files:
                    found.update(f"{identity.name}/{f.name}" for f in files if f.is_file())
    return found


@hookimpl
def fabrec_bench_register_datasets(register):
    register(VGGFace2Dataset())
