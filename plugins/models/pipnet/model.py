"""The PIPNet model adapter: a released checkpoint, run on a split as lib/test.py runs it.

Per face: the crop box of PIPNet's preprocessing for the dataset (preprocess.py), the cut resized to
input_size and passed through the crop file the preprocessing would write, RGB with ImageNet normalisation,
the network, the decoding (decoding.py), and the fractions of the crop box mapped back to image pixels
(x = xmin + fraction * w, the inverse of the labels' map, so the `pipnet` protocol scores exactly the fractions
lib/test.py scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.models import LandmarkModel, RunContext, as_context, trained_by_recipe
from fabrec_bench.options import make_options
from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.precision import autocast_for, choose
from fabrec_bench.torch_helpers.weights import file_sha256, load_checked, read_state_dict
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.pipnet import preprocess
from fabrec_bench_plugins.models.pipnet.decoding import Neighbours, decode, neighbours
from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant, read_variant
from fabrec_bench_plugins.models.pipnet.options import PipNetOptions
from fabrec_bench_plugins.models.pipnet.releases import MEAN_RGB, STD_RGB


def load_network(state: dict[str, torch.Tensor], source: Path) -> PipNet:
    """The network the state dict describes, with its weights; one line naming the keys that do not fit."""
    try:
        variant = read_variant(state)
    except ValueError as e:
        raise UserError(f"{source}: {e}") from None
    return load_checked(PipNet(variant), state, source, f"the layout of a PIPNet {variant.backbone} checkpoint",
                        f"a {variant.backbone} PIPNet")


def read_meanface(path: str | Path, num_lms: int) -> np.ndarray:
    """PIPNet's meanface.txt (one line of 2L numbers, x y per landmark) as (L, 2)."""
    path = Path(path)
    try:
        values = [float(v) for v in path.read_text().splitlines()[0].split()]
    except (OSError, IndexError) as e:
        raise UserError(f"{path}: cannot read the mean face ({e})") from None
    except ValueError as e:
        raise UserError(f"{path}: line 1 is not a list of numbers ({e})") from None
    if len(values) != 2 * num_lms:
        raise UserError(f"{path}: line 1 holds {len(values)} numbers; a {num_lms}-landmark mean face has "
                        f"{2 * num_lms}")
    return np.array(values).reshape(-1, 2)


def training_mean_face(samples: Sequence[FaceSample], dataset: str, file_offset: float) -> np.ndarray:
    """gen_meanface on the training faces: each face's labels as its preprocessing writes them (fractions of
    its crop box), averaged."""
    rule = preprocess.box_rule(dataset)
    sizes = preprocess.image_sizes([s.image_path for s in samples])
    labels = []
    for sample, size in zip(samples, sizes, strict=True):
        gt, crop = rule(sample.landmarks_px + file_offset, np.asarray(sample.box_px) + file_offset, size)
        labels.append(crop.to_fractions(gt))
    return preprocess.mean_face(np.stack(labels))


