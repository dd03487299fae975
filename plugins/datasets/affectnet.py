"""AffectNet (2017 release with CSV file lists): 68 automatically detected points, expressions, valence/arousal.

    <root>/Manually_Annotated_file_lists/training.csv, validation.csv
    <root>/Manually_Annotated_Images/<subdir>/<file>.jpg

Columns: subDirectory_filePath, face_x, face_y, face_width, face_height, facial_landmarks (136 numbers joined
by ';', x1;y1;...;x68;y68), expression (0-10, names below), valence, arousal (-2 = not available, kept as NaN).
A header row is detected, not assumed. Rows whose box has no width are dropped with a count (the release has
some). The option `expressions` keeps only the listed codes (the 3FabRec recipe keeps 0-7). Usable as
unlabeled faces for the autoencoder and as a 68-point labeled dataset (splits `train` and `validation`).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.files import path_inside
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import IBUG68
from fabrec_bench.types import FaceSample, Split
from fabrec_bench.warnings import warn

EXPRESSIONS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt", "none",
               "uncertain", "no-face")
FILES = {"train": "training.csv", "validation": "validation.csv"}
LISTS, IMAGES = "Manually_Annotated_file_lists", "Manually_Annotated_Images"


def parse_row(path: Path, line_no: int, row: list[str]) -> dict:
    """One CSV row -> path, box (x0, y0, x1, y1), (68, 2) landmarks, expression, valence, arousal."""
    if len(row) != 9:
        raise AnnotationError(path, line_no, f"expected 9 fields, found {len(row)}")
    try:
        x, y, w, h = (float(v) for v in row[1:5])
        points = [float(v) for v in row[5].split(";")] if row[5].strip() else []
        expression = int(row[6])
        valence, arousal = float(row[7]), float(row[8])
    except ValueError as e:
        raise AnnotationError(path, line_no, f"malformed value ({e})") from None
    if len(points) != 136:
        raise AnnotationError(path, line_no, f"facial_landmarks has {len(points)} numbers, expected 136")
    if not all(math.isfinite(v) for v in (x, y, w, h, *points)):
        raise AnnotationError(path, line_no, "box and landmarks must be finite")
    if not 0 <= expression < len(EXPRESSIONS):
        raise AnnotationError(path, line_no, f"expression code {expression} is not in 0-10")
    return {"rel": row[0].strip(), "box": (x, y, x + w, y + h), "w": w, "h": h,
            "landmarks": np.asarray(points).reshape(68, 2), "expression": expression,
            "valence": math.nan if valence == -2 else valence, "arousal": math.nan if arousal == -2 else arousal}


class AffectNetDataset(DatasetAdapter):
    name = "affectnet"
    description = "AffectNet manually annotated faces: 68 automatic points, 11 expression codes, valence/arousal"
    scheme = IBUG68
    splits = (
        SplitInfo("train", "training.csv (about 414,800 faces)", None, role="train"),
        SplitInfo("validation", "validation.csv (5,500 faces, 500 per code)", 5500),
    )
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.10)
    required_paths = (LISTS, IMAGES)
    layout_hint = f"{LISTS}/{{training,validation}}.csv and {IMAGES}/"
    option_defaults = {"expressions": None}  # e.g. [0, 1, 2, 3, 4, 5, 6, 7]
    crop_box_extension = (0.05, 0.25)

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        path = root / LISTS / FILES[split]
        if not path.is_file():
            raise DatasetError(f"dataset 'affectnet': {path} not found; {self.layout_hint}")
        keep = self.options["expressions"]
        if keep is not None and (not isinstance(keep, list) or not all(isinstance(c, int) for c in keep)):
            raise DatasetError(f"dataset 'affectnet': option expressions = {keep!r} must be a list of codes 0-10")
        image_root = root / IMAGES
        samples, skipped, no_box = [], 0, 0
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            for row in reader:
                line_no = reader.line_num
                if not row or (line_no == 1 and row[0].strip() == "subDirectory_filePath"):
                    continue  # the header, when there is one
                try:
                    face = parse_row(path, line_no, row)
                    if face["w"] <= 0 or face["h"] <= 0:
                        no_box += 1
                        continue
                    image = path_inside(image_root, face["rel"])
                    if image is None:
                        raise AnnotationError(path, line_no, f"image path {face['rel']!r} escapes {image_root}")
                    if not image.is_file():
                        raise AnnotationError(path, line_no, f"image {image} not found")
                except AnnotationError as e:
                    bad_line(e, skip_bad)
                    skipped += 1
                    continue
                if keep is not None and face["expression"] not in keep:
                    continue
                samples.append(FaceSample(
                    id=f"{split}/{line_no:06d}", image_path=image, landmarks_px=face["landmarks"], box_px=face["box"],
                    attributes={"expression": face["expression"], "expression_name": EXPRESSIONS[face["expression"]],
                                "valence": face["valence"], "arousal": face["arousal"]},
                ))
        if no_box:
            warn(f"dataset 'affectnet': dropped {no_box} row(s) of {path} whose face box has no width or height")
        return Split(self.name, split, self.scheme, samples, source=str(path), skipped=skipped)


@hookimpl
def fabrec_bench_register_datasets(register):
    register(AffectNetDataset())
