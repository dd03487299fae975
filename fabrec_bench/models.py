"""The landmark-model contract, and how a model is named and created (a timm-style registry entry).

One signature family (what a model plugin implements, every argument plain data):
- `create(scheme, options, context) -> LandmarkModel`: a new model; `options` is an instance of the model's
  `Options` dataclass (fabrec_bench.options), `context` the run's `RunContext`;
- `model.train(samples) -> dict`: fit, with seed, folders and progress from the context; returns a few facts;
- `model.predict(samples) -> (N, L, 2)` landmarks in original-image pixels;
- `model.save(path)` and `load(path, context) -> LandmarkModel`: checkpoints;
- `pretrain(samples, options, context) -> Path`: an optional unsupervised pretraining shared by many runs
  (3FabRec's stage-1 autoencoder), with options of its own.
A `ModelSpec` names these and declares what the model can do (`Capabilities`) instead of leaving the run to
guess it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.options import Options, defaults, describe_options, make_options, with_options
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.types import FaceSample


@dataclass(frozen=True)
class TrainingProgress:
    """One training step, as reported to the run context's progress callback (every model's training reports
    this way; the CLI draws it)."""

    stage: str  # e.g. "3fabrec stage 2"
    epoch: int  # 1-based epoch being trained
    epochs: int
    iteration: int  # iterations done
    iterations: int  # iterations planned (the run may stop earlier on a time budget)
    losses: dict[str, float]
    images_per_second: float

    def describe(self) -> str:
        losses = " ".join(f"{k} {v:.4g}" for k, v in self.losses.items())
        return (f"{self.stage} epoch {self.epoch}/{self.epochs}, iteration {self.iteration}/{self.iterations}: "
                f"{losses} ({self.images_per_second:.0f} img/s)")


@dataclass(frozen=True)
class DatasetFacts:
    """What a model may need to know about the data it is given: the adapter's crop-box extension (3FabRec's
    per-dataset adjustment, fractions of the box height) and the samples' coordinate frame."""

    name: str = ""
    crop_box_extension: tuple[float, float] = (0.0, 0.0)  # (raise the top by, lower the bottom by)
    coordinate_origin: float = 0.0  # the coordinate of the top-left pixel's centre in the samples (0: 0-based)
    file_origin: float = 0.0  # the same in the dataset's files as written (300-W's .pts: 1)
    # False for faces without annotations (`fabrec-bench predict` on photographs): a model then crops from the
    # face box it is given, never from a dataset's rule or the (absent) ground truth.
    labeled: bool = True

    @classmethod
    def of(cls, adapter) -> DatasetFacts:
        """The facts a dataset adapter declares."""
        return cls(adapter.name, tuple(adapter.crop_box_extension), float(adapter.coordinate_origin),
                   float(adapter.file_origin))


@dataclass(frozen=True)
class RunContext:
    """What a run gives a model besides its options: where it may write, what the data is, how to compute.

    The run pipeline (fabrec_bench.runs) makes one per run; models read it instead of receiving hidden options.
    A plain device string where a context is expected means `RunContext(device=...)`."""

    device: str = "auto"
    seed: int = 0
    work_dir: Path | None = None  # the work directory (results store, caches)
    run_dir: Path | None = None  # this run's folder: training artefacts (loss curves, grids) go here
    cache_dir: Path | None = None  # a cache the model may fill (3FabRec: face crops)
    resume_dir: Path | None = None  # where a training keeps state to continue after an interruption
    precision: str | None = None  # the inference precision asked for (None: the model's own default)
    dataset: DatasetFacts = field(default_factory=DatasetFacts)  # the data being trained on or evaluated
    # The processes a training shares its work with (fabrec_bench.torch_helpers.distributed.World); None: one
    # process, or the torchrun group joined from the environment when a training starts.
    process_group: Any = None
    progress: Callable[[TrainingProgress], None] | None = None  # told after every training step
    # The dataset's training split, read when first called: for a model that needs statistics of it at
    # evaluation time too (PIPNet's mean face). None: the dataset has no training split.
    training_faces: Callable[[], Sequence[FaceSample]] | None = None


def trained_by_recipe(backbone_init: str | None, history: Mapping[str, Any]) -> dict:
    """What a model trained here by its own code's recipe records with each result: the row's variant (recipe and
    backbone initialisation: its rows never merge with a released checkpoint's, and one model's rows at several
    training sizes make one few-shot curve) and the training's facts (epochs run of those planned, iterations,
    faces: in each row's details); {} for a loaded checkpoint (`backbone_init` None)."""
    if backbone_init is None:
        return {}
    init = "ImageNet backbone" if backbone_init.startswith("ImageNet") else "scratch"
    return {"variant": f"own recipe, {init}",
            "epochs": f"{history.get('epochs_run')} of {history.get('epochs_planned')}",
            "recipe": history.get("recipe"), "backbone_init": backbone_init, "epochs_run": history.get("epochs_run"),
            "iterations": history.get("iterations"), "train_faces": history.get("train_faces")}


