"""The HRNet model adapter: a released HRNetV2-W18 checkpoint, run on a split as HRNet-Facial's tools/test.py
runs it (centre and scale, crop, /255 and ImageNet normalisation, the network, decode_preds), predictions in
whole pixels of the annotation files' frame as its code returns them, then in the run's frame."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.files import RowsByImage
from fabrec_bench.models import LandmarkModel, RunContext, as_context, trained_by_recipe
from fabrec_bench.options import make_options
from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.precision import autocast_for, choose
from fabrec_bench.torch_helpers.weights import few, file_sha256, load_checked, read_state_dict
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.hrnet import preprocess
from fabrec_bench_plugins.models.hrnet.decoding import heatmap_cells, to_image
from fabrec_bench_plugins.models.hrnet.network import LAYOUTS, HRNetFace, layout_of, to_module_keys
from fabrec_bench_plugins.models.hrnet.options import HRNetOptions
from fabrec_bench_plugins.models.hrnet.releases import MEAN_RGB, STD_RGB

HEAD = "head.3.weight"


def load_network(state: dict[str, torch.Tensor], source: Path) -> tuple[HRNetFace, str]:
    """The network a checkpoint holds and its layout; one line naming the keys that do not fit."""
    layout = layout_of(state)
    if layout is None:
        wanted = "; ".join(f"{name}: {few([k for k in keys if k not in state])}" for name, keys in LAYOUTS.items())
        raise UserError(f"{source}: not an HRNetV2-W18 face checkpoint of a known layout (missing, per layout: "
                        f"{wanted})")
    state = to_module_keys(state, layout)
    net = load_checked(HRNetFace(int(state[HEAD].shape[0])), state, source, f"the {layout} layout of HRNetV2-W18",
                       "HRNetV2-W18", " (another width than W18?)")
    return net, layout


@dataclass(frozen=True)
class AnnotatedFace:
    """One row of HRNet-Facial's annotation file."""

    where: preprocess.CentreScale
    landmarks: np.ndarray  # (L, 2), the file's frame
    box_size: float | None  # AFLW's column 2, compute_nme's normaliser for 19 points


def read_annotations(path: str | Path, num_points: int) -> dict[str, list[AnnotatedFace]]:
    """HRNet-Facial's face_landmarks_<ds>_<split>.csv: per image name, each face's centre and scale, its
    landmarks and (AFLW) its box_size. Columns: image_name, scale, [box_size (AFLW),] center_w, center_h, then
    x y per landmark."""
    path = Path(path)
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        raise UserError(f"{path}: cannot read the annotation file ({e})") from None
    faces: dict[str, list] = {}
    for line, row in enumerate(rows[1:], start=2):  # line 1 is the header pandas skips
        extra = len(row) - 4 - 2 * num_points
        if extra not in (0, 1):
            raise UserError(f"{path}, line {line}: {len(row)} columns; image, scale, [box_size,] centre x and y "
                            f"and {2 * num_points} coordinates expected for {num_points} landmarks")
        try:
            values = [float(v) for v in row[1:]]
        except ValueError as e:
            raise UserError(f"{path}, line {line}: {e}") from None
        scale, centre_w, centre_h = values[0], values[1 + extra], values[2 + extra]
        points = np.array(values[3 + extra:]).reshape(-1, 2)
        faces.setdefault(row[0].replace("\\", "/"), []).append(AnnotatedFace(
            preprocess.CentreScale(centre_w, centre_h, scale), points, values[1] if extra else None))
    return faces


