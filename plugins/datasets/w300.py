"""300-W (iBUG), 68 points, read from the official release folders.

    <root>/afw/  helen/{trainset,testset}/  lfpw/{trainset,testset}/  ibug/      <name>.jpg|.png + <name>.pts
    <root>/300W/{01_Indoor,02_Outdoor}/  (the private test set; a folder called Test/ is accepted too)
    <root>/Bounding Boxes/bounding_boxes_<subset>.mat                             (optional)

Splits: train = afw + helen/trainset + lfpw/trainset (3,148); common = helen/testset + lfpw/testset (554);
challenging = ibug (135); full = common + challenging (689); test = the private set (600).

`.pts` coordinates are 1-based in the release (iBUG: the top-left pixel is (1, 1)); they are converted to
0-based here, like every other dataset (set the option `zero_based = false` for the raw values that 3FabRec,
SAN and HRNet use). Face boxes come from the official bounding-box files (`bb_ground_truth`, or
`bb_detector` with `annotation_boxes = "detector"`; called `box_source` before, which now names the protocol's
face-box source), converted the same way; a face without one (the private set, or a missing file) gets the
landmarks' extent, and its `annotation_boxes` attribute says which was used.
A face's id is its folder and file stem, e.g. `lfpw/testset/image_0001` (names repeat across folders).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.files import check_utf8_name, read_text_lines
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import IBUG68
from fabrec_bench.types import FaceSample, Split

SUBSETS = {  # folder -> bounding-box file suffix
    "afw": "afw",
    "helen/trainset": "helen_trainset",
    "helen/testset": "helen_testset",
    "lfpw/trainset": "lfpw_trainset",
    "lfpw/testset": "lfpw_testset",
    "ibug": "ibug",
}
PRIVATE = ("01_Indoor", "02_Outdoor")
SPLIT_FOLDERS = {
    "train": ("afw", "helen/trainset", "lfpw/trainset"),
    "common": ("helen/testset", "lfpw/testset"),
    "challenging": ("ibug",),
    "full": ("helen/testset", "lfpw/testset", "ibug"),
}
IMAGE_EXTENSIONS = (".jpg", ".png", ".jpeg", ".JPG", ".PNG")
BOX_SOURCES = {"ground-truth": "bb_ground_truth", "detector": "bb_detector", "landmarks": None}


def read_pts(path: Path, expected_points: int = 68) -> np.ndarray:
    """Parse an iBUG .pts file (version line, n_points, braces, one 'x y' per line) as written, 1-based."""
    lines = read_text_lines(path)
    rows = [(i, line.strip()) for i, line in enumerate(lines, start=1) if line.strip()]
    if len(rows) < 3 or not rows[0][1].startswith("version"):
        raise AnnotationError(path, 1, "expected a 'version: 1' header")
    key, _, value = rows[1][1].partition(":")
    if key.strip() != "n_points" or not value.strip().isdigit():
        raise AnnotationError(path, rows[1][0], f"expected 'n_points: {expected_points}', found {rows[1][1]!r}")
    n_points = int(value)
    if n_points != expected_points:
        raise AnnotationError(path, rows[1][0], f"has {n_points} points, the 300-W scheme has {expected_points}")
    if rows[2][1] != "{":
        raise AnnotationError(path, rows[2][0], "expected '{'")
    body = rows[3:]
    if not body or body[-1][1] != "}":
        raise AnnotationError(path, body[-1][0] if body else len(lines), "expected a closing '}'")
    points = body[:-1]
    if len(points) != n_points:
        raise AnnotationError(path, body[-1][0], f"found {len(points)} coordinate lines, n_points says {n_points}")
    coords = []
    for line_no, text in points:
        parts = text.split()
        if len(parts) != 2:
            raise AnnotationError(path, line_no, f"expected 'x y', found {text!r}")
        try:
            x, y = float(parts[0]), float(parts[1])
        except ValueError:
            raise AnnotationError(path, line_no, f"{text!r} is not two numbers") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise AnnotationError(path, line_no, f"coordinates must be finite, found {text!r}")
        coords.append((x, y))
    return np.asarray(coords, dtype=np.float64)


def read_box_file(path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The official bounding-box .mat: image name -> {'bb_detector': [x0,y0,x1,y1], 'bb_ground_truth': ...}."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
        entries = mat["bounding_boxes"][0]
    except Exception as e:  # scipy raises several types for a damaged file
        raise DatasetError(f"{path}: cannot read the bounding boxes ({type(e).__name__}: {e})") from None
    boxes = {}
    for entry in entries:
        name, detector, truth = entry[0][0]
        boxes[str(name[0])] = {"bb_detector": np.asarray(detector, float).reshape(4),
                               "bb_ground_truth": np.asarray(truth, float).reshape(4)}
    return boxes


def find_image(pts: Path) -> Path | None:
    for ext in IMAGE_EXTENSIONS:
        candidate = pts.with_suffix(ext)
        if candidate.is_file():
            return candidate
    return None


class W300Dataset(DatasetAdapter):
    name = "300w"
    description = "300-W (iBUG), 68 points: train 3,148 / common 554 / challenging 135 / full 689 / private test 600"
    scheme = IBUG68
    splits = (
        SplitInfo("train", "afw + helen/trainset + lfpw/trainset", 3148, role="train"),
        SplitInfo("common", "helen/testset + lfpw/testset", 554, parent="full"),
        SplitInfo("challenging", "ibug", 135, parent="full"),
        SplitInfo("full", "common + challenging", 689),
        SplitInfo("test", "private 300-W test set (01_Indoor + 02_Outdoor)", 600),
    )
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.10)
    layout_hint = "afw/, helen/{trainset,testset}/, lfpw/{trainset,testset}/, ibug/, 300W/{01_Indoor,02_Outdoor}/"
    option_defaults = {"zero_based": True, "annotation_boxes": "ground-truth"}
    option_aliases = {"box_source": "annotation_boxes"}
    # 3FabRec's crop box for 300-W: top raised by 20 % of the box height, bottom lowered by 12 %.
    crop_box_extension = (0.2, 0.12)
    file_origin = 1.0  # .pts files and the official boxes are 1-based

    @property
    def coordinate_origin(self) -> float:
        return 0.0 if self.options["zero_based"] else 1.0

    def folders(self, root: Path, split: str) -> list[tuple[str, Path]]:
        """(id prefix, folder) pairs that make up a split."""
        if split == "test":
            base = next((root / name for name in ("300W", "Test") if (root / name).is_dir()), root / "300W")
            return [(f"{base.name}/{sub}", base / sub) for sub in PRIVATE]
        return [(folder, root / folder) for folder in SPLIT_FOLDERS[split]]

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        box_source = self.options["annotation_boxes"]
        if box_source not in BOX_SOURCES:
            raise DatasetError(f"dataset '300w': annotation_boxes {box_source!r} must be one of {', '.join(BOX_SOURCES)}")
        offset = 1.0 if self.options["zero_based"] else 0.0
        samples, skipped, sources = [], 0, []
        for prefix, folder in self.folders(root, split):
            if not folder.is_dir():
                raise DatasetError(f"dataset '300w': folder {folder} not found; expected {self.layout_hint}")
            sources.append(str(folder))
            boxes = self._boxes(root, prefix) if BOX_SOURCES[box_source] else {}
            for pts in sorted(folder.glob("*.pts")):
                try:
                    check_utf8_name(pts)
                    landmarks = read_pts(pts) - offset
                    image = find_image(pts)
                    if image is None:
                        raise AnnotationError(pts, None, "no image with the same name (.jpg or .png) beside it")
                    check_utf8_name(image)
                except AnnotationError as e:
                    bad_line(e, skip_bad)
                    skipped += 1
                    continue
                entry = boxes.get(image.name)
                if entry is not None:
                    box = tuple(float(v) - offset for v in entry[BOX_SOURCES[box_source]])
                    used = box_source
                else:
                    box = (*landmarks.min(axis=0), *landmarks.max(axis=0))
                    used = "landmarks"
                samples.append(FaceSample(
                    id=f"{prefix}/{pts.stem}", image_path=image, landmarks_px=landmarks, box_px=box,
                    attributes={"subset": prefix, "annotation_boxes": used},
                ))
        return Split(self.name, split, self.scheme, samples, source=", ".join(sources), skipped=skipped)

    def _boxes(self, root: Path, prefix: str) -> dict:
        suffix = SUBSETS.get(prefix)
        path = root / "Bounding Boxes" / f"bounding_boxes_{suffix}.mat"
        return read_box_file(path) if suffix and path.is_file() else {}


@hookimpl
def fabrec_bench_register_datasets(register):
    register(W300Dataset())
