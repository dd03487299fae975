"""A third-party fabrec-bench plugin: a dataset, a model and a protocol.

- The 'toy-faces' dataset: five points per face, one JSON file. <root>/faces.json = {"train": [face, ...],
  "test": [face, ...]}, each face {"id": "...", "image": "relative/path.jpg", "box": [x0, y0, x1, y1],
  "points": [[x, y] x 5]}.
- The 'box-template' model: five points at fixed places in each face box (pretrained: nothing to train).
- The 'toy-strict' protocol: a failure at 5 % of the eye distance on toy-faces, 8 % of the pupil distance on
  WFLW.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import DatasetError, UserError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, LandmarkModel, ModelSpec
from fabrec_bench.options import Options, option
from fabrec_bench.protocol import DatasetRule, EvalProtocol, Protocol
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.types import FaceSample, Split

# Eyes, nose tip, mouth corners; eyes and mouth corners swap under a horizontal flip.
FIVE_POINTS = LandmarkScheme(
    name="toy5", num_points=5, flip_permutation=(1, 0, 2, 4, 3), outer_eye_corners=(0, 1),
    groups={"inner": (0, 1, 2, 3, 4)},
)


class ToyFaces(DatasetAdapter):
    name = "toy-faces"
    description = "five-point toy faces from one JSON file"
    scheme = FIVE_POINTS
    splits = (SplitInfo("train", "training faces", role="train"), SplitInfo("test", "test faces"))
    protocol = EvalProtocol(normaliser="inter-ocular", threshold=0.1)
    required_paths = ("faces.json",)

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        self.split_info(split)
        data = json.loads((root / "faces.json").read_text())
        if split not in data:
            raise DatasetError(f"{root / 'faces.json'}: no '{split}' list")
        samples = [
            FaceSample(id=f["id"], image_path=root / f["image"], landmarks_px=f["points"], box_px=tuple(f["box"]))
            for f in data[split]
        ]
        return Split(self.name, split, self.scheme, samples, source=str(root / "faces.json"))


# Where the five points sit in a face box: (0, 0) its top-left corner, (1, 1) its bottom-right.
TEMPLATE = np.array([[0.3, 0.35], [0.7, 0.35], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])


@dataclass(frozen=True)
class TemplateOptions(Options):
    spread: float = option(1.0, "how far the points sit from the box centre (1: the template as drawn)", minimum=0)


class BoxTemplate(LandmarkModel):
    """Five points at fixed places in each face box."""

    def predict(self, samples):
        points = 0.5 + (TEMPLATE - 0.5) * self.options.spread
        boxes = np.array([s.box_px for s in samples], dtype=float).reshape(-1, 4)
        return boxes[:, None, :2] + points[None] * (boxes[:, None, 2:] - boxes[:, None, :2])

    def save(self, path):
        Path(path).write_text(json.dumps({"spread": self.options.spread}))

    @classmethod
    def load(cls, path, context="auto"):
        try:
            saved = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: not a box-template checkpoint ({e})") from None
        return cls(FIVE_POINTS, TemplateOptions(spread=float(saved["spread"])), context)


@hookimpl
def fabrec_bench_register_datasets(register):
    register(ToyFaces())


@hookimpl
def fabrec_bench_register_models(register):
    register(ModelSpec(name="box-template", create=BoxTemplate, load=BoxTemplate.load, options=TemplateOptions,
                       capabilities=Capabilities(needs_training=False), checkpoint_suffix=".json",
                       description="five points at fixed places in each face box"))


@hookimpl
def fabrec_bench_register_protocols(register):
    register(Protocol(name="toy-strict", summary="failures at 5 % of the eye distance (toy-faces), 8 % of the pupil "
                                                  "distance (WFLW)",
                      follows="fabrec-bench-toy-faces (an example)",
                      datasets={"toy-faces": DatasetRule("inter-ocular", 0.05), "wflw": DatasetRule("inter-pupil", 0.08)},
                      fr_rule="strict", auc_rule="trapezoid"))
