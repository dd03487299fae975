"""Landmark files exchanged with other tools: a CSV keyed by face id, or an .npz with `ids` and `landmarks`.

CSV layout (also what `fabrec-bench datasets export` writes): a header `id,image,x0,y0,...,x{L-1},y{L-1}`,
then one row per face in original-image pixels (0-based).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from fabrec_bench.checkpoints import atomic_write, read_npz
from fabrec_bench.errors import UserError
from fabrec_bench.files import is_number


def coordinate_header(num_points: int) -> list[str]:
    return [f"{axis}{i}" for i in range(num_points) for axis in ("x", "y")]


def write_landmarks_csv(path: Path, ids: list[str], images: list[str], landmarks: np.ndarray) -> None:
    """Write faces as `id,image,x0,y0,...` rows (full float precision), atomically."""
    landmarks = np.asarray(landmarks, dtype=np.float64)

    def write(f) -> None:
        writer = csv.writer(f)
        writer.writerow(["id", "image", *coordinate_header(landmarks.shape[1])])
        for face_id, image, points in zip(ids, images, landmarks, strict=True):
            writer.writerow([face_id, image, *(repr(float(v)) for v in points.reshape(-1))])

    atomic_write(Path(path), write, binary=False, durable=False)


def read_landmarks(path: Path, num_points: int, *, missed: bool = False) -> tuple[list[str], np.ndarray]:
    """Read ids and (N, L, 2) landmarks from a CSV or .npz predictions file; errors name file and line.
    `missed`: a face whose coordinates are all NaN is allowed (a run's own file marks so the faces its box
    source missed); other non-finite values are errors either way."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: predictions file not found")
    if path.suffix.lower() == ".npz":
        return _read_npz(path, num_points, missed)
    return _read_csv(path, num_points, missed)


def _finite(values, missed: bool) -> bool:
    """Every value finite, or (`missed`) every value NaN."""
    values = np.asarray(values, dtype=np.float64)
    return bool(np.isfinite(values).all() or (missed and np.isnan(values).all()))


def _read_npz(path: Path, num_points: int, missed: bool = False) -> tuple[list[str], np.ndarray]:
    arrays = read_npz(path, required=("ids", "landmarks"))
    ids = [str(i) for i in arrays["ids"].reshape(-1)]
    landmarks = np.asarray(arrays["landmarks"], dtype=np.float64)
    if landmarks.shape != (len(ids), num_points, 2):
        raise UserError(f"{path}: landmarks have shape {landmarks.shape}, expected ({len(ids)}, {num_points}, 2)")
    bad = [i for i, face in enumerate(landmarks) if not _finite(face, missed)]
    if bad:
        raise UserError(f"{path}: landmarks of face '{ids[bad[0]]}' contain NaN or inf")
    _check_unique(path, ids)
    return ids, landmarks


def _read_csv(path: Path, num_points: int, missed: bool = False) -> tuple[list[str], np.ndarray]:
    expected = ["id", "image", *coordinate_header(num_points)]
    ids, rows = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            raise UserError(f"{path}: empty file; expected a header {','.join(expected[:4])},...")
        header = [h.strip() for h in header]
        if header[:2] != ["id", "image"] or len(header) != len(expected):
            raise UserError(
                f"{path}:1: header must be id,image,x0,y0,... with {num_points} points "
                f"({len(expected)} columns); found {len(header)} columns starting {','.join(header[:3])}"
            )
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) != len(expected):
                raise UserError(f"{path}:{line}: expected {len(expected)} columns, found {len(row)}")
            try:
                values = [float(v) for v in row[2:]]
            except ValueError:
                bad = next(v for v in row[2:] if not is_number(v))
                raise UserError(f"{path}:{line}: value {bad!r} is not a number") from None
            if not _finite(values, missed):
                raise UserError(f"{path}:{line}: coordinates must be finite (found NaN or inf)")
            ids.append(row[0])
            rows.append(values)
    _check_unique(path, ids)
    landmarks = np.asarray(rows, dtype=np.float64).reshape(len(rows), num_points, 2)
    return ids, landmarks


def _check_unique(path: Path, ids: list[str]) -> None:
    seen: set[str] = set()
    for face_id in ids:
        if face_id in seen:
            raise UserError(f"{path}: face id {face_id!r} appears more than once")
        seen.add(face_id)


def align_to_split(
    path: Path, ids: list[str], landmarks: np.ndarray, split_ids: list[str], ignore_extra: bool = False,
    parent_ids: set[str] | frozenset[str] = frozenset(),
) -> np.ndarray:
    """Order predictions like the split; faces missing from the file are an error, and so are ids the split
    does not hold, unless they belong to the split's parent (`parent_ids`: a file for WFLW's whole test set
    scores any attribute subset) or `ignore_extra` is set."""
    index = {face_id: i for i, face_id in enumerate(ids)}
    missing = [fid for fid in split_ids if fid not in index]
    if missing:
        raise UserError(
            f"{path}: {len(missing)} of the split's {len(split_ids)} faces have no prediction "
            f"(first: {', '.join(missing[:3])})"
        )
    known = set(split_ids) | set(parent_ids)
    unknown = [fid for fid in ids if fid not in known]
    if unknown and not ignore_extra:
        raise UserError(
            f"{path}: {len(unknown)} prediction(s) are for faces not in the split (first: {', '.join(unknown[:3])}); pass --ignore-extra to score only the split's faces"
        )
    return landmarks[[index[fid] for fid in split_ids]]
