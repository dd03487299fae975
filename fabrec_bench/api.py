"""The public API: load splits, train and evaluate models, score prediction files, store results.

The CLI commands in `fabrec_bench_runners` are thin wrappers over these functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter
from fabrec_bench.errors import UserError, refuse_unknown
from fabrec_bench.metrics import FaceErrors, face_errors, mean_face
from fabrec_bench.models import LandmarkModel, ModelSpec, RunContext, TrainingProgress
from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.predictions import write_landmarks_csv
from fabrec_bench.protocol import (
    PAPER_CROP_SIZE,
    PAPER_NORMALISERS,
    PROTOCOL_NAMES,
    EvalProtocol,
    protocol_applies,
    protocol_with_overrides,
)
from fabrec_bench.roots import resolve_options, resolve_root
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench.types import FaceSample, Split


@dataclass
class Evaluation:
    """Metric values (fractions) and the per-face errors they came from."""

    metrics: dict[str, float]
    errors: FaceErrors
    protocol: EvalProtocol
    face_ids: list[str]
    mean_face: np.ndarray | None = None  # (L, 2), box coordinates

    def landmark_errors(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.mean_face is None else (self.errors.per_landmark(), self.mean_face)


@dataclass
class RunOutcome:
    """What `run_model` did: the stored run and its evaluation."""

    run_id: int
    uid: str
    run_dir: Path
    evaluation: Evaluation
    train_seconds: float
    eval_seconds: float
    train_ids: list[str] = field(default_factory=list)
    # The same predictions under further protocols (`--protocol all`), each stored as a run of its own.
    also: list[tuple[int, Evaluation]] = field(default_factory=list)


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


TRAIN_SELECTIONS = ("random", "first")


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


def check_protocol(protocol: EvalProtocol, adapter: DatasetAdapter) -> None:
    """Refuse a protocol that cannot score this dataset (before anything is trained)."""
    if protocol.frame == "3fabrec-crop":
        if adapter.name not in PAPER_NORMALISERS:
            raise UserError(f"the {protocol.name} protocol scores in 3FabRec's crops of "
                            f"{', '.join(PAPER_NORMALISERS)}, not of '{adapter.name}'")
        if protocol.box_source != "ground-truth":
            raise UserError(f"the {protocol.name} protocol scores in the crop of the annotation box; "
                            f"--box-source {protocol.box_source} is not part of it")


def to_paper_frame(pred: np.ndarray, gt: np.ndarray, boxes: np.ndarray, adapter: DatasetAdapter
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions, ground truth and boxes in the 256-px crop of 3FabRec's crop rule, as the original scored:
    the frame of the annotation files as written, ground truth clamped at 0, each face's box the crop."""
    from fabrec_bench.faces.crops import CropSettings, crop_matrix, to_crop

    settings = CropSettings(PAPER_CROP_SIZE, extension=tuple(adapter.crop_box_extension), rule="3fabrec",
                            frame_offset=adapter.file_origin - adapter.coordinate_origin)
    matrices = [crop_matrix(box, settings) for box in boxes]
    pred_crop = np.stack([to_crop(p, m) for p, m in zip(pred, matrices, strict=True)]) if len(pred) else pred
    gt_crop = np.stack([to_crop(g, m) for g, m in zip(gt, matrices, strict=True)]) if len(gt) else gt
    crop_boxes = np.tile([0.0, 0.0, PAPER_CROP_SIZE, PAPER_CROP_SIZE], (len(boxes), 1))
    return pred_crop, np.maximum(gt_crop, 0.0), crop_boxes


