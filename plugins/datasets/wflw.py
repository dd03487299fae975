"""WFLW (Wider Facial Landmarks in-the-Wild), 98 points, read from the official release layout.

    <root>/WFLW_images/<event>/<file>.jpg
    <root>/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt

Each annotation line has 207 whitespace-separated tokens: 196 landmark coordinates (x0 y0 ... x97 y97), the
box x_min y_min x_max y_max, six 0/1 attribute flags (pose, expression, illumination, make-up, occlusion,
blur) and the image path relative to WFLW_images/. Coordinates are used as they are (0-based pixels) and may
lie outside the image. Several lines may share an image, so a face's id is its split file and line index.
The six attribute subsets are taken from the test list's flags, as 3FabRec does.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.files import is_number, path_inside, read_text_lines
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.problems import bad_line
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import IBUG68, WFLW98, WFLW98_TO_IBUG68
from fabrec_bench.types import FaceSample, Split
from fabrec_bench.warnings import warn

ATTRIBUTES = ("pose", "expression", "illumination", "make-up", "occlusion", "blur")
ANNOTATION_DIR = "WFLW_annotations/list_98pt_rect_attr_train_test"
IMAGE_DIR = "WFLW_images"
TOKENS_PER_LINE = 196 + 4 + 6 + 1


def annotation_file(root: Path, part: str) -> Path:
    """The official list file for `part` ('train' or 'test')."""
    return root / ANNOTATION_DIR / f"list_98pt_rect_attr_{part}.txt"


def parse_line(line: str, path: Path, line_no: int) -> tuple[np.ndarray, tuple[float, ...], dict, str]:
    """Parse one 207-token line into landmarks (98, 2), box, attributes and the relative image path."""
    tokens = line.split()
    if len(tokens) != TOKENS_PER_LINE:
        raise AnnotationError(path, line_no, f"expected {TOKENS_PER_LINE} tokens, found {len(tokens)}")
    try:
        numbers = [float(t) for t in tokens[:200]]
    except ValueError:
        bad = next(t for t in tokens[:200] if not is_number(t))
        raise AnnotationError(path, line_no, f"value {bad!r} is not a number") from None
    for i, v in enumerate(numbers):
        if not math.isfinite(v):
            raise AnnotationError(path, line_no, f"token {i + 1} is {v!r}; coordinates must be finite")
    flags = {}
    for name, token in zip(ATTRIBUTES, tokens[200:206], strict=True):
        if token not in ("0", "1"):
            raise AnnotationError(path, line_no, f"attribute '{name}' is {token!r}, expected 0 or 1")
        flags[name] = int(token)
    x0, y0, x1, y1 = numbers[196:200]
    if not (x1 > x0 and y1 > y0):
        raise AnnotationError(path, line_no, f"face box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has no area")
    landmarks = np.asarray(numbers[:196], dtype=np.float64).reshape(98, 2)
    return landmarks, (x0, y0, x1, y1), flags, tokens[206]


def resolve_image(root: Path, rel: str, path: Path, line_no: int) -> Path:
    """The image file for a relative path, refusing paths that escape WFLW_images/ or do not exist."""
    image = path_inside(root / IMAGE_DIR, rel)
    if image is None:
        raise AnnotationError(path, line_no, f"image path {rel!r} escapes {root / IMAGE_DIR}")
    if not image.is_file():
        raise AnnotationError(path, line_no, f"image {root / IMAGE_DIR / rel} not found")
    return image


class WFLWDataset(DatasetAdapter):
    name = "wflw"
    description = "WFLW, 98 points, 7,500 train / 2,500 test faces with six attribute subsets"
    scheme = WFLW98
    splits = (
        SplitInfo("train", "the 7,500 training faces", 7500, role="train"),
        SplitInfo("test", "all 2,500 test faces", 2500),
        SplitInfo("pose", "test faces with large pose", 326, parent="test"),
        SplitInfo("expression", "test faces with exaggerated expression", 314, parent="test"),
        SplitInfo("illumination", "test faces under extreme illumination", 698, parent="test"),
        SplitInfo("make-up", "test faces with make-up", 206, parent="test"),
        SplitInfo("occlusion", "occluded test faces", 736, parent="test"),
        SplitInfo("blur", "blurred test faces", 773, parent="test"),
    )
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.10, auc_rule="trapezoid")
    required_paths = (IMAGE_DIR, ANNOTATION_DIR)
    layout_hint = "WFLW_images/ and WFLW_annotations/list_98pt_rect_attr_train_test/"
    crop_box_extension = (0.0, 0.1)  # 3FabRec lowers the bottom of the WFLW box by 10 % of its height

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        part = "train" if split == "train" else "test"
        path = annotation_file(root, part)
        if not path.is_file():
            raise DatasetError(f"dataset 'wflw': annotation file {path} not found; {self.layout_hint}")
        samples, skipped = [], 0
        lines = read_text_lines(path)
        face_index = 0
        seen: dict[tuple, int] = {}  # (image, landmarks) -> first line: the same face twice is an error
        for line_no, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                landmarks, box, flags, rel = parse_line(line, path, line_no)
                image = resolve_image(root, rel, path, line_no)
                key = (rel, landmarks.tobytes())
                if key in seen:
                    raise AnnotationError(path, line_no, f"the same face as line {seen[key]} ({rel}); "
                                                         "remove one of the two lines")
                seen[key] = line_no
            except AnnotationError as e:
                bad_line(e, skip_bad)
                skipped += 1
                face_index += 1
                continue
            sample = FaceSample(
                id=f"{part}/{face_index:05d}",
                image_path=image,
                landmarks_px=landmarks,
                box_px=box,
                attributes=flags,
            )
            face_index += 1
            if split in ATTRIBUTES and not flags[split]:
                continue
            samples.append(sample)
        if skipped:
            warn(f"dataset 'wflw': skipped {skipped} malformed line(s) in {path} (--skip-bad)")
        return Split("wflw", split, self.scheme, samples, source=str(path), skipped=skipped)


class WFLW68Dataset(WFLWDataset):
    """WFLW reduced to the 68 iBUG points (the standard 98 -> 68 mapping), so 68-point models can be scored."""

    name = "wflw68"
    description = "WFLW with its 98 points reduced to the 68 iBUG points (same faces, ids and splits)"
    scheme = IBUG68

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        full = super().load_split(root, split, skip_bad=skip_bad)
        mapping = list(WFLW98_TO_IBUG68)
        for sample in full.samples:
            sample.landmarks_px = sample.landmarks_px[mapping]
            sample.visible = sample.visible[mapping]
        return Split(self.name, split, self.scheme, full.samples, source=full.source, skipped=full.skipped)


@hookimpl
def fabrec_bench_register_datasets(register):
    register(WFLWDataset())
    register(WFLW68Dataset())
