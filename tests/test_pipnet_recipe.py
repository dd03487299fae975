"""PIPNet's training recipe (plugins/models/pipnet/recipe.py) against its own code written out step by step
(tests/original_pipnet_train.py): with the same seeds, the same augmented crops and targets, the same loss of a
batch, the same parameters after one and after ten optimiser steps, the same learning rate over 60 epochs, the
same initialisation, and its flip lists are the landmark schemes' flip permutations."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from original_pipnet_train import (
    FLIP_LISTS,
    compute_loss_pip,
    get_item,
    optimizer_and_scheduler,
    pip_resnet18_initialised,
    train_step,
)
from PIL import Image
from test_pipnet import face_template, textured_image

from fabrec_bench.schemes import scheme_for_points
from fabrec_bench_plugins.models.pipnet import recipe
from fabrec_bench_plugins.models.pipnet.decoding import neighbours
from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant

POINTS, NUM_NB, GRID = 98, 10, 8  # WFLW, the experiment files' num_nb, 256 / net_stride 32


def crop_and_labels(seed: int) -> tuple[Image.Image, np.ndarray]:
    """A 256-px RGB crop (textured) and a face's labels as fractions of it, some near its border."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(textured_image(rng, 256, 256)[:, :, ::-1].copy(), "RGB")
    labels = np.clip(face_template("wflw", seed) * rng.uniform(0.8, 1.1) + rng.uniform(-0.05, 0.1, 2), 0, 1)
    return image, labels


def neighbour_indices(labels: np.ndarray) -> np.ndarray:
    return neighbours(labels, NUM_NB).indices


def ours(image, labels, seed: int):
    """Our draws, augmentation, input tensor and targets for one face, seeded as the original is seeded."""
    draws = recipe.draw(random.Random(seed), image.size, generator=torch.Generator().manual_seed(seed))
    augmented, moved = recipe.augment(image, labels, draws, scheme_for_points(POINTS).flip_permutation)
    return draws, (recipe.to_input(augmented), *recipe.targets(moved, neighbour_indices(labels), GRID))


def theirs(image, labels, seed: int):
    random.seed(seed)
    torch.manual_seed(seed)
    return get_item(image.copy(), labels.flatten().copy(), 256, POINTS, 32, FLIP_LISTS[POINTS],
                    neighbour_indices(labels))


def test_the_flip_lists_are_the_schemes_flip_permutations():
    for points, flip in FLIP_LISTS.items():
        assert list(scheme_for_points(points).flip_permutation) == flip, points


def test_augmented_crops_and_targets_equal_the_originals():
    seen = {"translate": 0, "occlusion": 0, "flip": 0, "rotate": 0, "blur": 0, "grayscale": 0}
    for seed in range(40):
        image, labels = crop_and_labels(seed % 5)
        draws, mine = ours(image, labels, seed)
        for step in seen:
            seen[step] += getattr(draws, step) not in (None, False)
        for name, a, b in zip(("input", "map", "x", "y", "nb_x", "nb_y"), mine, theirs(image, labels, seed),
                              strict=True):
            assert torch.equal(a, b), (seed, name, draws)
    assert all(count > 2 for count in seen.values()), seen  # every step ran, and was skipped, several times
    assert mine[1].sum() == POINTS and mine[4].abs().sum() > 0  # one cell per landmark; neighbour offsets drawn


def batch(seeds) -> tuple[torch.Tensor, ...]:
    items = [theirs(*crop_and_labels(s), s) for s in seeds]
    return tuple(torch.stack(parts) for parts in zip(*items, strict=True))


def nets(seed: int) -> tuple[PipNet, torch.nn.Module]:
    """Ours and the original's ResNet-18 PIPNet, each initialised as the original initialises, from one seed."""
    torch.manual_seed(seed)
    mine = PipNet(Variant("resnet18", POINTS, NUM_NB, 32))
    recipe.init_heads(mine)
    torch.manual_seed(seed)
    original = pip_resnet18_initialised(POINTS, NUM_NB)
    return mine, original


def test_initialisation_and_batch_loss_equal_the_originals():
    mine, original = nets(seed=3)
    theirs_state = original.state_dict()
    assert set(mine.state_dict()) == set(theirs_state)
    assert all(torch.equal(v, theirs_state[k]) for k, v in mine.state_dict().items())
    assert mine.cls_layer.weight.std() < 0.002 and mine.cls_layer.bias.abs().max() == 0
    inputs, *targets = batch(range(4))
    mine.train()
    original.train()
    total, parts = recipe.loss(mine(inputs), tuple(targets), NUM_NB)
    expected = compute_loss_pip(*original(inputs), *targets, torch.nn.MSELoss(), torch.nn.L1Loss(), NUM_NB)
    assert torch.equal(parts["map"], 10 * expected[0])
    for name, value in zip(("x", "y", "nb_x", "nb_y"), expected[1:], strict=True):
        assert torch.equal(parts[name], value), name
    assert torch.equal(total, 10 * expected[0] + expected[1] + expected[2] + expected[3] + expected[4])


@pytest.mark.parametrize("pretrained", [False, True])
def test_parameters_after_one_and_ten_steps_equal_the_originals(pretrained):
    mine, original = nets(seed=5)
    mine.train()
    original.train()
    adam, _ = recipe.optimiser(mine, pretrained)
    their_adam, _ = optimizer_and_scheduler(original, pretrained)
    assert adam.defaults["weight_decay"] == (0.0 if pretrained else 5e-4)
    for step in range(10):
        data = batch(range(4 * step, 4 * step + 4))
        total, _ = recipe.loss(mine(data[0]), data[1:], NUM_NB)
        adam.zero_grad()
        total.backward()
        adam.step()
        their_loss = train_step(original, data, their_adam, NUM_NB)
        assert total.item() == their_loss, step
        if step in (0, 9):
            theirs_state = original.state_dict()
            for name, value in mine.state_dict().items():
                torch.testing.assert_close(value, theirs_state[name], rtol=1e-6, atol=1e-7, msg=f"{name} {step}")


def test_learning_rate_over_sixty_epochs_equals_the_originals():
    mine, original = nets(seed=7)
    adam, schedule = recipe.optimiser(mine, pretrained=True)
    their_adam, their_schedule = optimizer_and_scheduler(original, True)
    ours_lr, their_lr = [], []
    for _ in range(recipe.RECIPE.num_epochs):
        ours_lr.append(adam.param_groups[0]["lr"])
        their_lr.append(their_adam.param_groups[0]["lr"])
        adam.step()
        their_adam.step()
        schedule.step()
        their_schedule.step()
    assert ours_lr == their_lr
    assert [recipe.learning_rate(epoch) for epoch in range(60)] == their_lr  # what the training loop sets
    assert ours_lr[0] == 1e-4 and ours_lr[30] == pytest.approx(1e-5) and ours_lr[59] == pytest.approx(1e-6)
