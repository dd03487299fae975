"""Training HRNetV2-W18 by HRNet-Facial's recipe (fabrec_bench_plugins.models.hrnet.recipe) in fabrec-bench's one
training loop (fabrec_bench.torch_helpers.loop.train_by_recipe: budgets, resume, progress, torchrun).

Each face's centre and scale come as its evaluation takes them (the processed annotation file's row, or the
landmarks' rule), its image as HRNet-Facial's loader reads it (float32 RGB; COFW's uint8), its landmarks in the
annotation files' frame. Each face's draws come from a `random.Random` seeded by (seed, epoch, face), so a
training resumed at an epoch boundary draws what the uninterrupted one draws.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.torch_helpers.loop import face_seed
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.hrnet import recipe


def backbone_state(choice: str, net) -> tuple[dict[str, torch.Tensor] | None, str]:
    """The backbone keys of an ImageNet HRNet-W18 file (HRNet's hrnetv2_w18_imagenet_pretrained.pth or timm's
    hrnet_w18), as HRNetFace names them, and where they came from; (None, ...) without a file. A file that does
    not hold every backbone key with its shape is refused in one line."""
    if not choice:
        return None, "init_weights N(0, 0.001)"
    from fabrec_bench.torch_helpers.weights import check_covers, read_state_dict

    if choice == "timm":
        state, choice = timm_cached_weights(), "timm's hrnet_w18 ImageNet weights (its cache)"
    else:
        state = read_state_dict(Path(choice))
    own = {k: v for k, v in net.state_dict().items() if k.startswith("backbone.")}
    mapped = {"backbone." + k: v for k, v in state.items() if "backbone." + k in own}
    check_covers(own, mapped, choice, "an HRNet-W18 backbone")
    return mapped, f"ImageNet ({Path(choice).name})"


def timm_cached_weights() -> dict[str, torch.Tensor]:
    """timm's hrnet_w18 ImageNet weights from the Hugging Face cache, looked up without any network access."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    repo = timm.models.get_pretrained_cfg("hrnet_w18").hf_hub_id
    for name in ("model.safetensors", "pytorch_model.bin"):
        path = try_to_load_from_cache(repo, name)
        if isinstance(path, str):
            if name.endswith(".safetensors"):
                from safetensors.torch import load_file

                return load_file(path)
            from fabrec_bench.torch_helpers.weights import read_state_dict

            return read_state_dict(path)
    raise UserError(f"backbone_weights=timm: {repo} is not in the Hugging Face cache (fabrec-bench never "
                    "downloads); put it there, or pass the file: --config backbone_weights=FILE")


class Faces(torch.utils.data.Dataset):
    """The training faces: image path, whether to read it as uint8 (COFW), landmarks and centre and scale in the
    files' frame; each item a recipe training example."""

    def __init__(self, items: list[tuple], flip_permutation, seed: int):
        self.items, self.flip, self.seed, self.epoch = items, tuple(flip_permutation), seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        from PIL import Image

        path, as_uint8, points, where = self.items[index]
        draws = recipe.draw(random.Random(face_seed(self.seed, self.epoch, index)))
        with Image.open(path) as image:
            pixels = np.array(image.convert("RGB"), dtype=np.uint8 if as_uint8 else np.float32)
        try:
            x, heatmaps = recipe.training_example(pixels, points, where, draws, self.flip)
        except ValueError as e:
            raise UserError(f"{path}: {e}") from None
        return {"index": index, "input": x, "targets": heatmaps}


def train(model, samples: Sequence[FaceSample]) -> dict:
    """Train `model` (an HRNetModel made by `create`) on `samples` by HRNet-Facial's recipe; returns its history."""
    from fabrec_bench.torch_helpers.loop import train_by_recipe, training_world

    o, context = model.options, model.context
    facts = context.dataset
    offset = facts.file_origin - facts.coordinate_origin
    items = [(str(s.image_path), facts.name == "cofw", s.landmarks_px + offset, model.centre_scale(s, offset))
             for s in samples]
    world, device, mine = training_world(context, model.device_name, items)
    faces = Faces(mine, model.scheme.flip_permutation, context.seed)
    done = train_by_recipe("hrnet", model.net, faces, optimizer=recipe.optimiser(model.net),
                           learning_rate=recipe.learning_rate, loss=recipe.loss, options=o, context=context,
                           world=world, device=device, face_ids=[s.id for s in samples], drop_last=False,
                           identity={"init": model.backbone_init})
    return {"recipe": "HRNet-Facial's own (tools/train.py, face_alignment_*_hrnet_w18.yaml)",
            "backbone_init": model.backbone_init, "train_faces": len(samples), **done,
            "centre_and_scale": model.crop_rule("ground-truth")}
