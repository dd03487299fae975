"""The FAN model adapter: a released 2D-FAN-4, run on each face box as face-alignment's
get_landmarks_from_image runs it (centre and scale from the box, crop, RGB / 255, the network, the optional flip
test, get_preds_fromhm), predictions in whole pixels as its API returns them, then in the run's frame."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.models import LandmarkModel, RunContext, as_context
from fabrec_bench.options import make_options
from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.precision import autocast_for, choose
from fabrec_bench.torch_helpers.torchscript import is_torchscript, read_torchscript_tensors
from fabrec_bench.torch_helpers.weights import few, file_sha256, load_checked, read_state_dict
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.fan import preprocess
from fabrec_bench_plugins.models.fan.decoding import heatmap_cells, to_image
from fabrec_bench_plugins.models.fan.network import FAN
from fabrec_bench_plugins.models.fan.options import FanOptions

# shuffle_lr's default pairs: the 68-point scheme's mirror image, point by point
MIRROR_68 = (16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17, 27,
             28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51, 50, 49,
             48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65)
HEAD = "l3.weight"


def load_network(path: Path) -> tuple[FAN, str]:
    """The network in a .pth.tar state dict or a TorchScript release, and which kind the file is."""
    kind = "TorchScript" if is_torchscript(path) else "state dict"
    state = read_torchscript_tensors(path) if kind == "TorchScript" else read_state_dict(path)
    heads = [k for k in state if k.endswith("." + HEAD)]
    if HEAD not in state and len(heads) == 1:  # the network saved inside a wrapper: every key under one prefix
        prefix = heads[0][: -len(HEAD)]
        if all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    if HEAD not in state:
        raise UserError(f"{path}: not a 2D-FAN-4 checkpoint (no {HEAD}; its keys begin "
                        f"{few(sorted(state), 3)})")
    # 2DFAN4-11f355bf06.pth.tar dates from 2018: a state dict saved before PyTorch 0.4.1 has no BatchNorm counters
    net = load_checked(FAN(points=int(state[HEAD].shape[0])), state, path, "the layout of 2D-FAN-4 (four stacks)",
                       "2D-FAN-4", before_041=True)
    return net, kind


class FanModel(LandmarkModel):
    """A released 2D-FAN-4: evaluation only (it is trained by its own code)."""

    def __init__(self, net: FAN, kind: str, options: FanOptions, context: RunContext | str = "auto",
                 source: str = "", sha256: str = ""):
        super().__init__(scheme_for_points(net.points), options, context)
        self.net, self.kind, self.source, self.sha256 = net, kind, source, sha256

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> FanModel:
        path = Path(path)
        net, kind = load_network(path)
        return cls(net, kind, make_options(FanOptions), as_context(context), str(path), file_sha256(path))

    def train(self, samples: Sequence[FaceSample]) -> dict:
        raise UserError("fan evaluates released checkpoints (--checkpoint FILE); it is trained by its own code")

    def save(self, path: Path) -> None:
        torch.save(self.net.state_dict(), path)

    @property
    def code(self) -> str:
        """The API release followed: as asked, else 1.4 for TorchScript files and 1.5 for state dicts."""
        if self.options.code != "auto":
            return self.options.code
        return "1.4" if self.kind == "TorchScript" else "1.5"

    @property
    def flip(self) -> bool:
        return self.code == "1.5" if self.options.flip == "auto" else self.options.flip == "true"

    @property
    def centre_dtype(self) -> str:
        """float32 or float64: 1.5 computes the centre with NumPy in float64; 1.4 with torch.tensor, in the
        boxes' type (float64 for its default S3FD detector's boxes)."""
        if self.code == "1.5":
            if self.options.centre_dtype == "float32":
                raise UserError(f"{self.source}: centre_dtype=float32 is the 1.4 API's (a torch.FloatTensor "
                                "centre); 1.5 computes it with NumPy in float64 (use --config code=1.4)")
            return "float64"
        return "float64" if self.options.centre_dtype == "auto" else self.options.centre_dtype

    def check_options(self) -> None:
        self.centre_dtype  # noqa: B018 - refuses float32 with the 1.5 API before any face is read

    def where(self, sample: FaceSample) -> preprocess.CentreScale:
        """The face's centre and scale from its box, in 0-based image pixels."""
        box = np.asarray(sample.box_px, dtype=np.float64) - self.context.dataset.coordinate_origin
        return preprocess.from_box(box, self.options.reference_scale, single=self.centre_dtype == "float32")

    def inputs(self, samples: Sequence[FaceSample]) -> tuple[np.ndarray, list[preprocess.CentreScale]]:
        """(N, 3, 256, 256) float32 crops in [0, 1] and each face's centre and scale."""
        from PIL import Image

        crops, places = [], []
        for sample in samples:
            try:
                with Image.open(sample.image_path) as image:
                    rgb = np.array(image.convert("RGB"), dtype=np.uint8)
            except OSError as e:
                raise UserError(f"{sample.image_path}: cannot read the image ({e})") from None
            where = self.where(sample)
            try:
                crops.append(preprocess.crop(rgb, where).transpose(2, 0, 1).astype(np.float32) / 255.0)
            except ValueError as e:
                raise UserError(f"{sample.image_path}: face {sample.id}: {e}") from None
            places.append(where)
        return np.stack(crops), places

    def heatmaps(self, x: torch.Tensor) -> torch.Tensor:
        """The last stack's heatmaps, plus those of the mirrored crop mirrored back when the flip test is on."""
        out = self.net(x)
        if self.flip:
            out = out + self.net(x.flip(3))[:, list(MIRROR_68)].flip(3)
        return out

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        device = resolve_device(self.context.device)
        autocast = autocast_for(device, self.context.precision or self.options.inference_precision)
        if self.flip and self.net.points != 68:
            raise UserError(f"{self.source}: the flip test needs the 68-point mirror pairs; this checkpoint "
                            f"predicts {self.net.points} points (use --config flip=false)")
        self.net.to(device)
        out = np.empty((len(samples), self.net.points, 2))
        size = self.options.batch_size
        for start in range(0, len(samples), size):
            crops, places = self.inputs(samples[start:start + size])
            with torch.no_grad(), autocast():
                maps = self.heatmaps(torch.from_numpy(crops).to(device)).float().cpu().numpy()
            for i, where in enumerate(places):
                cells = heatmap_cells(maps[i:i + 1])[0]
                out[start + i] = to_image(cells, where) + self.context.dataset.coordinate_origin
        return out

    def describe(self) -> dict:
        device = resolve_device(self.context.device)
        return {"checkpoint": self.source, "checkpoint_sha256": self.sha256, "kind": self.kind,
                "api": self.code, "centre_dtype": self.centre_dtype, "flip_test": self.flip, "reference_scale": self.options.reference_scale,
                "device": device,
                "precision": choose(device, self.context.precision or self.options.inference_precision)[0]}
