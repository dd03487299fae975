"""HRNetV2-W18's training recipe (plugins/models/hrnet/recipe.py) against HRNet-Facial's training code written
out step by step (tests/original_hrnet_train.py): with the same seeds, the same augmented crops and heatmaps
(flips, rotations, a face so large that crop() first shrinks the image), the same loss of a batch, the same
parameters after one and after ten Adam steps, the same 60-epoch schedule, and its flip pairs are the landmark
schemes' flip permutations."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from original_hrnet import HighResolutionNet
from original_hrnet_train import (
    MATCHED_PARTS,
    get_item,
    init_weights,
    pytorch10_multistep_rates,
    train_step,
)
from PIL import Image
from released import random_weights
from test_hrnet import make_faces

from fabrec_bench.schemes import scheme_for_points
from fabrec_bench.torch_helpers.weights import load_checked
from fabrec_bench_plugins.models.hrnet import preprocess, recipe
from fabrec_bench_plugins.models.hrnet.network import HRNetFace, to_module_keys

NAMES = {98: "WFLW", 68: "300W", 29: "COFW", 19: "AFLW"}


def test_the_flip_pairs_are_the_schemes_flip_permutations():
    for points, name in NAMES.items():
        expected = np.arange(points)
        for a, b in MATCHED_PARTS[name]:
            a, b = (a, b) if name == "WFLW" else (a - 1, b - 1)
            expected[a], expected[b] = b, a
        assert list(scheme_for_points(points).flip_permutation) == expected.tolist(), name


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """WFLW faces in the files' frame; the first so large that crop() shrinks the whole image first."""
    return make_faces("wflw", tmp_path_factory.mktemp("hrnet-train"), 4, seed=11)


def ours(face, seed: int):
    where = preprocess.from_landmarks(face["gt"])
    draws = recipe.draw(random.Random(seed))
    image = np.array(Image.open(face["image"]).convert("RGB"), dtype=np.float32)
    return draws, recipe.training_example(image, face["gt"], where, draws, scheme_for_points(98).flip_permutation)


def theirs(face, seed: int):
    where = preprocess.from_landmarks(face["gt"])
    random.seed(seed)
    image = np.array(Image.open(face["image"]).convert("RGB"), dtype=np.float32)
    return get_item(image, face["gt"].copy(), where.scale, where.centre_w, where.centre_h)


def test_training_crops_and_heatmaps_equal_the_originals(faces):
    flips = rotations = 0
    for seed in range(24):
        face = faces[seed % len(faces)]
        draws, (x, heatmaps) = ours(face, seed)
        their_x, their_heatmaps, rotation = theirs(face, seed)
        assert draws.rotation == rotation
        flips, rotations = flips + draws.flip, rotations + (draws.rotation != 0)
        assert torch.equal(x, their_x), (seed, draws)
        assert torch.equal(heatmaps, their_heatmaps), (seed, draws)
        assert heatmaps.amax(dim=(1, 2)).max() == 1  # a Gaussian peaking 1 at some landmark
    assert 3 < flips < 21 and 3 < rotations < 21  # flipped and not, rotated and not


def nets(seed: int) -> tuple[HRNetFace, HighResolutionNet]:
    """Ours and HRNet-Facial's network with the same weights (drawn as init_weights draws them, in the
    original's module order)."""
    original = HighResolutionNet(98)
    torch.manual_seed(seed)
    init_weights(original)
    state = {k: v.clone() for k, v in original.state_dict().items()}
    state.update(random_weights(original, seed, gain=1.0))  # BatchNorm statistics and biases not all zero
    original.load_state_dict(state)
    mine = load_checked(HRNetFace(98), to_module_keys(state, "hrnet-facial"), "test", "HRNet", "HRNet")
    return mine, original


def batch(faces, seeds) -> tuple[torch.Tensor, torch.Tensor]:
    items = [theirs(faces[s % len(faces)], s)[:2] for s in seeds]
    return torch.stack([i[0] for i in items]), torch.stack([i[1] for i in items])


def test_init_weights_draws_every_convolution_from_n_0_0001():
    net = HRNetFace(98)
    recipe.init_weights(net)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) > 100 and all(abs(float(c.weight.detach().std()) - 0.001) < 0.0005 for c in convs if c.weight.numel() > 500)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(torch.equal(n.weight, torch.ones_like(n.weight)) and n.bias.abs().max() == 0 for n in norms)


def test_loss_and_parameters_after_one_and_ten_steps_equal_the_originals(faces):
    mine, original = nets(seed=4)
    mine.train()
    original.train()
    adam = recipe.optimiser(mine)
    their_adam = torch.optim.Adam(filter(lambda p: p.requires_grad, original.parameters()), lr=1e-4)
    keys = to_module_keys(dict.fromkeys(original.state_dict()), "hrnet-facial")
    for step in range(10):
        x, heatmaps = batch(faces, range(2 * step, 2 * step + 2))
        total, _ = recipe.loss(mine(x), heatmaps)
        adam.zero_grad()
        total.backward()
        adam.step()
        their_loss = train_step(original, x, heatmaps, their_adam)
        assert total.item() == pytest.approx(their_loss, rel=1e-5), step
        if step in (0, 9):
            theirs_state = original.state_dict()
            mine_state = mine.state_dict()
            for theirs_key, mine_key in zip(theirs_state, keys, strict=True):
                torch.testing.assert_close(mine_state[mine_key], theirs_state[theirs_key], rtol=1e-4, atol=1e-6,
                                           msg=f"{theirs_key} after {step + 1} step(s)")


def test_learning_rate_over_sixty_epochs_equals_the_originals():
    rates = [recipe.learning_rate(epoch) for epoch in range(60)]
    assert rates == pytorch10_multistep_rates()
    # the same as today's MultiStepLR stepped after each epoch
    net = torch.nn.Linear(1, 1)
    adam = torch.optim.Adam(net.parameters(), lr=1e-4)
    schedule = torch.optim.lr_scheduler.MultiStepLR(adam, [30, 50], 0.1)
    modern = []
    for _ in range(60):
        modern.append(adam.param_groups[0]["lr"])
        adam.step()
        schedule.step()
    assert rates == modern and rates[29] == 1e-4 and rates[30] < 1e-4 and rates[50] < rates[49]
