"""3FabRec trains as the original: its flip, its SSIM constants, its last batch, its per-epoch GAN schedule.

Each rule is pinned against the original's computation written out step by step in tests/original_3fabrec.py
(that port was checked against the original code itself, run beside this project: see docs/measurements.md).
Training steps are compared from one state: before every step the reference's weights, BatchNorm buffers and
optimiser states are copied into ours, so each step is judged on its own. Free-running comparisons of stage 1
are not meaningful: Adam with beta1 = 0 steps by about lr * sign(gradient), so rounding differences in
near-zero gradients compound (our own trainer on 1 thread against 2 threads drifts as far in six steps).
"""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from original_3fabrec import (
    OriginalStage1,
    OriginalStage2,
    original_affine_matrix,
    original_augment,
    original_batch_sizes,
    original_flip,
    original_flip_map,
    original_heatmaps,
    original_loss_struct,
)

from fabrec_bench.faces.augment import PRESETS, AugmentSettings, flip_landmarks, random_affine
from fabrec_bench.faces.crops import roi_size_for, to_crop
from fabrec_bench.faces.facedata import FaceCrops, uncached_crop
from fabrec_bench.schemes import AFLW19, IBUG68, WFLW98
from fabrec_bench.torch_helpers.torchdata import normalise
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB
from fabrec_bench_plugins.models.fabrec.losses import contrast_structure_loss
from fabrec_bench_plugins.models.fabrec.networks import Fabrec
from fabrec_bench_plugins.models.fabrec.training import AutoencoderTrainer, LandmarkTrainer

WFLW_EXTENSION = (0.0, 0.1)


def drawn(crops: FaceCrops, index: int) -> tuple[bool, tuple]:
    """The augmentation FaceCrops draws for one item, as the original's parameters (flip, then angle,
    translations, scales, shear): the same random stream, read in the same order."""
    s = crops.augment
    rng = np.random.default_rng([crops.seed, crops.epoch, index])
    flip = bool(rng.random() < s.flip)
    angle = rng.uniform(-s.rotation, s.rotation)
    sx, sy = rng.uniform(*s.scale, size=2)
    shear = rng.uniform(-s.shear, s.shear)
    tx, ty = np.round(rng.uniform(-s.translation, s.translation, 2) * roi_size_for(crops.input_size))
    return flip, (angle, (tx, ty), (sx, sy), shear)


def original_item(crops: FaceCrops, index: int) -> tuple[np.ndarray, np.ndarray]:
    """The original's training sample for the same face and draw: its ROI crop, landmarks mapped into it,
    then the flip, the affine and the centre crop."""
    sample = crops.samples[index]
    roi_image, matrix = uncached_crop(sample, crops.settings)
    flip, affine = drawn(crops, index)
    return original_augment(roi_image, to_crop(sample.landmarks_px, matrix), flip, affine, crops.input_size)


@pytest.fixture(scope="module")
def wflw_faces(tmp_path_factory):
    from fabrec_bench.synth.wflw import write_wflw

    root = tmp_path_factory.mktemp("fidelity") / "WFLW"
    write_wflw(root, n_train=6, n_test=8, seed=11)
    return WFLWDataset().load_split(root, "test").samples


# -- 1. the flip ------------------------------------------------------------------------------------------


def test_random_affine_turns_about_the_originals_centre():
    """RandomAffine about img_size / 2 with skimage's pre-0.21 shear (what the paper's training ran)."""
    settings = PRESETS[4]
    for seed in range(5):
        ours = random_affine(np.random.default_rng(seed), settings, 363)
        rng = np.random.default_rng(seed)
        angle = rng.uniform(-45, 45)
        sx, sy = rng.uniform(*settings.scale, size=2)
        shear = rng.uniform(-5, 5)
        t = np.round(rng.uniform(-0.035, 0.035, 2) * 363)
        assert np.allclose(ours, original_affine_matrix(angle, t, (sx, sy), shear, 363)[:2], atol=1e-12)


