"""Landmarks on any photographs (`fabrec-bench predict`): find the faces, run a model, write what it found.

Faces come from a face detector (the box sources fabrec-bench has: dlib's HOG, OpenCV's Haar cascade) or from
a CSV of boxes. Each image is handled on its own: an image without a face is listed, an unreadable file is one
line naming it, and the other images go on. Landmarks are in image pixels (0-based, the pixel grid as stored).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.models import LandmarkModel
from fabrec_bench.types import FaceSample

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


@dataclass
class ImageResult:
    """One image: its faces' boxes (F, 4) and landmarks (F, L, 2), or why it could not be read."""

    path: Path
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 2)))
    error: str = ""
    pictures: list[dict[str, np.ndarray]] = field(default_factory=list)  # per face: name -> BGR image

    @property
    def faces(self) -> int:
        return len(self.boxes)


def image_files(paths: Iterable[str | Path]) -> list[Path]:
    """The images named, and those inside the folders named (recursively, by file suffix, sorted)."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.exists():
            out.append(path)
        else:
            raise UserError(f"{path}: no such file or folder")
    return out


def read_box_file(path: str | Path) -> dict[str, np.ndarray]:
    """A CSV of face boxes with the header image,x0,y0,x1,y1 (pixels, corners): image name -> (F, 4). An image
    is matched by its path as given on the command line, or by its file name."""
    path = Path(path)
    boxes: dict[str, list[list[float]]] = {}
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise UserError(f"{path}: cannot read the box file ({e})") from None
    if not rows or [c.strip() for c in rows[0]] != ["image", "x0", "y0", "x1", "y1"]:
        raise UserError(f"{path}, line 1: expected the header image,x0,y0,x1,y1")
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in row[1:5])
            if len(row) != 5:
                raise ValueError(f"{len(row)} columns")
        except ValueError as e:
            raise UserError(f"{path}, line {line}: expected image,x0,y0,x1,y1 ({e})") from None
        if not (x1 > x0 and y1 > y0):
            raise UserError(f"{path}, line {line}: box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) has no area")
        boxes.setdefault(row[0], []).append([x0, y0, x1, y1])
    return {name: np.array(b, dtype=np.float64) for name, b in boxes.items()}


def boxes_from_file(table: dict[str, np.ndarray]) -> Callable[[Path, np.ndarray], np.ndarray]:
    """A face finder that looks each image up in a box table (by the path given, else its file name)."""
    def find(path: Path, image: np.ndarray) -> np.ndarray:
        for key in (str(path), path.as_posix(), path.name):
            if key in table:
                return table[key]
        return np.zeros((0, 4))
    return find


def boxes_from_detector(source: str) -> Callable[[Path, np.ndarray], np.ndarray]:
    """A face finder running one of fabrec-bench's detectors (`detector-hog`, `detector-haar`)."""
    from fabrec_bench.faces.boxes import detector_for
    from fabrec_bench.protocol import canonical_box_source

    detector = detector_for(canonical_box_source(source))
    return lambda path, image: detector(image)


def predict_images(model: LandmarkModel, images: Sequence[Path], find_faces: Callable[[Path, np.ndarray], np.ndarray],
                   on_image: Callable[[ImageResult], None] | None = None, *, illustrate: bool = True
                   ) -> list[ImageResult]:
    """Each image's faces and the model's landmarks for them, image by image; with `illustrate`, the model's
    own pictures of each face too (LandmarkModel.illustrate)."""
    from fabrec_bench.faces.facedata import load_image

    points = model.scheme.num_points
    results = []
    for path in images:
        try:
            image = load_image(path)
        except Exception as e:  # noqa: BLE001 - one bad file is reported and the others go on
            result = ImageResult(path, error=str(e).splitlines()[0] if str(e) else type(e).__name__)
        else:
            boxes = np.asarray(find_faces(path, image), dtype=np.float64).reshape(-1, 4)
            samples = [FaceSample(f"{path}#{k}", path, np.full((points, 2), np.nan), tuple(box))
                       for k, box in enumerate(boxes)]
            landmarks = np.asarray(model.predict(samples), dtype=np.float64) if samples else np.zeros((0, points, 2))
            pictures = model.illustrate(samples) if samples and illustrate else []
            result = ImageResult(path, boxes, landmarks.reshape(len(boxes), points, 2), pictures=pictures)
        results.append(result)
        if on_image is not None:
            on_image(result)
    return results


def _drawn_name(path: Path, used: set[str]) -> str:
    name = f"{path.stem}.png"
    k = 1
    while name in used:  # two folders may hold images of the same name
        k += 1
        name = f"{path.stem}-{k}.png"
    used.add(name)
    return name


def write_results(results: Sequence[ImageResult], out_dir: Path, *, draw: bool = True) -> dict[str, Path]:
    """landmarks.csv (a row per face: image, face, box, x y per landmark), landmarks.json (per image: faces
    or the error) and, with `draw`, each image with its faces drawn in drawn/."""
    from fabrec_bench.checkpoints import atomic_write

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    points = max((r.landmarks.shape[1] for r in results if r.faces), default=0)

    def write_csv(f) -> None:
        writer = csv.writer(f)
        writer.writerow(["image", "face", "box_x0", "box_y0", "box_x1", "box_y1",
                         *(f"{c}{i}" for i in range(points) for c in "xy")])
        for r in results:
            for k in range(r.faces):
                writer.writerow([str(r.path), k, *(f"{v:.3f}" for v in r.boxes[k]),
                                 *(f"{v:.3f}" for v in r.landmarks[k].reshape(-1))])

    records = [{"image": str(r.path), "error": r.error} if r.error else
               {"image": str(r.path), "faces": [{"box": [round(float(v), 3) for v in r.boxes[k]],
                                                 "landmarks": np.round(r.landmarks[k], 3).tolist()}
                                                for k in range(r.faces)]}
               for r in results]
    written = {"csv": out_dir / "landmarks.csv", "json": out_dir / "landmarks.json"}
    atomic_write(written["csv"], write_csv, binary=False, durable=False)
    atomic_write(written["json"], lambda f: f.write(json.dumps(records, indent=1) + "\n"), binary=False,
                 durable=False)
    if draw:
        import cv2

        from fabrec_bench.faces.facedata import load_image
        from fabrec_bench.reports.drawing import draw_faces

        folder = out_dir / "drawn"
        folder.mkdir(exist_ok=True)
        used: set[str] = set()
        for r in results:
            if r.error:
                continue
            name = _drawn_name(r.path, used)
            cv2.imwrite(str(folder / name), draw_faces(load_image(r.path), r.boxes, r.landmarks))
            for k, pictures in enumerate(r.pictures):
                for kind, picture in pictures.items():
                    cv2.imwrite(str(folder / f"{Path(name).stem}-face{k}-{kind}.png"), picture)
        written["drawn"] = folder
    return written