class HRNetModel(LandmarkModel):
    """An HRNetV2-W18: a released checkpoint run as HRNet-Facial's test runs it, or one trained here by its
    recipe (fabrec_bench_plugins.models.hrnet.training)."""

    def __init__(self, net: HRNetFace, layout: str, options: HRNetOptions, context: RunContext | str = "auto",
                 source: str = "", sha256: str = ""):
        super().__init__(scheme_for_points(net.num_joints), options, context)
        self.net, self.layout, self.source, self.sha256 = net, layout, source, sha256
        self._annotations: tuple[str, RowsByImage] | None = None
        self.backbone_init: str | None = None  # set when made to be trained: the backbone's initialisation
        self.history: dict = {}
        self.device_name = resolve_device(self.context.device)

    @classmethod
    def create(cls, scheme, options: HRNetOptions, context: RunContext) -> HRNetModel:
        """A new HRNetV2-W18 to train by HRNet-Facial's recipe: init_weights from the run's seed, then the
        ImageNet file's backbone keys if `backbone_weights` names one."""
        from fabrec_bench_plugins.models.hrnet import recipe
        from fabrec_bench_plugins.models.hrnet.training import backbone_state

        torch.manual_seed(context.seed)
        net = HRNetFace(scheme.num_points)
        recipe.init_weights(net)
        state, init = backbone_state(options.backbone_weights, net)
        if state is not None:
            net.load_state_dict(state, strict=False)
        model = cls(net, "hrnet-facial", options, context)
        model.backbone_init = init
        return model

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> HRNetModel:
        path = Path(path)
        net, layout = load_network(read_state_dict(path), path)
        digest = file_sha256(path)
        return cls(net, layout, make_options(HRNetOptions), as_context(context), str(path), digest)

    def train(self, samples: Sequence[FaceSample]) -> dict:
        if self.backbone_init is None:
            raise UserError(f"{self.source}: a loaded checkpoint is evaluated, not trained further; `fabrec-bench "
                            "run -m hrnet` trains a new HRNetV2-W18 by HRNet-Facial's recipe")
        from fabrec_bench_plugins.models.hrnet.training import train

        self.history = train(self, samples)
        return self.history

    def save(self, path: Path) -> None:
        state = self.net.state_dict()
        torch.save({(k[len("backbone."):] if k.startswith("backbone.") else k): v for k, v in state.items()}, path)

    def check_options(self) -> None:
        if self.options.annotations:
            self.annotations()

    def annotations(self) -> RowsByImage:
        path = self.options.annotations
        if self._annotations is None or self._annotations[0] != path:
            self._annotations = (path, RowsByImage(read_annotations(path, self.net.num_joints)))
        return self._annotations[1]

    # -- each face's centre and scale --------------------------------------------------------------------

    def centre_scale(self, sample: FaceSample, offset: float) -> preprocess.CentreScale:
        """From the annotation file (the row of the same image whose landmarks are the sample's), or by the
        `boxes` rule; in the files' frame."""
        if self.options.annotations:
            return self._annotated(sample, offset).where
        if self.options.boxes == "box" or not self.context.dataset.labeled:  # photographs: their face box
            return preprocess.from_box(np.asarray(sample.box_px, dtype=np.float64) + offset)
        return preprocess.from_landmarks(sample.landmarks_px + offset)

    def _annotated(self, sample: FaceSample, offset: float) -> AnnotatedFace:
        rows = self.annotations().for_image(sample.image_path)
        if rows:
            distances = [np.abs(row.landmarks - (sample.landmarks_px + offset)).max() for row in rows]
            best = int(np.argmin(distances))
            if distances[best] < 0.5:
                return rows[best]
        where = "the rows naming this image hold other landmarks" if rows else \
            f"no row names this image; the nearest row path is '{self.annotations().nearest(sample.image_path)}'"
        raise UserError(f"{self.options.annotations}: no row for face {sample.id} ({sample.image_path}) with its "
                        f"landmarks ({where}); is it the annotation file of this split?")

    def crop_rule(self, box_source: str) -> str:
        if self.options.annotations:
            return f"annotation file {Path(self.options.annotations).name}"
        if self.options.boxes == "box" or not self.context.dataset.labeled:
            return box_source
        return "landmarks' whole-pixel extent (COFW's rule)"

    def fallback_warning(self) -> str | None:
        dataset = self.context.dataset.name
        if self.options.annotations or dataset in ("cofw", "") or not self.context.dataset.labeled:
            return None
        return (f"hrnet without --config annotations=FILE crops {dataset} faces by the "
                f"{self.crop_rule('ground-truth')}; HRNet-Facial's published numbers come from its "
                f"face_landmarks_{dataset}_test.csv (centre, scale{', box_size' if dataset == 'aflw' else ''})")

    def normalising_distances(self, samples: Sequence[FaceSample], protocol_name: str,
                              normaliser: str) -> tuple[np.ndarray | None, str] | None:
        """Under the hrnet protocol's AFLW rule, compute_nme's meta['box_size']: the annotation file's column
        2 for each face; without the file, the protocol's sqrt(w * h) of the dataset's box, said as such."""
        if protocol_name != "hrnet" or normaliser != "box":
            return None
        if not self.options.annotations:
            return None, ("sqrt(w * h) of the dataset's box: no annotations= file, whose box_size column "
                          "HRNet-Facial's compute_nme divides by")
        facts = self.context.dataset
        offset = facts.file_origin - facts.coordinate_origin
        rows = [self._annotated(sample, offset) for sample in samples]
        missing = [s.id for s, row in zip(samples, rows, strict=True) if row.box_size is None]
        if missing:
            raise UserError(f"{self.options.annotations}: no box_size column (AFLW's column 2) for face "
                            f"{missing[0]}; the hrnet protocol divides AFLW errors by it")
        return (np.array([row.box_size for row in rows], dtype=np.float64),
                f"box_size column of {self.options.annotations} (HRNet-Facial's compute_nme)")

    # -- inference ---------------------------------------------------------------------------------------

    def inputs(self, samples: Sequence[FaceSample]) -> tuple[np.ndarray, list[preprocess.CentreScale]]:
        """(N, 256, 256, 3) uint8 RGB crops and each face's centre and scale (files' frame)."""
        from PIL import Image

        facts = self.context.dataset
        offset = facts.file_origin - facts.coordinate_origin
        crops, boxes = [], []
        for sample in samples:
            try:
                with Image.open(sample.image_path) as image:
                    rgb = image.convert("RGB")
                # COFW's loader crops the .mat's uint8 pixels; the others crop PIL's pixels as float32
                pixels = np.array(rgb, dtype=np.uint8 if facts.name == "cofw" else np.float32)
            except OSError as e:
                raise UserError(f"{sample.image_path}: cannot read the image ({e})") from None
            where = self.centre_scale(sample, offset)
            try:
                crops.append(preprocess.crop(pixels, where.centre, where.padded_scale))
            except ValueError as e:
                raise UserError(f"{sample.image_path}: face {sample.id}: {e}") from None
            boxes.append(where)
        return np.stack(crops), boxes

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        device = resolve_device(self.context.device)
        autocast = autocast_for(device, self.context.precision or self.options.inference_precision)
        net = self.net.to(device)
        mean = np.array(MEAN_RGB, dtype=np.float32)
        std = np.array(STD_RGB, dtype=np.float32)
        offset = self.context.dataset.file_origin - self.context.dataset.coordinate_origin
        out = np.empty((len(samples), self.net.num_joints, 2))
        size = self.options.batch_size
        for start in range(0, len(samples), size):
            chunk = samples[start:start + size]
            crops, boxes = self.inputs(chunk)
            # (img / 255.0 - mean) / std in float32, then CHW, as the dataset's __getitem__
            x = ((crops.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
            with torch.no_grad(), autocast():
                heatmaps = net(torch.from_numpy(np.ascontiguousarray(x)).to(device)).float().cpu()
            cells = heatmap_cells(heatmaps).double().numpy()
            for i, where in enumerate(boxes):
                out[start + i] = to_image(cells[i], where.centre, where.padded_scale) - offset
        return out

    def describe(self) -> dict:
        device = resolve_device(self.context.device)
        boxes = f"annotations {self.options.annotations}" if self.options.annotations else self.options.boxes
        return {"checkpoint": self.source, "checkpoint_sha256": self.sha256, "layout": self.layout,
                "centre_and_scale": boxes, "device": device,
                "precision": choose(device, self.context.precision or self.options.inference_precision)[0],
                **trained_by_recipe(self.backbone_init, self.history)}

