"""Write synthetic faces in the official WFLW release layout, so they are read by the real adapter.

    <out>/WFLW_images/<k>--<Event>/<k>_<Event>_synth_<k>_<n>.jpg
    <out>/WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_{train,test}.txt
    <out>/WFLW_annotations/list_98pt_test/list_98pt_test[_<subset>].txt

Lines carry 207 tokens (coordinates with 6 decimals, the box as integers, the six flags, the path), LF
endings, as in ../shared/docs/datasets.md section 1. About one image in eight holds two faces (two lines
share its path), and now and then a face runs off the picture, so coordinates fall outside the image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from fabrec_bench.synth.render import ATTRIBUTES, DrawnFace, render_scene, to_bgr8

EVENTS = ("0--Parade", "2--Demonstration", "12--Group", "20--Family_Group", "37--Soccer", "51--Dresses")
SUBSET_FILES = {"pose": "largepose", "expression": "expression", "illumination": "illumination",
                "make-up": "makeup", "occlusion": "occlusion", "blur": "blur"}


@dataclass
class SynthFace:
    """A written face: its annotation line's content."""

    landmarks: np.ndarray
    box: tuple[int, int, int, int]
    attributes: dict[str, int]
    rel_path: str


def face_box(landmarks: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A detector-like integer box around the landmarks, a little loose and jittered."""
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    w, h = x1 - x0, y1 - y0
    j = rng.uniform(-0.04, 0.04, 4)
    return (int(np.floor(x0 - w * (0.03 + j[0]))), int(np.floor(y0 - h * (0.12 + j[1]))),
            int(np.ceil(x1 + w * (0.03 + j[2]))), int(np.ceil(y1 + h * (0.03 + j[3]))))


def annotation_line(face: SynthFace) -> str:
    coords = " ".join(f"{v:.6f}" for v in face.landmarks.reshape(-1))
    box = " ".join(str(v) for v in face.box)
    flags = " ".join(str(face.attributes[a]) for a in ATTRIBUTES)
    return f"{coords} {box} {flags} {face.rel_path}"


def scenes(rng: np.random.Generator, count: int, *, ensure_attributes: bool = False, multi_face: bool = True,
           progress: Callable[[int], None] | None = None) -> Iterator[tuple[np.ndarray, list[DrawnFace]]]:
    """Render pictures until they hold `count` faces; about one in eight holds two (if `multi_face`).

    With `ensure_attributes`, the first six faces each carry one WFLW attribute, so no subset is empty.
    """
    made = 0
    while made < count:
        n_faces = 2 if multi_face and count - made >= 2 and rng.random() < 0.12 else 1
        force = ATTRIBUTES[made] if ensure_attributes and made < len(ATTRIBUTES) else None
        img, drawn = render_scene(rng, n_faces=n_faces, force=force)
        made += len(drawn)
        if progress:
            progress(len(drawn))
        yield img, drawn


def generate_part(out: Path, part: str, count: int, rng: np.random.Generator, *,
                  ensure_attributes: bool, progress: Callable[[int], None] | None = None) -> list[SynthFace]:
    """Render `count` faces for 'train' or 'test' and write their images; returns them in line order."""
    faces: list[SynthFace] = []
    for image_no, (img, drawn) in enumerate(scenes(rng, count, ensure_attributes=ensure_attributes,
                                                   progress=progress)):
        event = EVENTS[image_no % len(EVENTS)]
        k, name = event.split("--")
        rel = f"{event}/{k}_{name}_synth_{part}_{k}_{image_no}.jpg"
        path = out / "WFLW_images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not cv2.imwrite(str(path), to_bgr8(img), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(88, 96))]):
            raise OSError(f"could not write {path}")
        for face in drawn:
            faces.append(SynthFace(face.landmarks_px, face_box(face.landmarks_px, rng), face.attributes, rel))
    return faces


def write_wflw(out: Path, n_train: int, n_test: int, seed: int = 0,
               progress: Callable[[int], None] | None = None) -> dict[str, int]:
    """Generate a synthetic WFLW release under `out`; deterministic for a seed. Returns faces per split."""
    out = Path(out)
    ann = out / "WFLW_annotations" / "list_98pt_rect_attr_train_test"
    ann.mkdir(parents=True, exist_ok=True)
    rng_train, rng_test = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    parts = {
        "train": generate_part(out, "train", n_train, rng_train, ensure_attributes=False, progress=progress),
        "test": generate_part(out, "test", n_test, rng_test, ensure_attributes=True, progress=progress),
    }
    for part, faces in parts.items():
        text = "".join(annotation_line(f) + "\n" for f in faces)
        (ann / f"list_98pt_rect_attr_{part}.txt").write_text(text, encoding="utf-8", newline="\n")
    # The 197-token test lists of the release (no box, no flags), one per attribute subset.
    subsets = out / "WFLW_annotations" / "list_98pt_test"
    subsets.mkdir(parents=True, exist_ok=True)

    def short(face: SynthFace) -> str:
        return " ".join(f"{v:.6f}" for v in face.landmarks.reshape(-1)) + f" {face.rel_path}\n"

    test = parts["test"]
    (subsets / "list_98pt_test.txt").write_text("".join(short(f) for f in test), encoding="utf-8", newline="\n")
    counts = {"train": len(parts["train"]), "test": len(test)}
    for attribute, suffix in SUBSET_FILES.items():
        members = [f for f in test if f.attributes[attribute]]
        (subsets / f"list_98pt_test_{suffix}.txt").write_text(
            "".join(short(f) for f in members), encoding="utf-8", newline="\n")
        counts[attribute] = len(members)
    return counts
