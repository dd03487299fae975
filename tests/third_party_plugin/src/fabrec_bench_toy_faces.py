"""A third-party fabrec-bench plugin: the 'toy-faces' dataset, five points per face, one JSON file.

<root>/faces.json = {"train": [face, ...], "test": [face, ...]}, each face
{"id": "...", "image": "relative/path.jpg", "box": [x0, y0, x1, y1], "points": [[x, y] x 5]}.
"""

import json
from pathlib import Path

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.errors import DatasetError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.protocol import EvalProtocol
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


@hookimpl
def fabrec_bench_register_datasets(register):
    register(ToyFaces())
