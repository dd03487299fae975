"""The public API for data and scores: resolve datasets and read splits, choose training faces, evaluate
predictions under a protocol, score prediction files and store them. Runs (train, predict, score, store) are
fabrec_bench.runs; the CLI commands in `fabrec_bench_runners` are thin wrappers over both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench.choices import TRAIN_SELECTIONS
from fabrec_bench.datasets import DatasetAdapter
from fabrec_bench.errors import UserError
from fabrec_bench.metrics import FaceErrors, Normaliser, face_errors, mean_face
from fabrec_bench.models import DatasetFacts
from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.protocol import IMAGE_FRAME, EvalProtocol
from fabrec_bench.provenance import code_version, library_versions
from fabrec_bench.roots import resolve_options, resolve_root
from fabrec_bench.store import Provenance, ResultsStore, RunIdentity, store_path
from fabrec_bench.types import FaceSample, Split


@dataclass
class Evaluation:
    """Metric values (fractions) and the per-face errors they came from."""

    metrics: dict[str, float]
    errors: FaceErrors
    protocol: EvalProtocol
    face_ids: list[str]
    mean_face: np.ndarray | None = None  # (L, 2), box coordinates
    # where the normalising distances came from when not from the protocol's normaliser on the split (HRNet's
    # AFLW box_size column of its annotation file)
    normaliser_source: str = ""

    def landmark_errors(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.mean_face is None else (self.errors.per_landmark(), self.mean_face)


def get_adapter(dataset: str, options: dict | None = None, registry: Registry | None = None) -> DatasetAdapter:
    """The registered adapter with its options from fabrec-bench.toml and `options` applied."""
    adapter = (registry or get_registry()).dataset(dataset)
    resolved = resolve_options(dataset, options)
    return adapter.with_options(**resolved) if resolved else adapter


def dataset_root(adapter: DatasetAdapter, data_root=None) -> Path:
    """The dataset's root (--data-root, environment, fabrec-bench.toml), checked to be usable."""
    root, origin = resolve_root(adapter.name, data_root)
    adapter.check_root(root, origin)
    return root


def read_split(adapter: DatasetAdapter, root: Path, split: str, *, skip_bad: bool = False) -> Split:
    """One split through an already resolved adapter and root; an empty split is an error."""
    adapter.split_info(split)
    result = adapter.load_split(root, split, skip_bad=skip_bad)
    if not result.samples:
        raise UserError(f"dataset '{adapter.name}': split '{split}' is empty in {result.source or root}")
    return result


def load_split(
    dataset: str, split: str, *, data_root=None, skip_bad: bool = False, options: dict | None = None,
    registry: Registry | None = None,
) -> Split:
    """Resolve the dataset's adapter and root and read one split through it."""
    adapter = get_adapter(dataset, options, registry)
    adapter.split_info(split)
    return read_split(adapter, dataset_root(adapter, data_root), split, skip_bad=skip_bad)


def select_training_subset(samples: list[FaceSample], count: int | None, seed: int,
                           selection: str = "random") -> list[FaceSample]:
    """`count` faces (all of them when count is None), in split order: drawn at random with `seed`, or the
    first `count` in annotation order (`first`, what the original 3FabRec's --train-count keeps)."""
    if selection not in TRAIN_SELECTIONS:
        raise UserError(f"training selection {selection!r} must be one of {', '.join(TRAIN_SELECTIONS)}")
    if count is None:
        return list(samples)
    if count < 1:
        raise UserError(f"--train-count must be at least 1, got {count}")
    if count > len(samples):
        raise UserError(f"--train-count {count} is larger than the training split ({len(samples)} faces)")
    if selection == "first":
        return list(samples[:count])
    chosen = np.random.default_rng(seed).choice(len(samples), size=count, replace=False)
    return [samples[i] for i in sorted(chosen)]