def evaluate(
    pred: np.ndarray, split: Split, protocol: EvalProtocol, registry: Registry | None = None,
    missed: np.ndarray | None = None, adapter: DatasetAdapter | None = None,
) -> Evaluation:
    """Score (N, L, 2) predictions in original-image pixels against a split under `protocol`. Faces in
    `missed` (the box detector found none) have no prediction and count as failures. A protocol scored in
    3FabRec's crop frame needs the split's `adapter` (its crop rule and coordinate frame)."""
    registry = registry or get_registry()
    normaliser = registry.normaliser(protocol.normaliser)
    gt = split.landmarks()
    boxes = split.boxes()
    if missed is not None and missed.any():
        pred = np.where(missed[:, None, None], gt, pred)  # placeholders; their errors are set to inf below
    if protocol.frame == "3fabrec-crop":
        adapter = adapter or registry.dataset(split.dataset)
        check_protocol(protocol, adapter)
        pred, gt, boxes = to_paper_frame(pred, gt, boxes, adapter)
    errors = face_errors(
        pred, gt, boxes, split.scheme, normaliser,
        visible=split.visibility(), mask_invisible=protocol.mask_invisible,
    )
    if missed is not None:
        errors.mark_missed(missed)
    metrics = {name: registry.metric(name).compute(errors, protocol) for name in protocol.metrics}
    return Evaluation(metrics=metrics, errors=errors, protocol=protocol, face_ids=split.ids,
                      mean_face=mean_face(split.landmarks(), split.boxes()) if len(split) else None)


