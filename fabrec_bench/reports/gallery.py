"""A stored run's faces as pictures (`fabrec-bench show`): each face's crop with the ground truth in green and
the prediction in blue, its NME (inner / outer / all, as the 3FabRec figures) in the corner; pages of faces
ordered worst first, best first, at random or by subset.

The run's predictions are read from its folder; the images and ground truth are re-read from the dataset root
the run recorded (or one given), and the per-face errors recomputed under the run's own protocol.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench import api
from fabrec_bench.errors import UserError
from fabrec_bench.predictions import read_landmarks
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.reports.drawing import GROUND_TRUTH_BGR, PREDICTION_BGR, draw_points
from fabrec_bench.store import RunRecord
from fabrec_bench.types import FaceSample, Split

ORDERS = ("worst", "best", "random", "subset")
MARGIN = 0.25  # context around each face box, as a fraction of its longer side


@dataclass
class RunFaces:
    """A run's split, its predictions (N, L, 2; NaN for faces a detector missed) and per-face NMEs
    (all, inner, outer: fractions; NaN where a scheme has no such group)."""

    run: RunRecord
    split: Split
    predictions: np.ndarray
    nme: np.ndarray
    inner: np.ndarray
    outer: np.ndarray


def predictions_file(run: RunRecord) -> Path:
    """The run's predictions.csv, or the one its predictions.txt points at (a run rescored under another
    protocol keeps the predictions of the run that made them)."""
    if not run.run_dir:
        raise UserError(f"run {run.id} has no folder; it stores no predictions to show")
    folder = Path(run.run_dir)
    if (folder / "predictions.csv").is_file():
        return folder / "predictions.csv"
    pointer = folder / "predictions.txt"
    if pointer.is_file():
        return Path(pointer.read_text().strip())
    raise UserError(f"run {run.id}: no predictions in {folder} (the folder is gone or was moved)")


def load_run_faces(run: RunRecord, data_root: str | Path | None = None, splits: dict | None = None) -> RunFaces:
    """Everything needed to draw a run's faces; one clear line when its dataset root is gone. `splits` caches
    the splits read (many runs share one)."""
    adapter = api.get_adapter(run.dataset, dict(run.dataset_options))
    recorded = run.provenance.get("data_root")
    root = Path(data_root) if data_root else Path(recorded) if recorded else api.dataset_root(adapter, None)
    if not root.exists():
        raise UserError(f"{root}: the dataset root run {run.id} was made with is gone; pass --data-root")
    key = (run.dataset, json.dumps(run.dataset_options, sort_keys=True), str(root), run.split)
    cache = splits if splits is not None else {}
    if key not in cache:
        cache[key] = api.read_split(adapter, root, run.split)
    split = cache[key]
    ids, landmarks = read_landmarks(predictions_file(run), split.scheme.num_points, missed=True)
    where = {face_id: i for i, face_id in enumerate(ids)}
    missing = [s.id for s in split.samples if s.id not in where]
    if missing:
        raise UserError(f"run {run.id}: {len(missing)} face(s) of {run.dataset}/{run.split} in {root} have no "
                        f"prediction (first: {missing[0]}); is it the root the run was made with?")
    predictions = np.stack([landmarks[where[s.id]] for s in split.samples])
    missed = ~np.isfinite(predictions).reshape(len(split), -1).all(axis=1)
    evaluation = api.evaluate(np.where(missed[:, None, None], 0.0, predictions), split,
                              EvalProtocol.from_dict(run.protocol), missed=missed, adapter=adapter)
    errors = evaluation.errors

    def group(name: str) -> np.ndarray:
        idx = list(split.scheme.groups.get(name, ()))
        if not idx:
            return np.full(len(split), np.nan)
        values = np.where(errors.mask[:, idx], errors.per_point[:, idx], np.nan)
        scored = np.isfinite(values).any(axis=1)  # a face the box source missed has no point error
        out = np.full(len(split), np.nan)
        out[scored] = np.nanmean(values[scored], axis=1)
        return out
    return RunFaces(run, split, predictions, errors.per_face, group("inner"), group("outline"))


def ordered(faces: RunFaces, order: str, seed: int = 0) -> list[int]:
    """Face indices in the order asked for: worst NME first, best first, at random (seeded), or by subset
    (the split's attribute flags, then worst first within each)."""
    if order not in ORDERS:
        raise UserError(f"order {order!r} must be one of {', '.join(ORDERS)}")
    nme = np.where(np.isfinite(faces.nme), faces.nme, np.inf)
    if order == "worst":
        return [int(i) for i in np.argsort(-nme, kind="stable")]
    if order == "best":
        return [int(i) for i in np.argsort(nme, kind="stable")]
    if order == "random":
        return [int(i) for i in np.random.default_rng(seed).permutation(len(nme))]
    keys = [",".join(sorted(k for k, v in s.attributes.items() if v == 1)) for s in faces.split.samples]
    return sorted(range(len(nme)), key=lambda i: (keys[i], -nme[i]))


def _text(image: np.ndarray, text: str, origin: tuple[int, int], scale: float) -> None:
    import cv2

    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):  # outlined: readable on any face
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def percent(value: float) -> str:
    return "–" if not np.isfinite(value) else f"{100 * value:.1f}"