def checkpoint_only(name: str):
    """The `create` of a model that only evaluates given weights (Capabilities.needs_checkpoint): runs are
    refused before it is reached; a direct call gets the same one line."""
    def create(scheme, options, context):
        raise UserError(f"{name} evaluates released checkpoints: pass --checkpoint FILE (see "
                        f"`fabrec-bench models info {name}` for where each is published)")
    return create


def as_context(context: RunContext | str | None) -> RunContext:
    """A run context from a context, a device string or None (defaults)."""
    if isinstance(context, RunContext):
        return context
    return RunContext(device=context or "auto")


class LandmarkModel:
    """A model that predicts landmarks in original-image pixel coordinates.

    Lifecycle: `spec.create(scheme, options, context)` makes it; `train(samples)` if it needs training;
    `predict(samples)`; `save(path)` / `spec.load(path, context)`. Plain data goes in and out: samples and
    NumPy arrays. `self.options` is the model's typed options, `self.context` the run's context (where to write,
    the data's crop rule and frame, device, seed, progress)."""

    def __init__(self, scheme: LandmarkScheme, options: Options, context: RunContext | str = "auto"):
        self.scheme = scheme
        self.options = options
        self.context = as_context(context)

    def train(self, samples: Sequence[FaceSample]) -> dict:
        """Fit on `samples` (seed, folders and progress from the run context); returns a small dict of training
        facts (losses, iterations) for the run's folder."""
        raise NotImplementedError

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        """Predict (N, L, 2) landmarks in original-image pixels, one row per sample, in order."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        """Write a checkpoint that `load` can read without unpickling arbitrary objects."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> LandmarkModel:
        """Read a checkpoint written by `save` (or a form the model documents) for a run with `context`."""
        raise NotImplementedError

    def illustrate(self, samples: Sequence[FaceSample], *, truth: bool = False) -> list[dict[str, np.ndarray]]:
        """Pictures of how the model sees each face, for `predict` and `show`: per sample a dict of named BGR
        uint8 images (3FabRec: its five tiles, its collapsed heatmaps, its reconstruction with SSIM and pixel
        error, and with `truth` the ground-truth heatmaps beside them); [] when the model has none."""
        return []

    def check_options(self) -> None:
        """Refuse options that contradict what was loaded (called once options given on the command line are
        applied to a checkpoint, before anything is stored); raises UserError."""

    def describe(self) -> dict:
        """Facts recorded with each result (e.g. the decoding that produced the landmarks)."""
        return {}

    def crop_rule(self, box_source: str) -> str:
        """What sets each face's crop in this run, in a few words (run summary, provenance, the leaderboard's
        boxes column): by default the run's box source, whose face box the model is handed."""
        return box_source

    def fallback_warning(self) -> str | None:
        """One line to print when the model runs without a file its published numbers depend on (HRNet's
        annotation CSV, STAR's metadata); None when nothing is missing."""
        return None

    def normalising_distances(self, samples: Sequence[FaceSample], protocol_name: str,
                              normaliser: str) -> tuple[np.ndarray | None, str] | None:
        """(N,) distances to divide each face's errors by under the named protocol, and where they come from,
        when the model's code reads them from a file of its own (HRNet's AFLW box_size); (None, why) when the
        protocol's normaliser stands in for such a file and the run should say so; None: nothing to say."""
        return None


INFERENCE_PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class Capabilities:
    """What a model declares it can do; the run checks requests against it."""

    needs_training: bool = True  # False: pretrained (its checkpoint or bundled weights are all it needs)
    needs_checkpoint: bool = False  # True: it only evaluates a given checkpoint (released weights, --checkpoint)
    precisions: tuple[str, ...] = ("fp32",)  # inference precisions it computes in (`--precision`)
    pretraining: bool = False  # has a shared unsupervised pretraining (`ModelSpec.pretrain`)
    crop_rule: str | None = None  # how it cuts faces (fabrec_bench.faces.crops.CROP_RULES); None: no face crops

    def to_dict(self) -> dict:
        return {"needs_training": self.needs_training, "needs_checkpoint": self.needs_checkpoint,
                "precisions": list(self.precisions),
                "pretraining": self.pretraining, "crop_rule": self.crop_rule}


@dataclass(frozen=True)
class OriginalFrame:
    """Where a model's own code leaves its raw predictions, next to predictions.csv (0-based image pixels):
    one sentence, and either a shift in pixels (by the dataset's facts) or a map that needs the split."""

    description: str
    shift: Callable[[DatasetFacts], float] | None = None
    transform: Callable[[np.ndarray, Any, DatasetFacts], np.ndarray] | None = None  # (landmarks, split, facts)
    refuses: Callable[[Mapping[str, Any]], str | None] | None = None  # why a run's options leave no such frame

    def convert(self, landmarks: np.ndarray, facts: DatasetFacts, split=None) -> np.ndarray:
        """(N, L, 2) predictions.csv landmarks in the original code's frame (NaN faces stay NaN)."""
        if self.transform is not None:
            return self.transform(landmarks, split, facts)
        return landmarks + (self.shift(facts) if self.shift is not None else 0.0)