@lru_cache(maxsize=1)
def code_version() -> str:
    """fabrec-bench's version, plus the git commit (and '-dirty') when running from a checkout."""
    try:
        version = metadata.version("fabrec-bench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    src = Path(__file__).resolve().parent.parent
    if (src / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(src), "describe", "--always", "--dirty"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()
            return f"{version}+{commit}"
        except (OSError, subprocess.SubprocessError):
            pass
    return version


def library_versions() -> dict[str, str]:
    """Versions of the libraries that can change a number (read from metadata; nothing is imported)."""
    out = {}
    for dist in ("torch", "numpy", "opencv-python-headless", "opencv-python", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def protocol_for(adapter: DatasetAdapter, name: str = "standard", **overrides) -> EvalProtocol:
    """The protocol `name` (the dataset's standard one by default) with the user's overrides."""
    protocol = protocol_with_overrides(name, adapter.name, adapter.protocol, **overrides)
    check_protocol(protocol, adapter)
    return protocol


def protocols_for(adapter: DatasetAdapter, name: str = "standard", **overrides) -> list[EvalProtocol]:
    """The protocols `--protocol NAME` asks for: NAME's, or with `all` every named protocol that has rules for
    this dataset (standard first). With `all` only `metrics` may be given (each protocol fixes the rest)."""
    if name != "all":
        return [protocol_for(adapter, name, **overrides)]
    given = {k for k, v in overrides.items() if v is not None and k != "metrics"}
    if given:
        options = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise UserError(f"--protocol all scores by each protocol's own rules; {options} cannot change them "
                        "(use --protocol standard with your options instead)")
    return [protocol_for(adapter, n, metrics=overrides.get("metrics") if n == "standard" else None)
            for n in PROTOCOL_NAMES if protocol_applies(n, adapter.name)]


def run_model(model: str, dataset: str, split: str, **kwargs) -> RunOutcome:
    """Train (if needed), evaluate on one split and store the run; see `run_model_on_splits`."""
    return run_model_on_splits(model, dataset, [split], **kwargs)[0]


def run_model_on_splits(
    model: str,
    dataset: str,
    splits: list[str],
    *,
    work_dir: Path,
    data_root=None,
    train_split: str | None = None,
    train_count: int | None = None,
    seed: int = 0,
    config: dict | None = None,
    device: str = "auto",
    skip_bad: bool = False,
    protocol: EvalProtocol | None = None,
    checkpoint: Path | None = None,
    dataset_options: dict | None = None,
    cell_keys: dict[str, str] | None = None,
    registry: Registry | None = None,
    precision: str | None = None,
    train_selection: str = "random",
    resume_dir: Path | None = None,
    progress: Callable[[TrainingProgress], None] | None = None,
    also_protocols: list[EvalProtocol] | None = None,
) -> list[RunOutcome]:
    """Train once (unless `checkpoint` is given or the model needs no training), then evaluate on each split,
    storing one run per split. The model's checkpoint is saved in the first run's folder.

    `also_protocols`: the same predictions are scored under each of these too and stored as runs of their own
    (`--protocol all`); a leaderboard shows them as separate rows.

    `precision` is the inference precision (models with an `inference_precision` option; fp32 otherwise);
    `config` sets model options, for a loaded checkpoint too. `train_selection` picks the `train_count`
    faces: `random` (seeded) or `first` (annotation order, as the original 3FabRec).

    Each run is recorded as 'running' first; an error or interruption marks it failed or interrupted, so it
    never shows up as a result. `cell_keys` (split -> key) tags runs made for a matrix cell; `resume_dir` is
    where a model that can resume its training keeps its state (matrices give one per cell).

    The model gets a `RunContext`: the run's folders, the crop cache, the dataset's crop-box extension and
    coordinate frame, device, seed, the inference precision asked for, the torchrun process group (when
    launched by torchrun) and `progress`, told after every training step.
    """
    registry = registry or get_registry()
    adapter = get_adapter(dataset, dataset_options, registry)
    spec = registry.model(model)
    if not splits:
        raise UserError("no split to evaluate")
    for split in splits:
        adapter.split_info(split)
    if not adapter.labeled:
        raise UserError(f"dataset '{dataset}' has no landmark annotations to evaluate against")
    protocol = protocol or adapter.protocol
    check_protocol(protocol, adapter)
    _check_precision(spec, precision)
    refuse_unknown(config or {}, spec.default_config, f"model '{spec.name}'")
    config = dict(config or {})
    training = checkpoint is None and spec.needs_training
    train_split = (train_split or adapter.train_split) if training else None
    if training and train_split is None:
        raise UserError(f"dataset '{dataset}' has no training split; pass --train-split or --checkpoint")
    # The adapter (with its options) and the root are resolved once; every split is read through them.
    root = dataset_root(adapter, data_root)
    eval_splits = [read_split(adapter, root, split, skip_bad=skip_bad) for split in splits]
    train_samples: list[FaceSample] = []
    if training:
        train_data = read_split(adapter, root, train_split, skip_bad=skip_bad)
        train_samples = select_training_subset(train_data.samples, train_count, seed, train_selection)

    work_dir = Path(work_dir)
    context = RunContext(device=device, seed=seed, work_dir=work_dir, cache_dir=work_dir / "crop-cache",
                         resume_dir=Path(resume_dir) if resume_dir else None, precision=precision,
                         crop_extension=tuple(adapter.crop_box_extension), data_origin=adapter.coordinate_origin,
                         progress=progress)
    if training and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from fabrec_bench.torch_helpers.distributed import setup

        world, process_device = setup(device)  # joins torchrun's process group
        context = replace(context, process_group=world, device=process_device)
    if context.process_group is not None and not context.process_group.is_main:
        # A helper process under torchrun: it trains its share alongside rank 0, which stores the results.
        import tempfile

        with tempfile.TemporaryDirectory(prefix="fabrec-bench-rank") as tmp:
            lm = spec.create(adapter.scheme, config, replace(context, run_dir=Path(tmp)))
            lm.train(train_samples, seed=seed, work_dir=Path(tmp))
        return []
    run_config = dict(config or {})
    if training and train_count is not None and train_selection != "random":
        run_config["train_selection"] = train_selection
    if checkpoint is not None:
        run_config["checkpoint"] = str(checkpoint)
    if adapter.options:
        run_config["dataset_options"] = adapter.options
    outcomes: list[RunOutcome] = []
    lm = None
    train_seconds = 0.0
    with ResultsStore(store_path(work_dir)) as store:
        store.mark_stale()
        for eval_split in eval_splits:
            cell = {"matrix_cell": cell_keys[eval_split.name]} if cell_keys else {}
            if cell_keys and os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
                cell["visible_gpus"] = os.environ["CUDA_VISIBLE_DEVICES"]  # what the executor gave this cell
            run_id, uid, run_dir = store.start_run(
                model=model, dataset=dataset, split=eval_split.name, train_split=train_split,
                train_count=len(train_samples) if training else None, seed=seed, config={**run_config, **cell},
                protocol=protocol.to_dict(), code_version=code_version(), versions=library_versions(),
                run_root=work_dir / "runs",
            )
            try:
                if lm is None:  # step 1: train (once, in the first run's folder) or load
                    t0 = time.perf_counter()
                    lm = _prepare_model(spec, adapter, config, replace(context, run_dir=run_dir), checkpoint,
                                        train_samples)
                    train_seconds = time.perf_counter() - t0 if training else 0.0
                    if training:
                        (run_dir / "train_ids.txt").write_text("\n".join(s.id for s in train_samples) + "\n")
                        run_config = {**run_config, "trained_in_run": uid}
                t1 = time.perf_counter()
                pred, missed = _predict(lm, model, eval_split, protocol)  # step 2
                evaluation = evaluate(pred, eval_split, protocol, registry, missed=missed, adapter=adapter)  # 3
                t2 = time.perf_counter()
                _record(store, run_id, run_dir, eval_split, pred, missed, evaluation, lm, protocol,  # step 4
                        train_seconds, t2 - t1)
                also = [_record_also(store, other, pred, missed, eval_split, lm, adapter, registry, work_dir,
                                     run_dir, t2 - t1, uid,
                                     model=model, dataset=dataset, train_split=train_split, seed=seed,
                                     train_count=len(train_samples) if training else None,
                                     config={**run_config, **cell})
                        for other in also_protocols or ()]
            except KeyboardInterrupt:
                store.fail_run(run_id, "interrupted by the user", status="interrupted")
                raise
            except BaseException as e:
                store.fail_run(run_id, f"{type(e).__name__}: {e}")
                raise
            outcomes.append(RunOutcome(run_id, uid, run_dir, evaluation, train_seconds, t2 - t1,
                                       [s.id for s in train_samples], also))
    return outcomes


def _predict(lm: LandmarkModel, model: str, split: Split, protocol: EvalProtocol) -> tuple[np.ndarray, np.ndarray]:
    """(N, L, 2) predictions in image pixels (NaN for faces the box source missed) and the (N,) missed mask.
    The model sees each face's box from the protocol's box source (ground truth by default)."""
    from fabrec_bench.faces.boxes import apply_box_source  # detectors need OpenCV: only when predicting

    inputs, missed = apply_box_source(split.samples, protocol.box_source)
    found = [s for s, m in zip(inputs, missed, strict=True) if not m]
    expected = (len(found), split.scheme.num_points, 2)
    pred = np.full((len(split), *expected[1:]), np.nan)
    if found:
        got = np.asarray(lm.predict(found), dtype=np.float64)
        if got.shape != expected:
            raise UserError(f"model '{model}' returned predictions of shape {got.shape}, expected {expected}")
        pred[~missed] = got
    return pred, missed


def _record(store: ResultsStore, run_id: int, run_dir: Path, split: Split, pred: np.ndarray, missed: np.ndarray,
            evaluation: Evaluation, lm: LandmarkModel, protocol: EvalProtocol, train_seconds: float,
            eval_seconds: float) -> None:
    """Write the run's predictions file and mark the run finished with its metrics and per-face errors."""
    write_landmarks_csv(run_dir / "predictions.csv", split.ids, [str(s.image_path) for s in split.samples], pred)
    detector = {"faces_missed": int(missed.sum())} if protocol.box_source.startswith("detector") else {}
    store.finish_run(
        run_id, metrics=evaluation.metrics, face_ids=evaluation.face_ids, per_face_nme=evaluation.errors.per_face,
        model_info={**lm.describe(), **detector}, train_seconds=train_seconds, eval_seconds=eval_seconds,
        landmark_errors=evaluation.landmark_errors(),
    )


def _record_also(store: ResultsStore, protocol: EvalProtocol, pred: np.ndarray, missed: np.ndarray, split: Split,
                 lm: LandmarkModel, adapter: DatasetAdapter, registry: Registry, work_dir: Path, run_dir: Path,
                 eval_seconds: float, scored_from: str, **run) -> tuple[int, Evaluation]:
    """Score a run's predictions under a further protocol and store that as a run of its own (its folder
    points at the predictions of the run that made them)."""
    evaluation = evaluate(pred, split, protocol, registry, missed=missed, adapter=adapter)
    run_id, _, other_dir = store.start_run(
        split=split.name, protocol=protocol.to_dict(), code_version=code_version(), versions=library_versions(),
        run_root=work_dir / "runs", **{**run, "config": {**run["config"], "predictions_of_run": scored_from}})
    (other_dir / "predictions.txt").write_text(f"{run_dir / 'predictions.csv'}\n")
    store.finish_run(run_id, metrics=evaluation.metrics, face_ids=evaluation.face_ids,
                     per_face_nme=evaluation.errors.per_face, model_info=lm.describe(), train_seconds=0.0,
                     eval_seconds=eval_seconds, landmark_errors=evaluation.landmark_errors())
    return run_id, evaluation


def _prepare_model(spec: ModelSpec, adapter: DatasetAdapter, config: dict, context: RunContext, checkpoint,
                   train_samples) -> LandmarkModel:
    """Step 1 of a run: load the checkpoint, or create the model and train it (saving its checkpoint in the
    run's folder). The context carries the dataset being evaluated (its crop rule and frame), not the one the
    checkpoint was trained on; options given on the command line apply to a loaded model as they would in run."""
    run_dir = context.run_dir
    if checkpoint is not None:
        lm = spec.open(Path(checkpoint), context)
        lm.config.update(config)
        if lm.scheme.num_points != adapter.scheme.num_points:
            raise UserError(
                f"{checkpoint}: checkpoint predicts {lm.scheme.num_points} landmarks, dataset "
                f"'{adapter.name}' has {adapter.scheme.num_points}"
            )
        return lm
    lm = spec.create(adapter.scheme, config, context)
    if spec.needs_training:
        info = lm.train(train_samples, seed=context.seed, work_dir=run_dir)
        (run_dir / "train_info.json").write_text(json.dumps(info, indent=2, default=str))
        lm.save(run_dir / f"checkpoint{spec.checkpoint_suffix}")
    return lm


def _check_precision(spec: ModelSpec, precision: str | None) -> None:
    """Refuse an inference precision a model cannot honour (models with `inference_precision` can)."""
    if precision not in (None, "fp32") and "inference_precision" not in spec.default_config:
        raise UserError(f"model '{spec.name}' computes in fp32 only; --precision {precision} does not apply")


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


def store_scored(
    evaluation: Evaluation, *, work_dir: Path, model: str, dataset: str, split: str, source: Path
) -> int:
    """Record a scored predictions file as a finished run of `model` (kind 'score')."""
    with ResultsStore(store_path(work_dir)) as store:
        run_id, _, _ = store.start_run(
            model=model, dataset=dataset, split=split, config={"predictions": str(source)},
            protocol=evaluation.protocol.to_dict(), code_version=code_version(), versions=library_versions(),
            kind="score",
        )
        store.finish_run(run_id, metrics=evaluation.metrics, face_ids=evaluation.face_ids,
                         per_face_nme=evaluation.errors.per_face, landmark_errors=evaluation.landmark_errors())
    return run_id
