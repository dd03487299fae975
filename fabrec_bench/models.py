"""The landmark-model contract, and how a model is named and created (a timm-style registry entry)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fabrec_bench.errors import refuse_unknown
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


@dataclass
class RunContext:
    """What a run gives a model besides its options: where it may write, what the data is, how to compute.

    The run pipeline (fabrec_bench.api) makes one per run; models read it instead of receiving hidden config
    keys. A plain device string where a context is expected means `RunContext(device=...)`."""

    device: str = "auto"
    seed: int = 0
    work_dir: Path | None = None  # the work directory (results store, caches)
    run_dir: Path | None = None  # this run's folder: training artefacts (loss curves, grids) go here
    cache_dir: Path | None = None  # a cache the model may fill (3FabRec: face crops)
    resume_dir: Path | None = None  # where a training keeps state to continue after an interruption
    precision: str | None = None  # the inference precision asked for (None: the model's own default)
    crop_extension: tuple[float, float] = (0.0, 0.0)  # the dataset's crop-box extension (top, bottom)
    data_origin: float = 0.0  # the samples' frame: coordinate of the top-left pixel centre (0: 0-based)
    # The processes a training shares its work with (fabrec_bench.torch_helpers.distributed.World); None: one
    # process, or the torchrun group joined from the environment when a training starts.
    process_group: Any = None
    progress: Callable[[TrainingProgress], None] | None = None  # told after every training step


def as_context(context: RunContext | str | None) -> RunContext:
    """A run context from a context, a device string or None (defaults)."""
    if isinstance(context, RunContext):
        return context
    return RunContext(device=context or "auto")


class LandmarkModel:
    """A model that predicts landmarks in original-image pixel coordinates.

    Lifecycle: `spec.factory(scheme, config, context)` creates it; `train` (if `spec.needs_training`);
    `predict`; `save`/`load(path, context)` checkpoints. Plain data goes in and out: samples and NumPy arrays.
    The run context (`self.context`) says where to write, the data's crop rule and frame, device and seed.
    """

    def __init__(self, scheme: LandmarkScheme, config: dict, context: RunContext | str = "auto"):
        self.scheme = scheme
        self.config = dict(config)
        self.context = as_context(context)
        self.device = self.context.device

    def train(self, samples: Sequence[FaceSample], *, seed: int | None = None, work_dir: Path | None = None) -> dict:
        """Fit on `samples` (seed and folder from the run context unless given); returns a small dict of
        training facts (losses, epochs) for the results store."""
        raise NotImplementedError

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        """Predict (N, L, 2) landmarks in original-image pixels, one row per sample, in order."""
        raise NotImplementedError

    def save(self, path: Path) -> None:
        """Write a checkpoint that `load` can read without unpickling arbitrary objects."""
        raise NotImplementedError

    @classmethod
    def load(cls, path: Path, device: str = "auto") -> LandmarkModel:
        """Read a checkpoint written by `save`."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Facts recorded with each result (e.g. the decoding that produced the landmarks)."""
        return {}


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: its name, how to create and load it, and its default configuration."""

    name: str
    factory: Callable[[LandmarkScheme, dict, RunContext], LandmarkModel]
    load: Callable[[Path, RunContext], LandmarkModel]
    description: str = ""
    needs_training: bool = True
    default_config: dict = field(default_factory=dict)
    checkpoint_suffix: str = ".npz"
    # Optional unsupervised pretraining shared by many runs (3FabRec's stage-1 autoencoder):
    # pretrain(samples, scheme, out_dir, config, device, crop_extension) -> path of the artefact a run's
    # config points at.
    pretrain: Callable[..., Path] | None = None
    # Optional facts for `fabrec-bench models info` beyond the description and default config (e.g. the
    # parameter count of each sub-network): details() -> JSON-friendly dict.
    details: Callable[[], dict] | None = None
    # The options `pretrain` accepts in its config (checked when a matrix spec is read).
    pretrain_options: tuple[str, ...] = ()

    def create(self, scheme: LandmarkScheme, config: dict | None = None,
               context: RunContext | str = "auto") -> LandmarkModel:
        """Create the model with its default config updated by `config`; unknown keys are an error."""
        config = dict(config or {})
        refuse_unknown(config, self.default_config, f"model '{self.name}'")
        return self.factory(scheme, {**self.default_config, **config}, as_context(context))

    def open(self, path: Path, context: RunContext | str = "auto") -> LandmarkModel:
        """Load a checkpoint (`load`) for a run with this context."""
        return self.load(Path(path), as_context(context))

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "needs_training": self.needs_training,
            "default_config": self.default_config,
        }
