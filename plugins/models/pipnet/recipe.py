"""PIPNet's training recipe, as its code trains (lib/train.py, lib/data_utils.py, lib/functions.py and the
experiment files pip_32_16_60_r{18,50,101}_l2_l1_10_1_nb10.py at b9eab588): the augmentation of each training
crop, its targets, the loss, the optimiser and the schedule. The crops themselves are the preprocessing's
(fabrec_bench_plugins.models.pipnet.preprocess, with its JPEG round trip), the very ones its test reads.

Augmentation, per face and in this order, each step drawn from Python's `random` as the original draws it:
translation (p 0.5, whole pixels in [-30, 30), PIL's affine transform, labels moved and clamped into [0, 1]),
occlusion (p 0.5, a rectangle up to 0.4 of each side in one random colour), flip (p 0.5, with the landmark
scheme's flip permutation, which equals PIPNet's flip lists), rotation (p 0.5, U(-30, 30) degrees about the
crop's centre, PIL's rotate), Gaussian blur (p 0.3, radius U(0, 5)); then torchvision's RandomGrayscale(0.2)
(drawn from torch), ToTensor and ImageNet normalisation.

Targets, per landmark on the net_stride grid: 1 in the cell that holds it (its floor, clamped into the grid),
its x and y offset within that cell, and each of its mean-face neighbours' offsets from that cell. Loss: the
MSE of the cell maps x cls_loss_weight (10) plus the L1 of the four offsets read at each landmark's target cell
x reg_loss_weight (1). Adam at 1e-4 (weight decay 5e-4 only without a pretrained backbone), MultiStepLR at
epochs 30 and 50 x 0.1, 60 epochs, batch 16, the last partial batch dropped.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SOURCE = "lib/data_utils.py:10-150 (random_translate .. gen_target_pip, ImageFolder_pip), lib/functions.py:77-155 " \
         "(compute_loss_pip, train_model), lib/train.py:178-200 (optimiser, scheduler, transform, loader)"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Recipe:
    """The numbers of PIPNet's experiment files (the same for ResNet-18, -50 and -101)."""

    batch_size: int = 16
    init_lr: float = 1e-4
    num_epochs: int = 60
    decay_steps: tuple[int, ...] = (30, 50)
    gamma: float = 0.1
    weight_decay_from_scratch: float = 5e-4  # only when the backbone starts from scratch
    cls_loss_weight: float = 10.0
    reg_loss_weight: float = 1.0
    max_angle: float = 30.0
    grayscale_p: float = 0.2


RECIPE = Recipe()


@dataclass(frozen=True)
class Draws:
    """One face's augmentation parameters, as the original draws them (None: the step is not applied)."""

    translate: tuple[int, int] | None = None  # (dx, dy) pixels, PIL's affine (c, f)
    occlusion: tuple[int, int, int, int, tuple[int, int, int]] | None = None  # (h, w, x0, y0, (b, g, r))
    flip: bool = False
    rotate: float | None = None  # radians
    blur: float | None = None  # Gaussian radius
    grayscale: bool = False


def draw(rng: random.Random, size: tuple[int, int], max_angle: float = RECIPE.max_angle,
         grayscale_p: float = RECIPE.grayscale_p, generator: torch.Generator | None = None) -> Draws:
    """One face's draws, consuming `rng` in the original's order (translate, occlusion, flip, rotate, blur) and
    torch's generator for RandomGrayscale, so a seeded run draws what the original draws. `size` is the crop's
    PIL size (width, height)."""
    translate = occlusion = rotate = blur = None
    if rng.random() > 0.5:
        translate = (int((rng.random() - 0.5) * 60), int((rng.random() - 0.5) * 60))
    if rng.random() > 0.5:
        width, height = size
        occ_h = int(height * 0.4 * rng.random())
        occ_w = int(width * 0.4 * rng.random())
        x0 = int((width - occ_w - 10) * rng.random())
        y0 = int((height - occ_h - 10) * rng.random())
        occlusion = (occ_h, occ_w, x0, y0, tuple(int(rng.random() * 255) for _ in range(3)))
    flip = rng.random() > 0.5
    if rng.random() > 0.5:
        limit = np.radians(max_angle)
        rotate = rng.uniform(-limit, limit)
    if rng.random() > 0.7:
        blur = rng.random() * 5
    grayscale = bool(torch.rand(1, generator=generator) < grayscale_p)
    return Draws(translate, occlusion, flip, rotate, blur, grayscale)


def augment(image, labels: np.ndarray, draws: Draws, flip_permutation) -> tuple[object, np.ndarray]:
    """A PIL RGB crop and its (L, 2) labels (fractions of the crop) with `draws` applied, in the original's order.
    The labels stay float64; like the original, only translation clamps them."""
    from PIL import Image, ImageFilter

    labels = np.array(labels, dtype=np.float64).reshape(-1, 2)
    if draws.translate is not None:
        dx, dy = draws.translate
        # the original names the PIL size (width, height) "height, width": the x shift is divided by the height
        height, width = image.size
        image = image.transform(image.size, Image.AFFINE, (1, 0, dx, 0, 1, dy))
        labels = np.clip(labels - [dx / width, dy / height], 0.0, 1.0)
    if draws.occlusion is not None:
        occ_h, occ_w, x0, y0, bgr = draws.occlusion
        pixels = np.array(image, dtype=np.uint8)
        for channel, value in zip((2, 1, 0), bgr, strict=True):  # drawn for B, G, R of the BGR view
            pixels[y0:y0 + occ_h, x0:x0 + occ_w, channel] = value
        image = Image.fromarray(pixels, "RGB")
    if draws.flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
        labels = labels[list(flip_permutation)]
        labels[:, 0] = 1 - labels[:, 0]
    if draws.rotate is not None:
        theta = draws.rotate
        image = image.rotate(np.degrees(theta))
        c, s = np.cos(theta), np.sin(theta)
        labels = np.matmul(labels - 0.5, np.array(((c, -s), (s, c)))) + 0.5
    if draws.blur is not None:
        image = image.filter(ImageFilter.GaussianBlur(draws.blur))
    if draws.grayscale:
        image = image.convert("L").convert("RGB")
    return image, labels


