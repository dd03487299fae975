"""The STAR model adapter: a released checkpoint run as its test runs it (tester.py with alignmentDataset.py:
centre and scale from ADNet's metadata, the warped BGR crop, the network, the last stack's soft-argmax), the
landmarks mapped back to image pixels as its evaluate.py maps them, then into the run's frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.files import RowsByImage
from fabrec_bench.models import LandmarkModel, RunContext, as_context
from fabrec_bench.options import make_options
from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.precision import autocast_for, choose
from fabrec_bench.torch_helpers.weights import few, file_sha256, load_checked, read_state_dict
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.star import preprocess
from fabrec_bench_plugins.models.star.network import StackedHourglass
from fabrec_bench_plugins.models.star.options import StarOptions

EDGES = "e2h_transform.weight"


def load_network(path: Path, weights: str = "net") -> StackedHourglass:
    """The network under `weights` in a STAR checkpoint dict (or a bare state dict)."""
    state = read_state_dict(path, wrappers=(weights,))
    if EDGES not in state:
        raise UserError(f"{path}: not a STAR checkpoint (no {EDGES} under '{weights}'; its keys begin "
                        f"{few(sorted(state), 3)})")
    points, edges = (int(n) for n in state[EDGES].shape[:2])
    return load_checked(StackedHourglass(points, edges), state, path,
                        "the layout of STAR's four-stack hourglass with CoordConv and AAM", "STAR")


class StarModel(LandmarkModel):
    """A released STAR checkpoint: evaluation only (it is trained by its own code)."""

    def __init__(self, net: StackedHourglass, options: StarOptions, context: RunContext | str = "auto",
                 source: str = "", sha256: str = ""):
        super().__init__(scheme_for_points(net.points), options, context)
        self.net, self.source, self.sha256 = net, source, sha256
        self.loaded = "net"
        self._metadata: tuple[str, RowsByImage] | None = None

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> StarModel:
        path = Path(path)
        return cls(load_network(path), make_options(StarOptions), as_context(context), str(path), file_sha256(path))

    def train(self, samples: Sequence[FaceSample]) -> dict:
        raise UserError("star evaluates released checkpoints (--checkpoint FILE); it is trained by its own code")

    def save(self, path: Path) -> None:
        torch.save({"net": self.net.state_dict()}, path)

    def check_options(self) -> None:
        if self.options.weights != self.loaded:
            self.net = load_network(Path(self.source), self.options.weights)
            self.loaded = self.options.weights
        if self.options.metadata:
            self.metadata()

    def metadata(self) -> RowsByImage:
        path = self.options.metadata
        if self._metadata is None or self._metadata[0] != path:
            self._metadata = (path, RowsByImage(preprocess.read_metadata(path, self.net.points)))
        return self._metadata[1]

    def where(self, sample: FaceSample) -> tuple[preprocess.CentreScale, np.ndarray]:
        """The face's centre and scale and the shift from 0-based image pixels to the frame they are in."""
        origin = self.context.dataset.coordinate_origin
        landmarks = np.asarray(sample.landmarks_px, dtype=np.float64) - origin
        if self.options.metadata:
            found = preprocess.metadata_row(self.metadata(), Path(sample.image_path), landmarks)
            if found is None:
                raise UserError(preprocess.no_row(self.options.metadata, self.metadata(), sample, landmarks))
            row, shift = found
            return row.where, shift
        if self.options.boxes == "box" or not self.context.dataset.labeled:
            box = np.asarray(sample.box_px, dtype=np.float64) - origin
        else:
            box = np.concatenate([landmarks.min(axis=0), landmarks.max(axis=0)])
        return preprocess.from_box(box), np.zeros(2)

    def inputs(self, samples: Sequence[FaceSample]) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """(N, 3, 256, 256) float32 network inputs, each face's crop matrix and frame shift."""
        crops, matrices, shifts = [], [], []
        for sample in samples:
            bgr = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR)
            if bgr is None:
                raise UserError(f"{sample.image_path}: cannot read the image")
            where, shift = self.where(sample)
            matrix = preprocess.crop_matrix(where)
            crops.append(preprocess.crop(bgr, matrix))
            matrices.append(matrix)
            shifts.append(shift)
        return np.stack(crops), matrices, shifts

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        device = resolve_device(self.context.device)
        autocast = autocast_for(device, self.context.precision or self.options.inference_precision)
        net = self.net.to(device)
        out = np.empty((len(samples), self.net.points, 2))
        size = self.options.batch_size
        origin = self.context.dataset.coordinate_origin
        for start in range(0, len(samples), size):
            crops, matrices, shifts = self.inputs(samples[start:start + size])
            with torch.no_grad(), autocast():
                unit = net(torch.from_numpy(crops).to(device)).float().cpu().numpy()
            for i, (matrix, shift) in enumerate(zip(matrices, shifts, strict=True)):
                out[start + i] = preprocess.to_image(unit[i], matrix).astype(np.float64) - shift + origin
        return out

    def crop_rule(self, box_source: str) -> str:
        if self.options.metadata:
            return f"metadata file {Path(self.options.metadata).name}"
        if self.options.boxes == "box" or not self.context.dataset.labeled:
            return f"STAR's demo rule on the box ({box_source})"
        return "STAR's demo rule on the landmarks' extent"

    def fallback_warning(self) -> str | None:
        if self.options.metadata or not self.context.dataset.labeled:
            return None
        return (f"star without --config metadata=FILE crops by {self.crop_rule('ground-truth')}; its published "
                "numbers come from ADNet's metadata (test.tsv: each face's scale and centre)")

    def describe(self) -> dict:
        device = resolve_device(self.context.device)
        boxes = f"metadata {self.options.metadata}" if self.options.metadata else self.options.boxes
        return {"checkpoint": self.source, "checkpoint_sha256": self.sha256, "weights": self.loaded,
                "centre_and_scale": boxes, "device": device,
                "precision": choose(device, self.context.precision or self.options.inference_precision)[0]}
