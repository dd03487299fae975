"""A run as one typed request, resolved once, then a few named steps.

    request = RunRequest(model="3fabrec", dataset="wflw", splits=("test", "make-up"),
                         model_options={"autoencoder": "ae/latest.pt"}, training=TrainingPlan(count=50, seed=1))
    outcomes = execute(request, work_dir)

`execute` resolves the request once (`prepare`: the model and its typed options, the dataset's adapter and
root, every split read, the training faces chosen, the protocols, the run context), then for each split:
`prepare_model` (load the checkpoint, or create and train the model: once, in the first split's folder),
`FacePredictions.for_split` (each distinct face predicted once per run, shared by every split holding it),
`score` (under each protocol asked for), and the `Recorder`, which starts, finishes or fails the stored run.
`fabrec-bench run` and `eval`, matrix cells and the Ray executor only build requests.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fabrec_bench import api
from fabrec_bench.datasets import DatasetAdapter
from fabrec_bench.errors import UserError
from fabrec_bench.models import DatasetFacts, LandmarkModel, ModelSpec, RunContext, TrainingProgress
from fabrec_bench.options import Options
from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.predictions import write_landmarks_csv
from fabrec_bench.protocol import EvalProtocol, resolve_protocols
from fabrec_bench.provenance import code_version, devices, library_versions
from fabrec_bench.store import Provenance, ResultsStore, RunIdentity, store_path
from fabrec_bench.torch_helpers.launch import join_torchrun, launched_by_torchrun
from fabrec_bench.types import FaceSample, Split
from fabrec_bench.warnings import warn

TRAIN_SELECTIONS = api.TRAIN_SELECTIONS


@dataclass(frozen=True)
class TrainingPlan:
    """Which faces a model trains on: `count` of the training split (None: all of it), drawn at random with
    `seed` or the `first` in annotation order (the original 3FabRec's --train-count); `seed` also seeds the
    training. `split` None is the dataset's training split."""

    count: int | None = None
    selection: str = "random"
    seed: int = 0
    split: str | None = None

    def __post_init__(self) -> None:
        if self.selection not in TRAIN_SELECTIONS:
            raise UserError(f"training selection {self.selection!r} must be one of {', '.join(TRAIN_SELECTIONS)}")
        if self.count is not None and self.count < 1:
            raise UserError(f"--train-count must be at least 1, got {self.count}")


@dataclass(frozen=True)
class ProtocolChoice:
    """`--protocol NAME` (a registered protocol, or `all`) and the options given to change the standard one
    (normaliser, threshold, auc_rule, metrics, box_source; None: keep)."""

    name: str = "standard"
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRequest:
    """Everything a run is asked to do. Frozen: a run is what its request says."""

    model: str
    dataset: str
    splits: tuple[str, ...]
    model_options: Mapping[str, Any] = field(default_factory=dict)  # as given: text (--config) or typed (TOML)
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    training: TrainingPlan = field(default_factory=TrainingPlan)
    checkpoint: Path | None = None  # evaluate this instead of training
    protocol: ProtocolChoice = field(default_factory=ProtocolChoice)
    precision: str | None = None  # inference precision (None: the model's default)
    device: str = "auto"
    label: str | None = None  # tells two configurations of one model apart in leaderboards
    data_root: Path | None = None
    skip_bad: bool = False  # skip malformed annotation lines (counted) instead of stopping
    cells: Mapping[str, str] = field(default_factory=dict)  # split -> the matrix cell key it is made for
    resume_dir: Path | None = None  # where a model that can resume its training keeps its state


@dataclass
class PreparedRun:
    """A request resolved once: every name looked up, every option checked, every split read."""

    request: RunRequest
    registry: Registry
    spec: ModelSpec
    adapter: DatasetAdapter
    options: Options  # the model's typed options (defaults with the given ones over them)
    given_options: dict  # the options the request gave, as typed values (what the store records)
    # Per split, the protocols asked for (a code may score one split of a dataset by its own rules): the first
    # scores and stores the predictions; each further one stores a run of its own too.
    protocols: dict[str, list[EvalProtocol]]
    eval_splits: list[Split]
    train_split: str | None
    train_samples: list[FaceSample]
    context: RunContext
    work_dir: Path
    data_root: Path | None = None  # where the dataset was read from

    @property
    def trains(self) -> bool:
        return self.train_split is not None

    @property
    def helper_rank(self) -> bool:
        """A torchrun helper process: it trains its share beside rank 0, which evaluates and stores."""
        return self.context.process_group is not None and not self.context.process_group.is_main

    def identity(self, split: Split, protocol: EvalProtocol) -> RunIdentity:
        """The stored identity of this run on `split` under `protocol`."""
        training = self.request.training
        return RunIdentity(
            model=self.spec.name, dataset=self.adapter.name, split=split.name, protocol=protocol.to_dict(),
            label=self.request.label, model_options=self.given_options, dataset_options=self.adapter.options,
            train_split=self.train_split, train_count=len(self.train_samples) if self.trains else None,
            train_selection=training.selection if self.trains and training.count is not None else None,
            seed=training.seed, cell_key=self.request.cells.get(split.name))

    def provenance(self, **extra) -> Provenance:
        """Where this run's numbers come from; `extra` adds the run it trained in or took predictions from."""
        checkpoint = str(self.request.checkpoint) if self.request.checkpoint is not None else None
        return Provenance(code_version=code_version(), versions=library_versions(), checkpoint=checkpoint,
                          devices=devices(self.request.device),
                          data_root=str(Path(self.data_root).resolve()) if self.data_root else None, **extra)


def prepare(request: RunRequest, work_dir: Path, *, registry: Registry | None = None,
            progress: Callable[[TrainingProgress], None] | None = None) -> PreparedRun:
    """Resolve a request once: the model and its options, the dataset's adapter (with its options) and root,
    the protocols, every evaluation split and the training faces, and the run context. Everything a user
    could get wrong is refused here, before anything trains."""
    registry = registry or get_registry()
    if not request.splits:
        raise UserError("no split to evaluate")
    adapter = api.get_adapter(request.dataset, dict(request.dataset_options), registry)
    spec = registry.model(request.model)
    for split in request.splits:
        adapter.split_info(split)
    if not adapter.labeled:
        raise UserError(f"dataset '{adapter.name}' has no landmark annotations to evaluate against")
    options = spec.make_options(request.model_options)
    given = {name: getattr(options, name) for name in request.model_options}
    protocols = {split: resolve_protocols(adapter, registry, request.protocol.name, split,
                                          **request.protocol.overrides) for split in request.splits}
    spec.check_precision(request.precision)
    if spec.capabilities.needs_checkpoint and request.checkpoint is None:
        raise UserError(f"model '{spec.name}' evaluates a given checkpoint only: pass --checkpoint FILE "
                        f"(`fabrec-bench models info {spec.name}` says where its released weights are published)")
    training = request.checkpoint is None and spec.capabilities.needs_training
    train_split = (request.training.split or adapter.train_split) if training else None
    if training and train_split is None:
        raise UserError(f"dataset '{adapter.name}' has no training split; pass --train-split or --checkpoint")
    # The adapter (with its options) and the root are resolved once; every split is read through them.
    root = api.dataset_root(adapter, request.data_root)
    eval_splits = [api.read_split(adapter, root, split, skip_bad=request.skip_bad) for split in request.splits]
    train_samples: list[FaceSample] = []
    if training and spec.check_training is not None:
        spec.check_training(adapter.scheme, options)
    if training:
        plan = request.training
        faces = api.read_split(adapter, root, train_split, skip_bad=request.skip_bad).samples
        train_samples = api.select_training_subset(faces, plan.count, plan.seed, plan.selection)
    work_dir = Path(work_dir)
    context = RunContext(device=request.device, seed=request.training.seed, work_dir=work_dir,
                         cache_dir=work_dir / "crop-cache", resume_dir=request.resume_dir,
                         precision=request.precision, dataset=DatasetFacts.of(adapter), progress=progress,
                         training_faces=_training_faces(adapter, root, request.skip_bad))
    if training and launched_by_torchrun():
        world, device = join_torchrun(request.device)
        context = replace(context, process_group=world, device=device)
    return PreparedRun(request, registry, spec, adapter, options, given, protocols, eval_splits, train_split,
                       train_samples, context, work_dir, root)


def _training_faces(adapter: DatasetAdapter, root: Path, skip_bad: bool) -> Callable[[], list[FaceSample]] | None:
    """The adapter's training split, read once when first asked for (None: it has none)."""
    if adapter.train_split is None:
        return None
    read: list[list[FaceSample]] = []

    def faces() -> list[FaceSample]:
        if not read:
            read.append(api.read_split(adapter, root, adapter.train_split, skip_bad=skip_bad).samples)
        return read[0]

    return faces


# -- the steps ---------------------------------------------------------------------------------------------


def load_checkpoint(run: PreparedRun) -> LandmarkModel:
    """Step 1 for `--checkpoint`: load it (options given on the command line apply to it) and check it predicts
    the dataset's landmarks. Done before anything is stored, so a bad file leaves no trace in the store."""
    model = run.spec.open(run.request.checkpoint, run.context, run.given_options)
    if model.scheme.num_points != run.adapter.scheme.num_points:
        raise UserError(f"{run.request.checkpoint}: checkpoint predicts {model.scheme.num_points} landmarks, "
                        f"dataset '{run.adapter.name}' has {run.adapter.scheme.num_points}")
    return model


def prepare_model(run: PreparedRun, run_dir: Path) -> tuple[LandmarkModel, float]:
    """Step 1: load the checkpoint (`load_checkpoint`), or create the model and train it, writing its training
    facts, training face ids and checkpoint into `run_dir`. Returns the model and the seconds training took."""
    if run.request.checkpoint is not None:
        return load_checkpoint(run), 0.0
    context = replace(run.context, run_dir=run_dir)
    model = run.spec.create(run.adapter.scheme, run.options, context)
    if not run.trains:
        return model, 0.0
    started = time.perf_counter()
    info = model.train(run.train_samples)
    seconds = time.perf_counter() - started
    (run_dir / "train_info.json").write_text(json.dumps(info, indent=2, default=str))
    (run_dir / "train_ids.txt").write_text("\n".join(s.id for s in run.train_samples) + "\n")
    model.save(run_dir / f"checkpoint{run.spec.checkpoint_suffix}")
    return model, seconds


@dataclass
class Predictions:
    """(N, L, 2) predictions in original-image pixels (NaN for faces the box source missed) and the (N,) mask
    of those faces."""

    landmarks: np.ndarray
    missed: np.ndarray
    crop_rule: str = ""  # what set each face's crop (the model's words)


def face_key(sample: FaceSample, box_source: str) -> tuple:
    """What makes two faces of a run one face to predict: the image, the dataset's box, the landmarks (a model
    may crop by them) and the box source. WFLW's subsets hold the test split's faces, 300-W's full its common
    and challenging ones: each such face is predicted once per run."""
    landmarks = np.asarray(sample.landmarks_px, dtype=np.float64)
    return (str(sample.image_path), tuple(float(v) for v in sample.box_px), landmarks.shape, landmarks.tobytes(),
            box_source)


class FacePredictions:
    """A run's predictions, made once per distinct face (`face_key`) over every split it evaluates, when the
    first split asks; each split reads its faces' rows from them."""

    def __init__(self, run: PreparedRun):
        self.run = run
        self._by_key: dict[tuple, tuple[np.ndarray, bool]] = {}
        self._crop_rule: dict[str, str] = {}

    def for_split(self, model: LandmarkModel, split: Split) -> Predictions:
        """Step 2: the model's predictions for every face of `split`, each face given its box from the first
        protocol's box source (ground truth by default)."""
        box_source = self.run.protocols[split.name][0].box_source
        if box_source not in self._crop_rule:
            self._predict_all(model, box_source)
        points = split.scheme.num_points
        landmarks = np.full((len(split), points, 2), np.nan)
        missed = np.zeros(len(split), dtype=bool)
        for i, sample in enumerate(split.samples):
            landmarks[i], missed[i] = self._by_key[face_key(sample, box_source)]
        return Predictions(landmarks, missed, self._crop_rule[box_source])

    def _predict_all(self, model: LandmarkModel, box_source: str) -> None:
        from fabrec_bench.faces.boxes import apply_box_source  # detectors need OpenCV: only when predicting

        unique: dict[tuple, FaceSample] = {}
        for split in self.run.eval_splits:
            if self.run.protocols[split.name][0].box_source == box_source:
                for sample in split.samples:
                    unique.setdefault(face_key(sample, box_source), sample)
        keys, samples = list(unique), list(unique.values())
        inputs, missed = apply_box_source(samples, box_source)
        found = [s for s, m in zip(inputs, missed, strict=True) if not m]
        notice = model.fallback_warning()
        if notice:
            warn(notice)
        points = self.run.adapter.scheme.num_points
        landmarks = np.full((len(samples), points, 2), np.nan)
        if found:
            got = np.asarray(model.predict(found), dtype=np.float64)
            expected = (len(found), points, 2)
            if got.shape != expected:
                raise UserError(f"model '{self.run.spec.name}' returned predictions of shape {got.shape}, "
                                f"expected {expected}")
            landmarks[~missed] = got
        self._by_key.update({key: (landmarks[i], bool(missed[i])) for i, key in enumerate(keys)})
        self._crop_rule[box_source] = model.crop_rule(box_source)


def score(run: PreparedRun, predictions: Predictions, split: Split, protocol: EvalProtocol,
          model: LandmarkModel | None = None) -> api.Evaluation:
    """Step 3: the predictions scored against `split` under `protocol` (with the normalising distances the
    model's own code reads from a file of its, where it has them)."""
    distances = None if model is None else \
        model.normalising_distances(split.samples, protocol.name, protocol.normaliser)
    return api.evaluate(predictions.landmarks, split, protocol, run.registry, missed=predictions.missed,
                        adapter=run.adapter, distances=distances)


@dataclass(frozen=True)
class StoredRun:
    """A run row in the store: its id, uid and folder."""

    id: int
    uid: str
    run_dir: Path


class Recorder:
    """Starts, finishes or fails the stored runs of one prepared run."""

    def __init__(self, store: ResultsStore, run: PreparedRun):
        self.store, self.run = store, run

    @contextmanager
    def recording(self, split: Split, protocol: EvalProtocol, **provenance):
        """A 'running' row for `split` under `protocol`; an exception or Ctrl-C marks it failed or interrupted
        (so it never shows up as a result) and goes on."""
        stored = self._start(split, protocol, **provenance)
        try:
            yield stored
        except KeyboardInterrupt:
            self.store.fail_run(stored.id, "interrupted by the user", status="interrupted")
            raise
        except BaseException as e:
            self.store.fail_run(stored.id, f"{type(e).__name__}: {e}")
            raise

    def _start(self, split: Split, protocol: EvalProtocol, **provenance) -> StoredRun:
        run_id, uid, run_dir = self.store.start_run(self.run.identity(split, protocol),
                                                    self.run.provenance(**provenance),
                                                    run_root=self.run.work_dir / "runs")
        return StoredRun(run_id, uid, run_dir)

    def finish(self, stored: StoredRun, split: Split, predictions: Predictions, evaluation: api.Evaluation,
               model: LandmarkModel, train_seconds: float, eval_seconds: float) -> None:
        """Step 4: the predictions file, then the run finished with its metrics and per-face errors."""
        write_landmarks_csv(stored.run_dir / "predictions.csv", split.ids, [str(s.image_path) for s in split.samples],
                            predictions.landmarks)
        facts = model.describe()
        if evaluation.protocol.box_source.startswith("detector"):
            facts["faces_missed"] = int(predictions.missed.sum())
        self._finish(stored, evaluation, facts, train_seconds, eval_seconds, predictions.crop_rule)

    def record_rescored(self, split: Split, predictions: Predictions, scored_from: StoredRun, protocol: EvalProtocol,
                        model: LandmarkModel, eval_seconds: float) -> tuple[int, api.Evaluation]:
        """The same predictions under a further protocol (`--protocol all`), stored as a run of its own whose
        folder points at the predictions file of the run that made them."""
        evaluation = score(self.run, predictions, split, protocol, model)
        stored = self._start(split, protocol, predictions_of_run=scored_from.uid)
        (stored.run_dir / "predictions.txt").write_text(f"{scored_from.run_dir / 'predictions.csv'}\n")
        self._finish(stored, evaluation, model.describe(), 0.0, eval_seconds, predictions.crop_rule)
        return stored.id, evaluation

    def _finish(self, stored: StoredRun, evaluation: api.Evaluation, facts: dict, train_seconds: float,
                eval_seconds: float, crop_rule: str) -> None:
        if evaluation.normaliser_source:
            facts = {**facts, "normaliser_source": evaluation.normaliser_source}
        self.store.finish_run(stored.id, metrics=evaluation.metrics, face_ids=evaluation.face_ids,
                              per_face_nme=evaluation.errors.per_face, model_info=facts, train_seconds=train_seconds,
                              eval_seconds=eval_seconds, landmark_errors=evaluation.landmark_errors(),
                              provenance={"crop_rule": crop_rule} if crop_rule else None)


@dataclass
class RunOutcome:
    """What a run did on one split: the stored run and its evaluation, and the same predictions under further
    protocols (`also`: (run id, evaluation) each)."""

    run_id: int
    uid: str
    run_dir: Path
    evaluation: api.Evaluation
    train_seconds: float
    eval_seconds: float
    train_ids: list[str] = field(default_factory=list)
    also: list[tuple[int, api.Evaluation]] = field(default_factory=list)
    crop_rule: str = ""  # what set each face's crop


def execute(request: RunRequest, work_dir: Path, *, registry: Registry | None = None,
            progress: Callable[[TrainingProgress], None] | None = None) -> list[RunOutcome]:
    """Run a request: train once (unless a checkpoint is given or the model needs no training), predict each
    distinct face of its splits once, then score and store on each split, one stored run per split and
    protocol. The checkpoint is saved in the first split's run folder. A torchrun helper process trains its
    share and stores nothing (returns [])."""
    run = prepare(request, work_dir, registry=registry, progress=progress)
    if run.helper_rank:
        with tempfile.TemporaryDirectory(prefix="fabrec-bench-rank") as tmp:
            prepare_model(run, Path(tmp))
        return []
    outcomes: list[RunOutcome] = []
    model, train_seconds, trained_in = None, 0.0, None
    if request.checkpoint is not None:
        model = load_checkpoint(run)
    faces = FacePredictions(run)
    with ResultsStore(store_path(run.work_dir)) as store:
        store.mark_stale()
        recorder = Recorder(store, run)
        for split in run.eval_splits:
            primary, *further = run.protocols[split.name]
            with recorder.recording(split, primary, trained_in_run=trained_in) as stored:
                if model is None:
                    model, train_seconds = prepare_model(run, stored.run_dir)
                    trained_in = stored.uid if run.trains else None
                started = time.perf_counter()
                predictions = faces.for_split(model, split)
                evaluation = score(run, predictions, split, primary, model)
                eval_seconds = time.perf_counter() - started
                recorder.finish(stored, split, predictions, evaluation, model, train_seconds, eval_seconds)
                also = [recorder.record_rescored(split, predictions, stored, protocol, model, eval_seconds)
                        for protocol in further]
            outcomes.append(RunOutcome(stored.id, stored.uid, stored.run_dir, evaluation, train_seconds, eval_seconds,
                                       [s.id for s in run.train_samples], also, predictions.crop_rule))
    return outcomes


def run_one(request: RunRequest, work_dir: Path, **kwargs) -> RunOutcome:
    """`execute` for a request with one split: its outcome."""
    outcomes = execute(request, work_dir, **kwargs)
    if len(outcomes) != 1:
        raise UserError(f"expected one split, the request has {len(request.splits)}")
    return outcomes[0]