def files_frame(facts: DatasetFacts) -> float:
    """From fabrec-bench's frame to the dataset files' own (1-based .pts and COFW .mat: + 1)."""
    return facts.file_origin - facts.coordinate_origin


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, how to create and load it, its options and its capabilities."""

    name: str
    create: Callable[[LandmarkScheme, Options, RunContext], LandmarkModel]
    load: Callable[[Path, RunContext], LandmarkModel]
    description: str = ""
    options: type[Options] = Options
    capabilities: Capabilities = field(default_factory=Capabilities)
    checkpoint_suffix: str = ".npz"
    # Optional unsupervised pretraining shared by many runs (3FabRec's stage-1 autoencoder):
    # pretrain(samples, options, context) -> path of the artefact a run's options point at.
    pretrain: Callable[[Sequence[FaceSample], Options, RunContext], Path] | None = None
    pretrain_options: type[Options] = Options
    # Optional facts for `fabrec-bench models info` beyond the options (e.g. the parameter count of each
    # sub-network): details() -> JSON-friendly dict.
    details: Callable[[], dict] | None = None
    # The landmark scheme a pretrained model predicts whatever the data (dlib-ert: ibug68), for running it
    # without a dataset or checkpoint (`fabrec-bench predict`); None: the checkpoint or the dataset says.
    native_scheme: str | None = None
    # Where the model's own code leaves its raw predictions (`results predictions --frame original`); None:
    # fabrec-bench's predictions are the model's own.
    original_frame: OriginalFrame | None = None
    # check_training(scheme, options): refuse, in one line, what a training would fail on (files named in the
    # options), before the run stores anything.
    check_training: Callable[[LandmarkScheme, Options], None] | None = None

    def __post_init__(self) -> None:
        if self.capabilities.pretraining != (self.pretrain is not None):
            raise ValueError(f"model '{self.name}': capabilities.pretraining must say whether it has a pretrain")
        unknown = set(self.capabilities.precisions) - set(INFERENCE_PRECISIONS)
        if "fp32" not in self.capabilities.precisions or unknown:
            raise ValueError(f"model '{self.name}': precisions {self.capabilities.precisions} must include fp32 "
                             f"and name only {', '.join(INFERENCE_PRECISIONS)}")

    def make_options(self, given: Mapping[str, Any] | None = None, where: str = "") -> Options:
        """The model's options with `given` (text or typed values) over the defaults, checked."""
        return make_options(self.options, given, where=where or f"model '{self.name}'")

    def make_pretrain_options(self, given: Mapping[str, Any] | None = None, where: str = "") -> Options:
        """The pretraining's options with `given` over the defaults, checked."""
        if self.pretrain is None:
            raise UserError(f"model '{self.name}' has no shared pretraining")
        return make_options(self.pretrain_options, given, where=where or f"model '{self.name}' pretraining")

    def open(self, path: Path, context: RunContext | str = "auto", given: Mapping[str, Any] | None = None
             ) -> LandmarkModel:
        """Load a checkpoint for a run with `context`; options `given` apply over the saved ones."""
        model = self.load(Path(path), as_context(context))
        if given:
            model.options = with_options(model.options, given, where=f"model '{self.name}'")
        model.check_options()
        return model

    def check_precision(self, precision: str | None) -> None:
        """Refuse an inference precision the model does not compute in (`auto` needs more than fp32)."""
        offered = self.capabilities.precisions
        if precision in (None, "fp32") or precision in offered or (precision == "auto" and len(offered) > 1):
            return
        raise UserError(f"model '{self.name}' computes in {', '.join(offered)} only; --precision {precision} "
                        "does not apply")

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "capabilities": self.capabilities.to_dict(),
            "options": [o.to_dict() for o in describe_options(self.options)],
            "default_config": defaults(self.options),
            "pretrain_options": [o.to_dict() for o in describe_options(self.pretrain_options)]
            if self.pretrain else [],
        }


def released_weights(name: str, *, load, description: str, options: type, checkpoint_suffix: str,
                     details: Callable[[], dict], original_frame: OriginalFrame | None = None) -> ModelSpec:
    """The spec of a model that evaluates a released checkpoint as its own code does (PIPNet, HRNet, FAN,
    STAR): never created nor trained here, loaded from the file as downloaded, inference in fp32 (its own),
    bf16 or fp16."""
    return ModelSpec(name=name, create=checkpoint_only(name), load=load, description=description, options=options,
                     capabilities=Capabilities(needs_training=False, needs_checkpoint=True,
                                               precisions=("fp32", "bf16", "fp16")),
                     checkpoint_suffix=checkpoint_suffix, details=details, original_frame=original_frame)