@pytest.mark.parametrize("daug", [0, 4, 6])
def test_flipped_training_crops_equal_the_originals(wflw_faces, daug):
    crops = FaceCrops(wflw_faces, WFLW98, input_size=256, augment=replace(PRESETS[daug], flip=1.0),
                      extension=WFLW_EXTENSION, rule="3fabrec", flip_rule="original")
    pixel = FaceCrops(wflw_faces, WFLW98, input_size=256, augment=replace(PRESETS[daug], flip=1.0),
                      extension=WFLW_EXTENSION, rule="3fabrec", flip_rule="pixel")
    for i in range(len(wflw_faces)):
        image, landmarks, _ = crops.item(i)
        expected_image, expected = original_item(crops, i)
        assert np.abs(landmarks - expected).max() < 1e-4  # the original's landmarks are float32
        # One cubic warp of the ROI against the original's flip, warp and slice: OpenCV's fixed-point
        # interpolation may round a few pixels differently.
        assert np.abs(image.astype(int) - expected_image.astype(int)).mean() < 0.05
        # `pixel` mirrors the landmarks with the image; the original's are one ROI pixel further right, which
        # the affine then carries: the difference is the affine's first column (exactly (1, 0) at daug 0).
        _, pixel_landmarks, _ = pixel.item(i)
        column = original_affine_matrix(*drawn(crops, i)[1], 363)[:2, 0]
        inside = (expected > 0).all(axis=1) & (pixel_landmarks > 0).all(axis=1)  # not clamped at 0
        assert inside.sum() > 90
        assert np.allclose(expected[inside] - pixel_landmarks[inside], column, atol=1e-4)


@pytest.mark.parametrize("scheme", [WFLW98, IBUG68, AFLW19])
def test_the_original_flip_rule_mirrors_only_points_right_of_zero(scheme):
    points = np.random.default_rng(2).uniform(-20, 380, (scheme.num_points, 2)).astype(np.float32)
    points[0, 0], points[1, 0] = 0.0, -4.0  # x <= 0: the original leaves these in place (then permutes)
    image = np.zeros((363, 363, 3), np.uint8)
    _, expected = original_flip(image, points)
    assert np.allclose(flip_landmarks(points, 363, scheme.flip_permutation, "original"), expected, atol=1e-5)
    assert [original_flip_map(scheme.num_points)[i] for i in range(scheme.num_points)] == list(scheme.flip_permutation)
    pixel = flip_landmarks(points, 363, scheme.flip_permutation, "pixel")
    assert np.allclose(pixel[:, 0], 362.0 - points[list(scheme.flip_permutation), 0])


def test_3fabrec_trains_with_the_original_flip_by_default_and_records_it():
    from fabrec_bench.errors import UserError
    from fabrec_bench.plugins import get_registry
    from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel

    assert FabrecOptions().flip_rule == "original"
    model = FabrecModel(WFLW98, FabrecOptions(input_size=128), "cpu")
    assert model._crops([], augment=PRESETS[0]).flip_rule == "original"
    assert model.describe()["flip_rule"] == "original"
    with pytest.raises(UserError, match="option flip_rule = 'mirror' must be one of original, pixel"):
        get_registry().model("3fabrec").make_options({"flip_rule": "mirror"})


# -- 2. SSIM constants per image -------------------------------------------------------------------------