class PipNetModel(LandmarkModel):
    """A PIPNet: a released checkpoint run as its test runs it, or one trained here by its own recipe
    (fabrec_bench_plugins.models.pipnet.training)."""

    def __init__(self, net: PipNet, options: PipNetOptions, context: RunContext | str = "auto", source: str = "",
                 sha256: str = ""):
        super().__init__(scheme_for_points(net.variant.num_lms), options, context)
        self.net, self.source, self.sha256 = net, source, sha256
        self._table: tuple[tuple, Neighbours, str] | None = None  # (key, tables, where the mean face came from)
        self.backbone_init: str | None = None  # set when made to be trained: its backbone's initialisation
        self.mean_face: np.ndarray | None = None  # the training faces' mean face, once trained here
        self.history: dict = {}
        self.device_name = resolve_device(self.context.device)

    @classmethod
    def create(cls, scheme, options: PipNetOptions, context: RunContext) -> PipNetModel:
        """A new PIPNet to train by its recipe: the options' variant (resnet18, num_nb 10, stride 32 unless
        given), the heads initialised as Pip_resnet* does from the run's seed, the backbone from
        `backbone_weights` or from scratch."""
        from fabrec_bench_plugins.models.pipnet import recipe
        from fabrec_bench_plugins.models.pipnet.training import backbone_state, load_backbone

        backbone = "resnet18" if options.backbone == "auto" else options.backbone
        variant = Variant(backbone, scheme.num_points, options.num_nb or 10, options.net_stride or 32)
        state, init = backbone_state(options.backbone_weights, backbone)
        torch.manual_seed(context.seed)
        net = PipNet(variant)
        recipe.init_heads(net)
        if state is not None:
            load_backbone(net, state, options.backbone_weights)
        model = cls(net, options, context)
        model.backbone_init = init
        return model

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> PipNetModel:
        path = Path(path)
        net = load_network(read_state_dict(path), path)
        digest = file_sha256(path)
        return cls(net, make_options(PipNetOptions), as_context(context), str(path), digest)

    def train(self, samples: Sequence[FaceSample]) -> dict:
        if self.backbone_init is None:
            raise UserError(f"{self.source}: a loaded checkpoint is evaluated, not trained further; `fabrec-bench "
                            "run -m pipnet` trains a new PIPNet by its own recipe")
        from fabrec_bench_plugins.models.pipnet.training import train

        self.history = train(self, samples)
        self._table = None  # the neighbour tables now come from the training faces' mean face
        return self.history

    def save(self, path: Path) -> None:
        """The state dict lib/train.py saves (its test loads it) and, for a model trained here, its mean face as
        meanface.txt beside it (data/<DATA>/meanface.txt's format: one line, x y per landmark)."""
        torch.save(self.net.state_dict(), path)
        if self.mean_face is not None:
            Path(path).with_name("meanface.txt").write_text(" ".join(repr(float(v)) for v in
                                                                  self.mean_face.reshape(-1)) + "\n")

    # -- the variant asked for against the checkpoint's ----------------------------------------------------

    def variant(self) -> Variant:
        """The checkpoint's variant, refusing options that contradict it (0 and auto read it)."""
        v, o = self.net.variant, self.options
        for name, given, actual in (("backbone", o.backbone, v.backbone), ("num_nb", o.num_nb, v.num_nb),
                                    ("net_stride", o.net_stride, v.net_stride)):
            if given not in ("auto", 0, actual):
                raise UserError(f"{self.source}: --config {name}={given} does not match the checkpoint, whose "
                                f"{name} is {actual} (read from its keys)")
        return v

    def check_options(self) -> None:
        self.variant()
        if self.options.meanface:
            read_meanface(self.options.meanface, self.net.variant.num_lms)

    def neighbour_table(self) -> tuple[Neighbours, str]:
        """get_meanface's tables, from --config meanface=FILE or from the dataset's training split."""
        variant, facts = self.variant(), self.context.dataset
        key = (self.options.meanface, variant.num_nb, facts.name)
        if self._table is None or self._table[0] != key:
            if self.mean_face is not None and not self.options.meanface:
                mean, where = self.mean_face, f"the mean face of its {self.history.get('train_faces')} training faces"
            elif self.options.meanface:
                mean = read_meanface(self.options.meanface, variant.num_lms)
                where = f"{self.options.meanface}"
            else:
                if self.context.training_faces is None:
                    where = f"dataset '{facts.name}' has" if facts.name else "photographs have"
                    raise UserError(f"{where} no training split to compute PIPNet's mean face from; pass "
                                    "--config meanface=PATH (its data/<DATA>/meanface.txt)")
                faces = self.context.training_faces()
                mean = training_mean_face(faces, facts.name, facts.file_origin - facts.coordinate_origin)
                where = f"computed from {facts.name}'s training split ({len(faces)} faces)"
            if len(mean) != variant.num_lms:
                raise UserError(f"the mean face has {len(mean)} points; the checkpoint predicts {variant.num_lms}")
            try:
                table = neighbours(mean, variant.num_nb)
            except ValueError as e:
                raise UserError(f"mean face ({where}): {e}") from None
            self._table = (key, table, where)
        return self._table[1], self._table[2]

    # -- inference ---------------------------------------------------------------------------------------

    def crops(self, samples: Sequence[FaceSample], with_labels: bool = False):
        """(N, S, S, 3) RGB uint8 crops as the test reads them, each face's crop box (files' frame) and, with
        `with_labels`, its labels as fractions of that box, as the preprocessing writes them for training."""
        from fabrec_bench.faces.facedata import load_image

        facts, o = self.context.dataset, self.options
        offset = facts.file_origin - facts.coordinate_origin
        # faces without annotations (photographs) are cut from the box they come with
        rule = preprocess.box_rule(facts.name) if o.crop == "pipnet" and facts.labeled else preprocess.given_box
        images, boxes, labels, loaded = [], [], [], {}
        for sample in samples:
            path = str(sample.image_path)
            if path not in loaded:
                loaded = {path: load_image(sample.image_path)}  # consecutive faces of one image read it once
            image = loaded[path]
            height, width = image.shape[:2]
            gt, crop = rule(sample.landmarks_px + offset, np.asarray(sample.box_px, dtype=np.float64) + offset,
                            (width, height))
            try:
                pixels = preprocess.crop_pixels(image, crop, o.input_size, self._crop_file_type(path))
            except ValueError as e:
                raise UserError(f"{sample.image_path}: face {sample.id}: {e}") from None
            images.append(pixels[:, :, ::-1])  # BGR -> RGB, as the test's image[:, :, ::-1]
            boxes.append(crop)
            if with_labels:
                labels.append(crop.to_fractions(gt))
        return (np.stack(images), boxes, labels) if with_labels else (np.stack(images), boxes)

    def _crop_file_type(self, image_path: str) -> str:
        """The type the preprocessing writes this face's crop as ("" when crop files are off)."""
        if not self.options.crop_files:
            return ""
        if self.options.crop == "pipnet" and self.context.dataset.labeled:
            return preprocess.CROP_FILE_TYPE[self.context.dataset.name] or Path(image_path).suffix.lower()
        return ".jpg"

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        variant = self.variant()
        table, _ = self.neighbour_table()
        device = resolve_device(self.context.device)
        precision = self.context.precision or self.options.inference_precision
        autocast = autocast_for(device, precision)
        net = self.net.to(device)
        mean = torch.tensor(MEAN_RGB, dtype=torch.float32, device=device)[:, None, None]
        std = torch.tensor(STD_RGB, dtype=torch.float32, device=device)[:, None, None]
        offset = self.context.dataset.file_origin - self.context.dataset.coordinate_origin
        out = np.empty((len(samples), variant.num_lms, 2))
        size = self.options.batch_size
        for start in range(0, len(samples), size):
            chunk = samples[start:start + size]
            pixels, boxes = self.crops(chunk)
            # transforms.ToTensor() then Normalize(): /255, then (x - mean) / std, in float32; NCHW in memory as
            # the original's (a channels-last input takes other convolution kernels, which round differently)
            x = torch.from_numpy(pixels).to(device).permute(0, 3, 1, 2).contiguous().float().div(255)
            x = (x - mean) / std
            with torch.no_grad(), autocast():
                outputs = net(x)
            fractions = decode(outputs, self.options.input_size, variant.net_stride, table).double().cpu().numpy()
            for i, crop in enumerate(boxes):
                out[start + i] = crop.from_fractions(fractions[i]) - offset
        return out

    def crop_rule(self, box_source: str) -> str:
        if self.options.crop == "pipnet" and self.context.dataset.labeled:
            return f"PIPNet's {self.context.dataset.name} preprocessing rule"
        return box_source

    def describe(self) -> dict:
        v = self.net.variant
        _, where = self.neighbour_table() if self._table is None else self._table[1:]
        device = resolve_device(self.context.device)
        return {"checkpoint": self.source, "checkpoint_sha256": self.sha256, "backbone": v.backbone,
                "num_nb": v.num_nb, "net_stride": v.net_stride, "input_size": self.options.input_size,
                "meanface": where, "crop": self.options.crop, "crop_files": self.options.crop_files,
                "precision": choose(device, self.context.precision or self.options.inference_precision)[0],
                "device": device, **trained_by_recipe(self.backbone_init, self.history)}

