"""Training a PIPNet by its own recipe (fabrec_bench_plugins.models.pipnet.recipe) in fabrec-bench's one training
loop (fabrec_bench.torch_helpers.loop: epochs, budgets, resume, progress, torchrun).

The training faces are cut as PIPNet's preprocessing cuts them (the same code path as its test crops, JPEG
round trip included); the mean face and its neighbour tables come from those faces' labels, as gen_meanface
computes them from train.txt, and are written beside the checkpoint as meanface.txt. Each face's augmentation
is drawn from a Python `random.Random` and a torch generator seeded by (seed, epoch, face), so a training
resumed at an epoch boundary draws what the uninterrupted one draws.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.torch_helpers.loop import face_seed, train_by_recipe, training_world
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.pipnet import recipe
from fabrec_bench_plugins.models.pipnet.network import PipNet

RESNET_STEM = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")


def backbone_state(choice: str, backbone: str) -> tuple[dict[str, torch.Tensor] | None, str]:
    """The ImageNet weights a user has for `backbone` and where they came from; (None, "scratch") for none.
    `choice`: a torchvision ResNet state dict file, 'torchvision' (torch's hub cache, never downloaded), or ""."""
    if not choice:
        return None, "scratch (pretrained=False)"
    if choice == "torchvision":
        import torchvision

        weights = torchvision.models.get_model_weights(backbone).IMAGENET1K_V1
        path = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
        if not path.is_file():
            raise UserError(f"backbone_weights=torchvision: {path} is not in torch's hub cache (fabrec-bench never "
                            f"downloads); download {weights.url} there, or pass the file: --config "
                            "backbone_weights=FILE")
    else:
        path = Path(choice)
    from fabrec_bench.torch_helpers.weights import read_state_dict

    state = read_state_dict(path)
    return {k: v for k, v in state.items() if k.startswith(RESNET_STEM)}, f"ImageNet ({path.name})"


def load_backbone(net: PipNet, state: dict[str, torch.Tensor], source: str) -> None:
    """Copy a torchvision ResNet's weights into the backbone; one line naming what does not fit."""
    from fabrec_bench.torch_helpers.weights import check_covers

    own = {k: v for k, v in net.state_dict().items() if k.startswith(RESNET_STEM)}
    check_covers(own, state, source, f"a torchvision {net.variant.backbone}")
    net.load_state_dict(state, strict=False)


class Faces(torch.utils.data.Dataset):
    """The training crops (PIL RGB) and labels (fractions of the crop); each item augmented by the recipe."""

    def __init__(self, crops: list, labels: list[np.ndarray], neighbour_indices: np.ndarray, grid: int,
                 flip_permutation, seed: int):
        self.crops, self.labels, self.indices = crops, labels, neighbour_indices
        self.grid, self.flip, self.seed, self.epoch = grid, tuple(flip_permutation), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, index: int) -> dict:
        key = face_seed(self.seed, self.epoch, index)
        draws = recipe.draw(random.Random(key), self.crops[index].size,
                            generator=torch.Generator().manual_seed(key))
        image, labels = recipe.augment(self.crops[index], self.labels[index], draws, self.flip)
        maps = recipe.targets(labels, self.indices, self.grid)
        return {"index": index, "input": recipe.to_input(image), "targets": maps}


def train(model, samples: Sequence[FaceSample]) -> dict:
    """Train `model` (a PipNetModel made by `create`) on `samples` by PIPNet's recipe; returns its history."""
    from PIL import Image

    from fabrec_bench_plugins.models.pipnet import preprocess
    from fabrec_bench_plugins.models.pipnet.decoding import neighbours

    o, context = model.options, model.context
    variant = model.net.variant
    pixels, _, labels = model.crops(samples, with_labels=True)
    mean = preprocess.mean_face(np.stack(labels))
    try:
        table = neighbours(mean, variant.num_nb)
    except ValueError as e:
        raise UserError(f"the mean face of the {len(samples)} training faces: {e}") from None
    world, device, mine = training_world(context, model.device_name, range(len(samples)))
    faces = Faces([Image.fromarray(np.ascontiguousarray(pixels[i]), "RGB") for i in mine], [labels[i] for i in mine],
                  table.indices, o.input_size // variant.net_stride, model.scheme.flip_permutation, context.seed)
    adam, _ = recipe.optimiser(model.net, pretrained=model.backbone_init.startswith("ImageNet"))
    facts = train_by_recipe("pipnet", model.net, faces, optimizer=adam, learning_rate=recipe.learning_rate,
                            loss=lambda outputs, targets: recipe.loss(outputs, targets, variant.num_nb),
                            options=o, context=context, world=world, device=device,
                            face_ids=[s.id for s in samples], drop_last=True, identity={"init": model.backbone_init})
    model.mean_face = mean
    return {"recipe": "PIPNet's own (lib/train.py, pip_32_16_60_*_l2_l1_10_1_nb10)", "backbone": variant.backbone,
            "backbone_init": model.backbone_init, "train_faces": len(samples), **facts}