def face_tile(image: np.ndarray, sample: FaceSample, prediction: np.ndarray, nme: tuple[float, float, float],
              tile: int = 192) -> np.ndarray:
    """The face's box made square with a margin, scaled to `tile` px; ground truth green, prediction blue; the
    face id bottom left, NME in/out/all (percent) bottom right."""
    import cv2

    x0, y0, x1, y1 = sample.box_px
    side = max(x1 - x0, y1 - y0) * (1 + 2 * MARGIN)
    left, top = (x0 + x1) / 2 - side / 2, (y0 + y1) / 2 - side / 2
    scale = tile / side
    matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]])
    out = cv2.warpAffine(image, matrix, (tile, tile), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=(40, 40, 40))
    radius = max(1, tile // 96)
    draw_points(out, (sample.landmarks_px - [left, top]) * scale, GROUND_TRUTH_BGR, radius)
    if np.isfinite(prediction).all():
        draw_points(out, (prediction - [left, top]) * scale, PREDICTION_BGR, radius)
    text_scale = tile / 480
    inner, outer, overall = nme
    label = f"in {percent(inner)} out {percent(outer)} all {percent(overall)}"
    if not np.isfinite(overall):
        label = "missed by the detector"
    (width, _), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, text_scale, 1)
    _text(out, label, (tile - width - 4, tile - 5), text_scale)
    _text(out, sample.id[-18:], (4, 12 + int(10 * text_scale)), text_scale)
    return out


def face_tiles(faces: RunFaces, indices: list[int], tile: int) -> list[np.ndarray]:
    """`face_tile` of each face in `indices`, each image read once for a run of faces from it."""
    from fabrec_bench.faces.facedata import load_image

    cached: tuple[str, np.ndarray] | None = None  # faces of one image are neighbours: keep one image at a time
    tiles = []
    for i in indices:
        sample = faces.split.samples[i]
        if cached is None or cached[0] != str(sample.image_path):
            cached = (str(sample.image_path), load_image(sample.image_path))
        tiles.append(face_tile(cached[1], sample, faces.predictions[i],
                               (faces.inner[i], faces.outer[i], faces.nme[i]), tile))
    return tiles


def gallery_pages(faces: RunFaces, order: str = "worst", per_page: int = 24, pages: int = 1, columns: int = 6,
                  tile: int = 192, seed: int = 0) -> list[np.ndarray]:
    """Pages (BGR images) of face tiles, `per_page` faces each, in `order`."""
    if per_page < 1 or pages < 1 or columns < 1:
        raise UserError("--per-page, --pages and --columns must be at least 1")
    tiles = face_tiles(faces, ordered(faces, order, seed)[: per_page * pages], tile)
    out = []
    for start in range(0, len(tiles), per_page):
        page = tiles[start:start + per_page]
        rows = -(-len(page) // columns)
        sheet = np.full((rows * tile, min(columns, len(page)) * tile, 3), 255, np.uint8)
        for k, picture in enumerate(page):
            r, c = divmod(k, columns)
            sheet[r * tile:(r + 1) * tile, c * tile:(c + 1) * tile] = picture
        out.append(sheet)
    return out


def row_galleries(rows, count: int = 6, tile: int = 96, quality: int = 75) -> dict:
    """For the HTML leaderboard: per row (keyed by id(row)) its first run's `count` worst faces as JPEG
    thumbnails, (caption, [(alt, bytes)]), or the reason there are none (a score run without images, a dataset
    root that is gone)."""
    import cv2

    out: dict = {}
    if count < 1:
        return out
    splits: dict = {}
    for row in rows:
        run = next((r for r in row.runs if r.run_dir), None)
        if run is None:
            out[id(row)] = "the row's runs keep no predictions folder"
            continue
        try:
            faces = load_run_faces(run, splits=splits)
        except UserError as e:
            out[id(row)] = str(e)
            continue
        thumbnails = []
        worst = ordered(faces, "worst")[:count]
        for i, picture in zip(worst, face_tiles(faces, worst, tile), strict=True):
            ok, jpeg = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if ok:
                thumbnails.append((f"{faces.split.samples[i].id}: NME {percent(faces.nme[i])} %", jpeg.tobytes()))
        seeds = f" (seed {run.seed}; the row averages {len(row.runs)} runs)" if len(row.runs) > 1 else ""
        out[id(row)] = (f"worst {len(thumbnails)} of {len(faces.split)} faces of run {run.id}{seeds}: ground truth "
                        "green, prediction blue, NME in / out / all (%)", thumbnails)
    return out


def run_checkpoint(run: RunRecord, runs_by_uid: dict[str, RunRecord]) -> Path | None:
    """Where a run's model was saved: its own folder, the folder of the run it trained in, or the checkpoint
    it was evaluated from."""
    for candidate in (run, runs_by_uid.get(run.provenance.get("trained_in_run"))):
        if candidate is not None and candidate.run_dir:
            found = sorted(Path(candidate.run_dir).glob("checkpoint.*"))
            if found:
                return found[0]
    given = run.provenance.get("checkpoint")
    return Path(given) if given and Path(given).exists() else None


def model_pages(faces: RunFaces, model, order: str = "worst", per_page: int = 8, pages: int = 1, tile: int = 192,
                seed: int = 0) -> list[np.ndarray]:
    """For a model that draws how it sees a face (LandmarkModel.illustrate; 3FabRec): one line per face, its
    tile beside each of the model's pictures (3FabRec: the reconstruction with SSIM and pixel error, the
    ground-truth heatmaps, the predicted heatmaps), each scaled to `tile`. [] when the model draws nothing."""
    import cv2

    chosen = ordered(faces, order, seed)[: per_page * pages]
    samples = [faces.split.samples[i] for i in chosen]
    pictures = model.illustrate(samples, truth=True) if samples else []
    if not any(pictures):
        return []
    names = [n for n in ("reconstruction", "truth_heatmaps", "heatmaps") if n in pictures[0]]
    lines = [np.concatenate([first, *(cv2.resize(drawn[n], (tile, tile)) for n in names)], axis=1)
             for first, drawn in zip(face_tiles(faces, chosen, tile), pictures, strict=True)]
    return [np.concatenate(lines[k:k + per_page], axis=0) for k in range(0, len(lines), per_page)]