def to_input(image) -> torch.Tensor:
    """ToTensor and ImageNet normalisation of a PIL RGB crop: (3, H, W) float32."""
    pixels = torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1).float().div(255)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return (pixels - mean) / std


def targets(labels: np.ndarray, neighbour_indices: np.ndarray, grid: int) -> tuple[torch.Tensor, ...]:
    """gen_target_pip for (L, 2) labels: the cell map, x and y offsets (L, grid, grid) and the neighbours' x and y
    offsets (L * num_nb, grid, grid), float32."""
    labels = np.asarray(labels, dtype=np.float64).reshape(-1, 2)
    count, num_nb = neighbour_indices.shape
    scaled = labels * grid
    cells = np.clip(np.array([[math.floor(v) for v in point] for point in scaled], dtype=np.int64), 0, grid - 1)
    maps = np.zeros((count, grid, grid))
    local = np.zeros((2, count, grid, grid))
    nb = np.zeros((2, count * num_nb, grid, grid))
    rows = np.arange(count)
    x, y = cells[:, 0], cells[:, 1]
    maps[rows, y, x] = 1
    local[:, rows, y, x] = (scaled - cells).T
    offsets = scaled[neighbour_indices] - cells[:, None, :]  # (L, num_nb, 2)
    slots = rows[:, None] * num_nb + np.arange(num_nb)[None, :]
    nb[0, slots, y[:, None], x[:, None]] = offsets[..., 0]
    nb[1, slots, y[:, None], x[:, None]] = offsets[..., 1]
    return tuple(torch.from_numpy(a).float() for a in (maps, local[0], local[1], nb[0], nb[1]))


def loss(outputs: tuple[torch.Tensor, ...], batch_targets: tuple[torch.Tensor, ...], num_nb: int,
         recipe: Recipe = RECIPE) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """compute_loss_pip and train_model's weighting: MSE over the cell maps, L1 over the offsets read at each
    landmark's target cell (its own and its neighbours'). Returns the total and the five parts (weighted)."""
    out_map, out_x, out_y, out_nb_x, out_nb_y = outputs
    map_t, x_t, y_t, nb_x_t, nb_y_t = batch_targets
    batch, count = out_map.shape[:2]
    cell = map_t.reshape(batch * count, -1).argmax(1, keepdim=True)  # each landmark's target cell
    cell_nb = cell.repeat(1, num_nb).reshape(-1, 1)

    def at(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return values.reshape(index.shape[0], -1).gather(1, index)

    parts = {"map": recipe.cls_loss_weight * F.mse_loss(out_map, map_t)}
    for name, out, target, index in (("x", out_x, x_t, cell), ("y", out_y, y_t, cell),
                                     ("nb_x", out_nb_x, nb_x_t, cell_nb), ("nb_y", out_nb_y, nb_y_t, cell_nb)):
        parts[name] = recipe.reg_loss_weight * F.l1_loss(at(out, index), at(target, index))
    total = parts["map"] + parts["x"] + parts["y"] + parts["nb_x"] + parts["nb_y"]
    return total, parts


def init_heads(net: torch.nn.Module) -> None:
    """Pip_resnet*'s initialisation of the layers it adds to the backbone: weights N(0, 0.001), biases 0,
    BatchNorm 1 and 0. At net_stride 32 (every experiment file) it draws what the original draws after the
    same seed; at 16, 64 and 128 the original draws the extra layer's init before making the heads."""
    for name in ("layer5", "layer6", "deconv1", "cls_layer", "x_layer", "y_layer", "nb_x_layer", "nb_y_layer"):
        layer = getattr(net, name, None)
        if layer is not None:
            torch.nn.init.normal_(layer.weight, std=0.001)
            if layer.bias is not None:
                torch.nn.init.constant_(layer.bias, 0)
    for name in ("bn5", "bn6", "bn_deconv1"):
        norm = getattr(net, name, None)
        if norm is not None:
            torch.nn.init.constant_(norm.weight, 1)
            torch.nn.init.constant_(norm.bias, 0)


def learning_rate(epoch: int, recipe: Recipe = RECIPE) -> float:
    """lib/train.py's MultiStepLR (stepped after each epoch) in `epoch` (0-based)."""
    from fabrec_bench.torch_helpers.loop import multistep_rate

    return multistep_rate(epoch, recipe.init_lr, recipe.decay_steps, recipe.gamma)


def optimiser(net: torch.nn.Module, pretrained: bool, recipe: Recipe = RECIPE
              ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.MultiStepLR]:
    """Adam at init_lr (weight decay only when the backbone starts from scratch) and MultiStepLR, stepped once
    per epoch."""
    decay = 0.0 if pretrained else recipe.weight_decay_from_scratch
    adam = torch.optim.Adam(net.parameters(), lr=recipe.init_lr, weight_decay=decay)
    return adam, torch.optim.lr_scheduler.MultiStepLR(adam, milestones=list(recipe.decay_steps), gamma=recipe.gamma)
