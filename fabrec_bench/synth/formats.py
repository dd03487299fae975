"""Synthetic faces in the official layouts of 300-W, AFLW-19, COFW, VGGFace2 and AffectNet.

All come from the same face model as the WFLW writer: 68 points by the standard 98 -> 68 mapping, the 19 AFLW
points and the 5 MTCNN points by `fabrec_bench.schemes` reductions. Each writer reproduces the quirks its
adapter must handle (see ../shared/docs/datasets.md): 1-based .pts files with a two-space `n_points` line and
a missing final newline, a file name with a space, the same file name in two folders, bounding-box .mat
structs; an AFLW nameList entry ending in .png for a .jpg file; quoted VGGFace2 ids without extension and an
identity name with a comma; an AffectNet validation list without a header.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fabrec_bench.schemes import (
    WFLW98_TO_AFLW19,
    WFLW98_TO_COFW29,
    WFLW98_TO_FIVE,
    WFLW98_TO_IBUG68,
    reduce_points,
)
from fabrec_bench.synth.render import to_bgr8
from fabrec_bench.synth.wflw import scenes

Progress = Callable[[int], None] | None


def _write_image(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), to_bgr8(img)):
        raise OSError(f"could not write {path}")


def _rngs(seed: int, n: int) -> list[np.random.Generator]:
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(n)]


# -- 300-W ------------------------------------------------------------------------------------------


def pts_text(points_1based: np.ndarray, final_newline: bool = True, trailing_space: bool = False) -> str:
    body = "\n".join(f"{x:.6f} {y:.6f}" + (" " if trailing_space and i == 0 else "")
                     for i, (x, y) in enumerate(points_1based))
    return f"version: 1\nn_points:  {len(points_1based)}\n{{\n{body}\n}}" + ("\n" if final_newline else "")


def _save_boxes(path: Path, entries: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    """A bounding_boxes .mat like the official ones: a 1 x N cell of 1 x 1 structs."""
    from scipy.io import savemat

    cells = np.empty((1, len(entries)), dtype=object)
    dtype = [("imgName", object), ("bb_detector", object), ("bb_ground_truth", object)]
    for i, (name, detector, truth) in enumerate(entries):
        struct = np.empty((1, 1), dtype=dtype)
        struct[0, 0] = (name, detector.reshape(1, 4), truth.reshape(1, 4))
        cells[0, i] = struct
    path.parent.mkdir(parents=True, exist_ok=True)
    savemat(str(path), {"bounding_boxes": cells})


W300_FOLDERS = {  # folder -> (file-name pattern, extension, box-file suffix)
    "afw": ("{n}_1", ".jpg", "afw"),
    "helen/trainset": ("{n}_1", ".jpg", "helen_trainset"),
    "helen/testset": ("{n}_2", ".jpg", "helen_testset"),
    "lfpw/trainset": ("image_{i:04d}", ".png", "lfpw_trainset"),
    "lfpw/testset": ("image_{i:04d}", ".png", "lfpw_testset"),
    "ibug": ("image_{i:03d}_1", ".jpg", "ibug"),
    "300W/01_Indoor": ("indoor_{i:03d}", ".png", None),
    "300W/02_Outdoor": ("outdoor_{i:03d}", ".png", None),
}


def write_300w(out: Path, per_folder: int = 2, seed: int = 0, progress: Progress = None) -> dict[str, int]:
    """Write a 300-W release with `per_folder` faces in each of the eight folders, plus the box files."""
    out = Path(out)
    counts = {}
    for (folder, (pattern, ext, box_suffix)), rng in zip(W300_FOLDERS.items(), _rngs(seed, len(W300_FOLDERS)),
                                                          strict=True):
        entries = []
        for i, (img, drawn) in enumerate(scenes(rng, per_folder, multi_face=False, progress=progress), start=1):
            stem = pattern.format(n=1000 + 37 * i + len(folder), i=i)
            if folder == "ibug" and i == 1:
                stem = "image_092 _01"  # the release has this name with a space
            _write_image(out / folder / f"{stem}{ext}", img)
            points = drawn[0].landmarks_px[list(WFLW98_TO_IBUG68)] + 1.0  # the release is 1-based
            (out / folder / f"{stem}.pts").write_text(
                pts_text(points, final_newline=i != 1, trailing_space=i == 2), encoding="utf-8")
            truth = np.concatenate([points.min(axis=0), points.max(axis=0)])
            detector = truth + rng.normal(0, 0.05 * (truth[2] - truth[0]), 4)
            entries.append((f"{stem}{ext}", detector, truth))
        if box_suffix:
            _save_boxes(out / "Bounding Boxes" / f"bounding_boxes_{box_suffix}.mat", entries)
        counts[folder] = per_folder
    return counts


# -- AFLW-19 ----------------------------------------------------------------------------------------


def write_aflw(out: Path, faces: int = 24, seed: int = 0, progress: Progress = None) -> dict[str, int]:
    """Write AFLWinfo_release.mat and data/flickr/{0,2,3}/imageNNNNN.jpg for `faces` faces."""
    from scipy.io import savemat

    out = Path(out)
    rng = np.random.default_rng(seed)
    data, bbox, mask, names = [], [], [], []
    image_no = 0
    for img, drawn in scenes(rng, faces, progress=progress):
        name = f"{(0, 2, 3)[image_no % 3]}/image{image_no:05d}.jpg"
        _write_image(out / "data" / "flickr" / name, img)
        for face in drawn:
            points = reduce_points(face.landmarks_px, WFLW98_TO_AFLW19)
            hidden = reduce_points(face.occluded_points[:, None].astype(float), WFLW98_TO_AFLW19)[:, 0] > 0
            if rng.random() < 0.5:  # a point or two the annotators could not see
                hidden[rng.integers(0, 19, rng.integers(1, 3))] = True
            x0, y0 = face.landmarks_px.min(axis=0)
            x1, y1 = face.landmarks_px.max(axis=0)
            data.append(np.concatenate([points[:, 0], points[:, 1]]))
            bbox.append([np.floor(x0), np.ceil(x1), np.floor(y0 - 0.1 * (y1 - y0)), np.ceil(y1)])
            mask.append((~hidden).astype(np.uint8))
            names.append(name)
        image_no += 1
    names[1] = names[1][:-4] + ".png"  # the release lists some .jpg files as .png
    n = len(data)
    name_cells = np.empty((n, 1), dtype=object)
    for i, name in enumerate(names):
        name_cells[i, 0] = name
    ra = rng.permutation(n) + 1
    savemat(str(out / "AFLWinfo_release.mat"), {
        "data": np.asarray(data), "bbox": np.asarray(bbox), "mask_new": np.asarray(mask),
        "nameList": name_cells, "ra": ra.reshape(1, n).astype(np.float64),
    })
    return {"faces": n}


# -- COFW -------------------------------------------------------------------------------------------


def write_cofw(out: Path, train: int = 8, test: int = 6, seed: int = 0, progress: Progress = None,
               with_68: bool = True) -> dict[str, int]:
    """Write COFW_train_color.mat and COFW_test_color.mat (v7.3: IsTr/phisTr/bboxesTr, IsT/phisT/bboxesT;
    1-based coordinates, occlusion flags 1 = occluded, boxes [x y w h]) and, with `with_68`, the 68-point
    re-annotation of the test faces (COFW68_Data/test_annotations/N_points.mat, cofw68_test_bboxes.mat)."""
    from scipy.io import savemat

    from fabrec_bench.mat73 import write_mat

    out = Path(out)
    counts = {}
    for (part, count), rng in zip((("Tr", train), ("T", test)), _rngs(seed, 2), strict=True):
        images, shapes, boxes, points68 = [], [], [], []
        for img, drawn in scenes(rng, count, multi_face=False, progress=progress):
            face = drawn[0]
            rgb = to_bgr8(img)[..., ::-1]
            if len(images) == 1:  # COFW mixes in grey-scale pictures
                rgb = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
            points = reduce_points(face.landmarks_px, [(i,) for i in WFLW98_TO_COFW29]) + 1.0  # 1-based
            occluded = face.occluded_points[list(WFLW98_TO_COFW29)].copy()
            if rng.random() < 0.5:
                occluded[rng.integers(0, 29, rng.integers(1, 4))] = True
            x0, y0 = points.min(axis=0)
            x1, y1 = points.max(axis=0)
            pad = 0.1 * (x1 - x0)
            images.append(np.ascontiguousarray(rgb))
            shapes.append(np.concatenate([points[:, 0], points[:, 1], occluded.astype(float)]))
            boxes.append([np.floor(x0 - pad), np.floor(y0 - pad), np.ceil(x1 - x0 + 2 * pad), np.ceil(y1 - y0 + 2 * pad)])
            points68.append((face.landmarks_px[list(WFLW98_TO_IBUG68)] + 1.0,
                             face.occluded_points[list(WFLW98_TO_IBUG68)]))
        name = "COFW_train_color.mat" if part == "Tr" else "COFW_test_color.mat"
        write_mat(out / name, {f"phis{part}": np.asarray(shapes), f"bboxes{part}": np.asarray(boxes)},
                  {f"Is{part}": images})
        counts["train" if part == "Tr" else "test"] = len(images)
        if part == "T" and with_68:
            folder = out / "COFW68_Data"
            (folder / "test_annotations").mkdir(parents=True, exist_ok=True)
            for i, (pts, occ) in enumerate(points68, start=1):
                savemat(str(folder / "test_annotations" / f"{i}_points.mat"),
                        {"Points": pts, "Occ": occ.astype(np.uint8).reshape(1, 68)})
            savemat(str(folder / "cofw68_test_bboxes.mat"), {"bboxes": np.asarray(boxes)})
    return counts


# -- VGGFace2 ---------------------------------------------------------------------------------------


def write_vggface2(out: Path, identities: int = 3, per_identity: int = 3, seed: int = 0,
                   progress: Progress = None) -> dict[str, int]:
    """Write train/ and test/ identity folders, bb_landmark/ CSVs, the list files and identity_meta.csv."""
    out = Path(out)
    counts = {}
    meta = ["Class_ID, Name, Sample_Num, Flag, Gender"]
    for split, rng, first_id in (("train", *_rngs(seed, 1), 2), ("test", *_rngs(seed + 1, 1), 1)):
        boxes = ["NAME_ID,X,Y,W,H"]
        points = ["NAME_ID," + ",".join(f"P{i}{a}" for i in range(1, 6) for a in "XY")]
        files = []
        for k in range(identities):
            identity = f"n{first_id + 2 * k:06d}"
            meta.append(f'{identity}, "{"Surname, First" if k == 0 else f"Person_{k}"}", {per_identity}, '
                        f"{int(split == 'train')}, {'mf'[k % 2]}")
            for j, (img, drawn) in enumerate(scenes(rng, per_identity, multi_face=False, progress=progress)):
                if j == 1:  # a small face, below the recipe's 100-px height filter
                    img = cv2.resize(img, None, fx=0.35, fy=0.35, interpolation=cv2.INTER_AREA)
                    scale = 0.35
                else:
                    scale = 1.0
                name_id = f"{identity}/{j + 1:04d}_01"
                _write_image(out / split / f"{name_id}.jpg", img)
                lm = drawn[0].landmarks_px * scale
                x0, y0 = lm.min(axis=0)
                x1, y1 = lm.max(axis=0)
                w, h = x1 - x0, y1 - y0
                boxes.append(f'"{name_id}",{int(x0 - 0.1 * w)},{int(y0 - 0.25 * h)},{int(1.2 * w)},{int(1.35 * h)}')
                five = reduce_points(lm, WFLW98_TO_FIVE).reshape(-1)
                points.append(f'"{name_id}",' + ",".join(f"{v:.4f}" for v in five))
                files.append(f"{name_id}.jpg")
        (out / "bb_landmark").mkdir(parents=True, exist_ok=True)
        (out / "bb_landmark" / f"loose_bb_{split}.csv").write_text("\n".join(boxes) + "\n")
        (out / "bb_landmark" / f"loose_landmark_{split}.csv").write_text("\n".join(points) + "\n")
        (out / f"{split}_list.txt").write_text("\n".join(files) + "\n")
        counts[split] = len(files)
    (out / "identity_meta.csv").write_text("\n".join(meta) + "\n")
    return counts


# -- AffectNet --------------------------------------------------------------------------------------

HEADER = "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"


def expression_code(face) -> int:
    p = face.params
    if p.mouth_open > 0.5 and p.brow_raise > 0.5:
        return 3  # surprise
    if p.smile > 0.5:
        return 1  # happy
    if p.smile < -0.1:
        return 2  # sad
    return 0  # neutral


def write_affectnet(out: Path, train: int = 12, validation: int = 6, seed: int = 0,
                    progress: Progress = None) -> dict[str, int]:
    """Write Manually_Annotated_Images/ and the two file lists (training.csv with, validation.csv without header)."""
    out = Path(out)
    lists = out / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    counts = {}
    for (split, count), rng in zip((("training", train), ("validation", validation)), _rngs(seed, 2), strict=True):
        rows = [HEADER] if split == "training" else []
        for i, (img, drawn) in enumerate(scenes(rng, count, multi_face=False, progress=progress)):
            rel = f"{1 + i % 3}/{rng.bytes(12).hex()}.jpg"
            _write_image(out / "Manually_Annotated_Images" / rel, img)
            face = drawn[0]
            lm = face.landmarks_px[list(WFLW98_TO_IBUG68)]
            x0, y0 = np.floor(lm.min(axis=0)).astype(int)
            x1, y1 = np.ceil(lm.max(axis=0)).astype(int)
            code = 8 if i == count - 1 else expression_code(face)  # one 'None' row
            valence = -2 if i == 2 else round(float(rng.uniform(-1, 1)), 6)
            arousal = -2 if i == 2 else round(float(rng.uniform(-1, 1)), 6)
            landmarks = ";".join(f"{v:.2f}" for v in lm.reshape(-1))
            rows.append(f"{rel},{x0},{y0},{x1 - x0},{y1 - y0},{landmarks},{code},{valence},{arousal}")
        (lists / f"{split}.csv").write_text("\n".join(rows) + "\n")
        counts[split] = count
    return counts