def test_the_ssim_constants_come_from_each_images_own_range(monkeypatch):
    from fabrec_bench_plugins.models.fabrec import losses

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 64, 64, generator=gen) * 0.9 - 0.4  # within [-0.4, 0.5]: L = 1
    x[1] -= 0.3  # reaches below -0.5: L = 2 for this image only
    recon = (x + 0.05 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    expected = original_loss_struct(x, recon)
    assert contrast_structure_loss(x, recon).item() == pytest.approx(expected.item(), rel=1e-6)
    assert losses.value_range(x).tolist() == [1.0, 2.0, 1.0, 1.0]
    # One range for the whole batch (what fabrec-bench did: L = 2 once any image reaches below -0.5) is
    # another loss on such a batch.
    monkeypatch.setattr(losses, "value_range", lambda images: torch.full((len(images),), 2.0))
    assert contrast_structure_loss(x, recon).item() != pytest.approx(expected.item(), rel=1e-2)


# -- 3. the last batch of stage 2 ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(("faces", "batch_size"), [(14, 4), (8, 16)])
def test_stage2_drops_the_last_partial_batch_but_never_trains_on_nothing(synthetic_wflw, tmp_path, faces, batch_size):
    from fabrec_bench.runs import RunRequest, TrainingPlan, run_one

    outcome = run_one(RunRequest(model="3fabrec", dataset="wflw", splits=("blur",), data_root=synthetic_wflw,
                                 training=TrainingPlan(count=faces), device="cpu",
                                 model_options={"init": "scratch", "input_size": 128, "epochs": 2,
                                                "batch_size": batch_size, "eval_batch_size": 8, "precision": "fp32"}),
                      tmp_path / "w")
    info = json.loads((outcome.run_dir / "train_info.json").read_text())
    expected = original_batch_sizes(faces, batch_size) or [faces]  # the original: 14 / 4 -> 3 batches of 4
    assert info["iterations"] == 2 * len(expected) and info["last_partial_batch"] == "dropped"


def test_models_info_says_how_stage2_batches_are_made(cli):
    result = cli("models", "info", "3fabrec")
    assert result.exit_code == 0
    assert "last partial batch of every epoch is dropped" in result.output
    assert "all faces form one batch" in result.output


# -- 4. the stage-1 schedule restarts every epoch --------------------------------------------------------


@pytest.mark.slow
def test_stage1_schedules_count_within_each_epoch(synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:9]  # 3 batches of 3 per epoch
    train_autoencoder(samples, WFLW98, tmp_path / "ae", input_size=128, epochs=2, batch_size=3, preset="recon+gan",
                      device="cpu", precision="fp32", keep_every=0, daug=0)
    rows = list(csv.DictReader(open(tmp_path / "ae/stage1_loss_epochs_1-2.csv")))
    d_z = [i for i, r in enumerate(rows) if r["d_z"]]
    d_img = [i for i, r in enumerate(rows) if r["d_img"]]
    assert len(rows) == 6 and d_z == [0, 3] and d_img == [0, 2, 3, 5]  # a global counter gives [0, 4], [0, 2, 4]


def _same_state(reference, ref_optimizers, net, optimizers) -> None:
    """Ours takes the reference's weights, BatchNorm buffers and optimiser states (same module layout)."""
    net.load_state_dict(reference.state_dict())
    for ref, ours in zip(ref_optimizers, optimizers, strict=True):
        ours.load_state_dict(copy.deepcopy(ref.state_dict()))


def _update_difference(before: dict, reference, net) -> float:
    """||our update - the reference's|| / ||the reference's update|| over all parameters."""
    ref, ours = dict(reference.named_parameters()), dict(net.named_parameters())
    diff = sum(((ours[k] - before[k]) - (ref[k] - before[k])).pow(2).sum() for k in before)
    norm = sum((ref[k] - before[k]).pow(2).sum() for k in before)
    return float((diff / norm).sqrt().detach())


@pytest.mark.slow
def test_stage1_steps_equal_the_originals_across_an_epoch_boundary():
    torch.manual_seed(0)
    reference_net = Fabrec(98, 128)
    net = copy.deepcopy(reference_net)
    reference = OriginalStage1(reference_net, with_gan=True, with_ssim=True)
    ours = AutoencoderTrainer(net, with_gan=True, with_ssim=True)
    gen = torch.Generator().manual_seed(1)
    step, d_z_steps = 0, []
    for _epoch in range(2):  # three batches per epoch: the second starts at overall iteration 3
        reference.start_epoch()
        ours.start_epoch()
        for _ in range(3):
            x = torch.rand(3, 3, 128, 128, generator=gen) - 0.45
            x[0] -= 0.3  # one image reaches below -0.5: the batch mixes SSIM ranges
            _same_state(reference_net, [reference.optimizer_E, reference.optimizer_G, reference.optimizer_D_z,
                                        reference.optimizer_D], net, [ours.opt_q, ours.opt_p, ours.opt_dz, ours.opt_d])
            before = {k: v.detach().clone() for k, v in reference_net.named_parameters()}
            torch.manual_seed(100 + step)  # the latent prior's draws and D_z's dropout come in the same order
            expected = reference.run_batch(x.clone())
            torch.manual_seed(100 + step)
            got = ours.step(x.clone())
            assert set(got) == set(expected), f"step {step}: schedules differ"
            for key, value in expected.items():
                assert got[key] == pytest.approx(value, rel=1e-5), (step, key)
            assert _update_difference(before, reference_net, net) < 1e-2, step
            if "d_z" in got:
                d_z_steps.append(step)
            step += 1
    assert d_z_steps == [0, 3]  # every 4th iteration of each epoch


@pytest.mark.slow
@pytest.mark.parametrize("train_encoder", [False, True])
def test_stage2_steps_equal_the_originals_on_flipped_crops(wflw_faces, train_encoder):
    torch.manual_seed(0)
    reference_net = Fabrec(98, 128)
    net = copy.deepcopy(reference_net)
    reference = OriginalStage2(reference_net, train_encoder=train_encoder)
    ours = LandmarkTrainer(net, train_encoder=train_encoder)
    crops = FaceCrops(wflw_faces, WFLW98, input_size=128, augment=replace(PRESETS[6], flip=0.5),
                      extension=WFLW_EXTENSION, rule="3fabrec", flip_rule="original", seed=4)
    assert any(drawn(crops, i)[0] for i in range(4)) and not all(drawn(crops, i)[0] for i in range(4))
    for epoch in range(2):
        crops.set_epoch(epoch)
        for start in (0, 4):
            items = [crops.item(i) for i in range(start, start + 4)]
            originals = [original_item(crops, i) for i in range(start, start + 4)]
            # Identical batches of images; each side's landmarks from its own pipeline.
            images = normalise(torch.from_numpy(np.stack([o[0] for o in originals])), mean_rgb=IMAGE_MEAN_RGB)
            targets = torch.from_numpy(np.stack([original_heatmaps(o[1], 128) for o in originals]))
            landmarks = torch.from_numpy(np.stack([item[1] for item in items]).astype(np.float32))
            _same_state(reference_net, [reference.optimizer_lm_head, reference.optimizer_E][:1 + train_encoder], net,
                        list(ours.optimizers().values()))
            before = {k: v.detach().clone() for k, v in reference_net.named_parameters()}
            expected = reference.run_batch(images.clone(), targets)
            got = ours.step(images.clone(), landmarks)
            assert got["heatmap_mse_x300"] == pytest.approx(expected["heatmap_mse_x300"], rel=1e-5)
            assert _update_difference(before, reference_net, net) < 1e-3


def test_stage2_targets_of_the_pixel_rule_would_differ(wflw_faces):
    """The rule matters: the targets of a flipped crop under `pixel` are a heatmap pixel off somewhere."""
    from fabrec_bench_plugins.models.fabrec.heatmaps import render_targets

    settings = AugmentSettings(flip=1.0)
    orig = FaceCrops(wflw_faces[:2], WFLW98, input_size=128, augment=settings, rule="3fabrec", flip_rule="original")
    pixel = FaceCrops(wflw_faces[:2], WFLW98, input_size=128, augment=settings, rule="3fabrec", flip_rule="pixel")
    a = render_targets(torch.from_numpy(orig.item(0)[1][None].astype(np.float32)), 128)
    b = render_targets(torch.from_numpy(pixel.item(0)[1][None].astype(np.float32)), 128)
    assert not torch.equal(a, b)


# -- states and checkpoints written before these rules ---------------------------------------------------


@pytest.mark.slow
def test_a_stage2_resume_state_from_before_the_rules_is_continued_and_said_so(synthetic_wflw, tmp_path):
    """A matrix cell interrupted under the earlier rules (pixel flip, last batch kept) goes on from its saved
    epoch instead of starting over; the history says how many epochs the earlier rules trained."""
    from fabrec_bench.models import RunContext
    from fabrec_bench.options import as_dict
    from fabrec_bench.torch_helpers.distributed import World
    from fabrec_bench.torch_helpers.loop import Curve
    from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel
    from fabrec_bench_plugins.models.fabrec.resume import stage2_state

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:6]
    options = FabrecOptions(init="scratch", input_size=128, epochs=2, batch_size=3, precision="fp32")
    earlier = {k: v for k, v in as_dict(options).items() if k != "flip_rule"}  # the identity such a state was saved under
    torch.manual_seed(0)
    net = Fabrec(98, 128)
    trainer = LandmarkTrainer(net, scratch=True)
    trainer.iteration = 2  # the first epoch's batches
    stage2_state(tmp_path / "resume", earlier, samples, 0, World()).save(net, trainer, Curve(), 1, force=True)

    context = RunContext(device="cpu", seed=0, run_dir=tmp_path / "run", resume_dir=tmp_path / "resume")
    model = FabrecModel(WFLW98, options, context)
    with pytest.warns(UserWarning, match="written by an earlier fabrec-bench; its 1 epoch"):
        history = model.train(samples)
    assert history["resumed_from_epoch"] == 1 and history["epochs_under_earlier_rules"] == 1
    assert history["iterations"] == 4  # 2 per epoch, the first epoch's counted in the saved state
    # A state of another configuration is still not continued.
    stage2_state(tmp_path / "other", {**earlier, "lr_heatmaps": 0.5}, samples, 0, World()).save(
        net, trainer, Curve(), 1, force=True)
    again = FabrecModel(WFLW98, options, replace(context, resume_dir=tmp_path / "other"))
    assert again.train(samples)["resumed_from_epoch"] == 0


@pytest.mark.slow
def test_a_128px_autoencoder_of_the_earlier_layout_resumes_in_its_layout(synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder
    from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint, save_checkpoint

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:4]
    (tmp_path / "ae").mkdir()
    save_checkpoint(tmp_path / "ae/latest.pt", Fabrec(98, 128, layer1_downsample=True),
                    {"stage": "autoencoder", "epoch": 1, "iteration": 2, "input_size": 128})
    with pytest.warns(UserWarning, match="continuing the weights of epoch 1"):  # no optimiser file beside it
        summary = train_autoencoder(samples, WFLW98, tmp_path / "ae", input_size=128, epochs=2, batch_size=2,
                                    device="cpu", precision="fp32", keep_every=0)
    state, meta = read_checkpoint(tmp_path / "ae/latest.pt")
    assert summary["epoch"] == 2 and meta["epoch"] == 2 and "Q.layer1.0.downsample.0.weight" in state
