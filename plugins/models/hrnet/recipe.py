"""HRNetV2-W18's training recipe, as HRNet-Facial trains it (tools/train.py, lib/core/function.py train,
lib/datasets/wflw.py __getitem__ and its siblings, lib/utils/transforms.py, lib/models/hrnet.py init_weights,
experiments/*/face_alignment_*_hrnet_w18.yaml at f776dbe).

Per face: its centre and scale (the processed annotation file's, or the landmarks' rule, as evaluation takes
them), scale x 1.25 x U(0.75, 1.25), a rotation U(-30, 30) degrees with probability 0.6, a horizontal flip with
probability 0.5 (x -> width - x, the scheme's flip permutation, which equals its MATCHED_PARTS, and the centre
mirrored the same way), drawn from Python's `random` in that order; crop() with the rotation's padding,
scipy.misc.imrotate and imresize; (x / 255 - mean) / std. Targets: each landmark whose y is positive mapped by
transform_pixel (truncated to whole pixels) onto the 64 x 64 grid and drawn by generate_target (a Gaussian of
sigma 1.5 peaking 1, cut to the 10 x 10 patch about the point). Loss: MSE over the heatmaps. Weights: every
convolution N(0, 0.001), BatchNorm 1 and 0, then the ImageNet file's matching keys if given. Adam at 1e-4, no
weight decay; MultiStepLR [30, 50] x 0.1 stepped before each epoch as PyTorch 1.0 steps it (the rate drops in
epochs 30 and 50); 60 epochs; batch 16, the last partial batch kept (its DataLoader has no drop_last).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fabrec_bench_plugins.models.hrnet import preprocess
from fabrec_bench_plugins.models.hrnet.releases import MEAN_RGB, STD_RGB

SOURCE = "lib/datasets/wflw.py:47-101 (__getitem__), lib/utils/transforms.py:36-52 (fliplr_joints), 130-243 " \
         "(get_transform, transform_pixel, crop, generate_target), lib/core/function.py:44-84 (train), " \
         "tools/train.py:65-117, lib/models/hrnet.py:448-468 (init_weights)"


@dataclass(frozen=True)
class Recipe:
    batch_size: int = 16
    init_lr: float = 1e-4
    num_epochs: int = 60
    decay_steps: tuple[int, ...] = (30, 50)
    gamma: float = 0.1
    scale_factor: float = 0.25
    rot_factor: float = 30.0
    rot_p: float = 0.6
    flip_p: float = 0.5
    sigma: float = 1.5
    heatmap_size: tuple[int, int] = (64, 64)


RECIPE = Recipe()


@dataclass(frozen=True)
class Draws:
    scale: float  # the multiplier of the padded scale
    rotation: float  # degrees (0: none)
    flip: bool


def draw(rng: random.Random, recipe: Recipe = RECIPE) -> Draws:
    """One face's draws, consuming `rng` as __getitem__ consumes Python's random: the scale, then whether to
    rotate (and by how much), then whether to flip."""
    scale = rng.uniform(1 - recipe.scale_factor, 1 + recipe.scale_factor)
    rotation = rng.uniform(-recipe.rot_factor, recipe.rot_factor) if rng.random() <= recipe.rot_p else 0
    flip = rng.random() <= recipe.flip_p
    return Draws(scale, rotation, flip)


def gaussian_patch(image: np.ndarray, point, sigma: float) -> np.ndarray:
    """generate_target: a Gaussian peaking 1 at `point` (0-based heatmap pixels) written into `image` over the
    (6 sigma + 1)-wide patch starting at int(point - 3 sigma), where it overlaps the map."""
    half = sigma * 3
    ul = [int(point[0] - half), int(point[1] - half)]
    br = [int(point[0] + half + 1), int(point[1] + half + 1)]
    if ul[0] >= image.shape[1] or ul[1] >= image.shape[0] or br[0] < 0 or br[1] < 0:
        return image
    size = 2 * half + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, np.newaxis]
    middle = size // 2
    g = np.exp(- ((x - middle) ** 2 + (y - middle) ** 2) / (2 * sigma ** 2))
    g_x = max(0, -ul[0]), min(br[0], image.shape[1]) - ul[0]
    g_y = max(0, -ul[1]), min(br[1], image.shape[0]) - ul[1]
    image_x = max(0, ul[0]), min(br[0], image.shape[1])
    image_y = max(0, ul[1]), min(br[1], image.shape[0])
    image[image_y[0]:image_y[1], image_x[0]:image_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return image


def training_example(image: np.ndarray, points: np.ndarray, where: preprocess.CentreScale, draws: Draws,
                     flip_permutation, recipe: Recipe = RECIPE) -> tuple[torch.Tensor, torch.Tensor]:
    """One face's (3, 256, 256) input and (L, 64, 64) heatmaps. `image` as the loader reads it (float32 RGB, or
    COFW's uint8), `points` and `where` in the annotation files' frame."""
    centre = np.array([np.float32(where.centre_w), np.float32(where.centre_h)], dtype=np.float32)  # torch.Tensor
    scale = where.scale * preprocess.PADDING * draws.scale
    points = np.array(points, dtype=np.float64)
    if draws.flip:
        image = np.fliplr(image)
        points[:, 0] = image.shape[1] - points[:, 0]
        points = points[list(flip_permutation)]
        centre[0] = np.float32(image.shape[1] - centre[0])
    crop = preprocess.crop(image, (float(centre[0]), float(centre[1])), scale, rot=draws.rotation)
    heatmaps = np.zeros((len(points), *recipe.heatmap_size))
    for i, point in enumerate(points):
        if point[1] > 0:
            cell = preprocess.to_output_pixel(point + 1, centre, scale, recipe.heatmap_size, rot=draws.rotation)
            heatmaps[i] = gaussian_patch(heatmaps[i], cell - 1, recipe.sigma)
    mean, std = np.array(MEAN_RGB, dtype=np.float32), np.array(STD_RGB, dtype=np.float32)
    pixels = (crop.astype(np.float32) / 255.0 - mean) / std
    return torch.from_numpy(np.ascontiguousarray(pixels.transpose(2, 0, 1))), torch.Tensor(heatmaps)


def loss(outputs: torch.Tensor, heatmaps: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """torch.nn.MSELoss(size_average=True) over the heatmaps."""
    mse = F.mse_loss(outputs, heatmaps)
    return mse, {"heatmap_mse": mse}


def init_weights(net: torch.nn.Module) -> None:
    """init_weights: every convolution's weight N(0, 0.001) (biases as made), BatchNorm weight 1 and bias 0."""
    for module in net.modules():
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, std=0.001)
        elif isinstance(module, torch.nn.BatchNorm2d):
            torch.nn.init.constant_(module.weight, 1)
            torch.nn.init.constant_(module.bias, 0)


def learning_rate(epoch: int, recipe: Recipe = RECIPE) -> float:
    """The rate in `epoch` (0-based) under tools/train.py's MultiStepLR stepped before each epoch, as PyTorch
    1.0 (its requirement) computes it: base_lr * gamma ** (milestones passed). (Under PyTorch >= 1.1 the same
    script's rate drops one epoch earlier, at 29 and 49, and PyTorch warns about the call order.)"""
    from fabrec_bench.torch_helpers.loop import multistep_rate

    return multistep_rate(epoch, recipe.init_lr, recipe.decay_steps, recipe.gamma)


def optimiser(net: torch.nn.Module, recipe: Recipe = RECIPE) -> torch.optim.Optimizer:
    """get_optimizer's Adam (TRAIN.OPTIMIZER adam: no weight decay)."""
    return torch.optim.Adam(filter(lambda p: p.requires_grad, net.parameters()), lr=recipe.init_lr)