def evaluate(
    pred: np.ndarray, split: Split, protocol: EvalProtocol, registry: Registry | None = None,
    missed: np.ndarray | None = None, adapter: DatasetAdapter | None = None,
    distances: tuple[np.ndarray | None, str] | None = None,
) -> Evaluation:
    """Score (N, L, 2) predictions in original-image pixels against a split under `protocol`. Faces in
    `missed` (the box detector found none) have no prediction and count as failures. A protocol that scores in
    a frame of its own (3FabRec's crops) transforms predictions, ground truth and boxes into it first, with the
    facts of the split's `adapter` (looked up when not given). `distances`: (N,) normalising distances and
    where they come from, used instead of the protocol's normaliser (a code that reads them from a file); with
    None for the distances, only where the protocol's own came from is recorded."""
    registry = registry or get_registry()
    normaliser = registry.normaliser(protocol.normaliser)
    if distances is not None and distances[0] is not None:
        given = np.asarray(distances[0], dtype=np.float64)
        normaliser = Normaliser(normaliser.name, lambda gt, boxes, scheme: given, distances[1])
    gt = split.landmarks()
    boxes = split.boxes()
    if missed is not None and missed.any():
        pred = np.where(missed[:, None, None], gt, pred)  # placeholders; their errors are set to inf below
    if protocol.frame != IMAGE_FRAME:
        frame = registry.protocol(protocol.name).frame
        if frame is None or frame.name != protocol.frame:
            raise UserError(f"protocol {protocol.name!r} does not score in the frame {protocol.frame!r}")
        pred, gt, boxes = frame.transform(pred, gt, boxes, split,
                                          DatasetFacts.of(adapter or registry.dataset(split.dataset)))
    errors = face_errors(
        pred, gt, boxes, split.scheme, normaliser,
        visible=split.visibility(), mask_invisible=protocol.mask_invisible,
    )
    if missed is not None:
        errors.mark_missed(missed)
    metrics = {name: registry.metric(name).compute(errors, protocol) for name in protocol.metrics}
    return Evaluation(metrics=metrics, errors=errors, protocol=protocol, face_ids=split.ids,
                      mean_face=mean_face(split.landmarks(), split.boxes()) if len(split) else None,
                      normaliser_source=distances[1] if distances is not None else "")


def score_predictions(
    path: Path,
    dataset: str,
    split: str,
    *,
    data_root=None,
    protocol: EvalProtocol | None = None,
    ignore_extra: bool = False,
    dataset_options: dict | None = None,
    registry: Registry | None = None,
) -> Evaluation:
    """Score a predictions file (CSV keyed by `id`, or .npz with `ids` and `landmarks`) against a split."""
    registry = registry or get_registry()
    protocol = protocol or get_adapter(dataset, dataset_options, registry).protocol
    return score_predictions_under([protocol], path, dataset, split, data_root=data_root, ignore_extra=ignore_extra,
                                   dataset_options=dataset_options, registry=registry)[0]


def score_predictions_under(
    protocols: list[EvalProtocol],
    path: Path,
    dataset: str,
    split: str,
    *,
    data_root=None,
    ignore_extra: bool = False,
    dataset_options: dict | None = None,
    registry: Registry | None = None,
) -> list[Evaluation]:
    """Score a predictions file under each of `protocols` (the file and the split read once)."""
    from fabrec_bench.predictions import align_to_split, read_landmarks

    registry = registry or get_registry()
    adapter = get_adapter(dataset, dataset_options, registry)
    root = dataset_root(adapter, data_root)
    target = read_split(adapter, root, split)
    ids, landmarks = read_landmarks(Path(path), adapter.scheme.num_points)
    parent_ids: set[str] = set()
    parent = adapter.split_info(split).parent
    if not ignore_extra and set(ids) - set(target.ids):  # a file for a larger split: its parents' ids are fine
        while parent is not None:
            parent_ids |= set(read_split(adapter, root, parent).ids)
            parent = adapter.split_info(parent).parent
    pred = align_to_split(Path(path), ids, landmarks, target.ids, ignore_extra=ignore_extra, parent_ids=parent_ids)
    return [evaluate(pred, target, p, registry, adapter=adapter) for p in protocols]


def store_scored(evaluation: Evaluation, *, work_dir: Path, model: str, dataset: str, split: str, source: Path,
                 dataset_options: dict | None = None) -> int:
    """Record a scored predictions file as a finished run of `model` (kind 'score')."""
    identity = RunIdentity(model=model, dataset=dataset, split=split, protocol=evaluation.protocol.to_dict(),
                           dataset_options=dict(dataset_options or {}), kind="score")
    provenance = Provenance(code_version=code_version(), versions=library_versions(), predictions=str(source))
    with ResultsStore(store_path(work_dir)) as store:
        run_id, _, _ = store.start_run(identity, provenance)
        store.finish_run(run_id, metrics=evaluation.metrics, face_ids=evaluation.face_ids,
                         per_face_nme=evaluation.errors.per_face, landmark_errors=evaluation.landmark_errors())
    return run_id
