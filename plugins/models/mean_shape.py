"""mean-shape: the training mean shape, placed in each face box. The floor of every leaderboard.

Training expresses each face's landmarks in its own box frame ((x - x0) / w, (y - y0) / h) and averages them;
prediction maps that mean back through the test face's box. It reads no pixels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fabrec_bench.checkpoints import atomic_write_npz, read_npz
from fabrec_bench.errors import UserError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, LandmarkModel, ModelSpec, RunContext
from fabrec_bench.options import Options
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.types import FaceSample

FORMAT = "fabrec-bench/mean-shape/1"


def boxes_of(samples: Sequence[FaceSample]) -> np.ndarray:
    return np.asarray([s.box_px for s in samples], dtype=np.float64).reshape(-1, 4)


def to_box_frame(landmarks: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N, L, 2) image pixels -> box-relative coordinates, (0, 0) top-left and (1, 1) bottom-right."""
    origin = boxes[:, None, 0:2]
    size = boxes[:, None, 2:4] - boxes[:, None, 0:2]
    return (landmarks - origin) / size


def from_box_frame(shape: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Box-relative (L, 2) shape -> (N, L, 2) image pixels in each box."""
    origin = boxes[:, None, 0:2]
    size = boxes[:, None, 2:4] - boxes[:, None, 0:2]
    return origin + shape[None] * size


class MeanShapeModel(LandmarkModel):
    """Predicts the training mean shape scaled into each face box."""

    def __init__(self, scheme: LandmarkScheme, options: Options, context: RunContext | str = "auto"):
        super().__init__(scheme, options, context)
        self.mean_shape: np.ndarray | None = None

    def train(self, samples: Sequence[FaceSample]) -> dict:
        if not samples:
            raise UserError("mean-shape needs at least one training face")
        landmarks = np.stack([s.landmarks_px for s in samples])
        self.mean_shape = to_box_frame(landmarks, boxes_of(samples)).mean(axis=0)
        return {"train_faces": len(samples)}

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        if self.mean_shape is None:
            raise UserError("mean-shape has not been trained or loaded")
        return from_box_frame(self.mean_shape, boxes_of(samples))

    def save(self, path: Path) -> None:
        meta = {"format": FORMAT, "scheme": self.scheme.name, "num_points": self.scheme.num_points}
        atomic_write_npz(path, mean_shape=self.mean_shape, meta=np.array(json.dumps(meta)))

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> MeanShapeModel:
        arrays = read_npz(path, required=("mean_shape", "meta"))
        meta = json.loads(str(arrays["meta"]))
        if meta.get("format") != FORMAT:
            raise UserError(f"{path}: not a mean-shape checkpoint (format {meta.get('format')!r})")
        from fabrec_bench.plugins import scheme_by_name

        model = cls(scheme_by_name(meta["scheme"]), Options(), context)
        model.mean_shape = np.asarray(arrays["mean_shape"], dtype=np.float64)
        if model.mean_shape.shape != (model.scheme.num_points, 2):
            raise UserError(f"{path}: mean shape has shape {model.mean_shape.shape}")
        return model


@hookimpl
def fabrec_bench_register_models(register):
    register(
        ModelSpec(
            name="mean-shape",
            create=MeanShapeModel,
            load=MeanShapeModel.load,
            description="training mean shape placed in each face box (baseline)",
            capabilities=Capabilities(needs_training=True),  # reads no pixels: no crop rule
        )
    )
