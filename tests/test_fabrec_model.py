"""3FabRec: exact architecture, heatmaps and decoding, safe checkpoints, released-snapshot import, training."""

import json
import pickle
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.models import RunContext
from fabrec_bench.plugins import get_registry
from fabrec_bench.schemes import WFLW98
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint
from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions
from fabrec_bench_plugins.models.fabrec.heatmaps import decode, render_targets
from fabrec_bench_plugins.models.fabrec.model import FabrecModel
from fabrec_bench_plugins.models.fabrec.networks import Fabrec, count_parameters

SPEC = Path(__file__).resolve().parents[2] / "shared" / "docs" / "3fabrec.md"


@pytest.mark.parametrize("points", [19, 68, 98])
def test_parameter_counts_at_256_equal_the_published_ones(points):
    net = Fabrec(points, 256)
    counts = {name: count_parameters(getattr(net, name)) for name in ("Q", "P", "D_z", "D", "LMH")}
    assert counts == {"Q": 11_379_491, "P": 10_868_096, "D_z": 1_102_001, "D": 1_743_744,
                      "LMH": 811_008 + 1_024 * points}


def test_parameter_counts_at_128_follow_the_reference_layout():
    # The reference's 128-px encoder has no layer0 and builds layer1 at stride 1 without a 1x1 downsample
    # (networks/resnet_ae.py: `_make_layer(block, 64, layers[0])` with inplanes == planes); the counts below
    # are what the original code's AAE(128) gives.
    net = Fabrec(98, 128)
    assert count_parameters(net.Q) == 11_227_299 and count_parameters(net.P) == 10_699_776
    assert "Q.layer1.0.downsample.0.weight" not in net.state_dict() and "Q.layer0.0.conv1.weight" not in net.state_dict()


def test_128_px_checkpoints_of_the_earlier_layout_still_load_and_predict_the_same(tmp_path):
    """fabrec-bench's 128-px encoders had a layer1 downsample until it followed the reference there: such a
    checkpoint loads into its own layout (never into the new one with weights dropped)."""
    from fabrec_bench_plugins.models.fabrec.checkpoints import load_weights, save_checkpoint

    torch.manual_seed(3)
    old = Fabrec(98, 128, layer1_downsample=True).eval()
    assert count_parameters(old.Q) == 11_231_523  # the earlier count
    save_checkpoint(tmp_path / "old.pt", old, {"stage": "landmarks", "scheme": "wflw98", "num_points": 98,
                                               "input_size": 128, "config": {"crop_rule": "3fabrec"}})
    model = FabrecModel.load(tmp_path / "old.pt", "cpu")
    assert "Q.layer1.0.downsample.0.weight" in model.net.state_dict()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        assert torch.equal(model.net.eval().heatmaps(x), old.heatmaps(x))
    with pytest.raises(UserError, match="no place for, e.g. Q.layer1.0.downsample"):
        load_weights(Fabrec(98, 128), read_checkpoint(tmp_path / "old.pt")[0], tmp_path / "old.pt", head=True)


def test_state_dict_keys_match_the_reference_snapshots():
    keys = Fabrec(98, 256).state_dict()
    assert len(keys) == 288
    assert tuple(keys["Q.layer1.0.downsample.0.weight"].shape) == (64, 64, 1, 1)
    assert tuple(keys["P.layer1.0.upsample.0.weight"].shape) == (512, 256, 4, 4)
    assert tuple(keys["LMH.lin.weight"].shape) == (64, 98, 4, 4)
    assert tuple(keys["D.main.14.weight"].shape) == (1, 256, 4, 4)
    if SPEC.is_file():  # the full list in the specification, when it is beside the checkout
        listed = SPEC.read_text().split("```")[-2].strip().splitlines()
        reference = {line.split(" ", 1)[0]: line.split(" ", 1)[1].replace(" ", "") for line in listed}
        assert reference == {k: str(tuple(v.shape)).replace(" ", "") for k, v in keys.items()}


def test_landmark_inference_skips_the_reconstruction():
    net = Fabrec(98, 128).eval()
    called = []
    net.P.lin.register_forward_hook(lambda *a: called.append("lin"))
    with torch.no_grad():
        heatmaps = net.heatmaps(torch.randn(2, 3, 128, 128))
    assert heatmaps.shape == (2, 98, 128, 128) and called == []


def test_targets_have_peak_one_at_the_rounded_position_in_a_35_pixel_window():
    landmarks = torch.tensor([[[100.0, 60.0], [31.0, 200.4], [300.0, -50.0]]])  # 256 crop pixels
    t = render_targets(landmarks, 256)
    assert t.shape == (1, 3, 128, 128)
    y, x = divmod(int(t[0, 0].argmax()), 128)
    assert (x, y) == (50, 30) and t[0, 0, 30, 50] == 1.0
    y, x = divmod(int(t[0, 1].argmax()), 128)
    assert (x, y) == (16, 100)  # 15.5 rounds half up
    assert int((t[0, 0] > 0).sum()) == 35 * 35
    assert t[0, 0, 30, 50 + 7].item() == pytest.approx(np.exp(-0.5), rel=1e-6)  # sigma = 7 heatmap pixels
    assert t[0, 0, 30, 50 + 18] == 0  # truncated outside the window
    assert t[0, 2].max() == 0  # a window entirely outside the map is skipped


def test_decoding_is_batched_and_inverts_the_targets():
    rng = np.random.default_rng(0)
    landmarks = torch.tensor(rng.integers(36, 230, (4, 98, 2)) // 2 * 2, dtype=torch.float32)
    decoded = decode(render_targets(landmarks, 256), 256)
    assert torch.equal(decoded, landmarks)  # even pixels survive the half-resolution round trip exactly


def test_targets_near_the_top_left_border_move_one_pixel_in_as_the_originals_do():
    """The original places the 35-pixel window at int(p - 17.5), truncated towards zero: within 17.5 heatmap
    pixels of the top/left border that is one pixel further in than rounding (landmarks/lmutils.py)."""
    landmarks = torch.tensor([[[10.0, 100.0], [100.0, 0.0], [33.0, 35.0], [36.0, 37.0]]])  # 256 crop pixels
    t = render_targets(landmarks, 256)
    peaks = [divmod(int(t[0, i].argmax()), 128)[::-1] for i in range(4)]
    # x 5 (heatmap) -> int(-12.5) + 18 = 6; y 0 -> int(-17.5) + 18 = 1; 16.5 -> 17, 17.5 -> 18; 18 and 18.5 -> 18, 19
    assert peaks == [(6, 50), (50, 1), (17, 18), (18, 19)]
    # The window reaches 18 pixels before the peak and 16 after it.
    row = t[0, 0, 50]
    assert row[6 + 16] > 0 and row[6 + 17] == 0
    far = render_targets(torch.tensor([[[100.0, 100.0]]]), 256)[0, 0, 50]
    assert far[50 - 18] > 0 and far[50 - 19] == 0 and far[50 + 16] > 0 and far[50 + 17] == 0


def test_decoding_matches_the_reference_cv2_blur_and_argmax_per_map():
    import cv2

    from fabrec_bench_plugins.models.fabrec.heatmaps import smooth

    rng = np.random.default_rng(2)
    # More maps than one CPU block (so block edges are crossed), smooth peaks on noise, as a head outputs.
    landmarks = torch.tensor(rng.uniform(-10, 266, (3, 98, 2)), dtype=torch.float32)
    maps = render_targets(landmarks, 256) + 0.05 * torch.tensor(rng.standard_normal((3, 98, 128, 128)),
                                                                  dtype=torch.float32)
    maps = maps.contiguous(memory_format=torch.channels_last)  # what the network returns
    blurred = smooth(maps).numpy()
    decoded = decode(maps, 256).numpy()
    for i in range(3):
        for j in range(98):
            ref = cv2.blur(maps[i, j].numpy(), (9, 9), borderType=cv2.BORDER_CONSTANT)
            assert np.abs(blurred[i, j] - ref).max() < 1e-5
            y, x = np.unravel_index(ref.argmax(), ref.shape)
            assert tuple(decoded[i, j]) == (2 * x, 2 * y)


def test_quarter_pixel_refinement_reduces_the_rounding_error():
    rng = np.random.default_rng(1)
    landmarks = torch.tensor(rng.uniform(30, 220, (8, 98, 2)), dtype=torch.float32)
    heatmaps = render_targets(landmarks, 256, sigma=7.0)
    # A continuous Gaussian centred at the true position, as a well-trained head would output.
    grid = torch.arange(128.0)
    p = landmarks / 2
    smooth = torch.exp(-((grid.view(1, 1, 1, -1) - p[..., 0, None, None]) ** 2
                         + (grid.view(1, 1, -1, 1) - p[..., 1, None, None]) ** 2) / (2 * 49))
    err_argmax = (decode(smooth, 256) - landmarks).norm(dim=-1).mean()
    err_quarter = (decode(smooth, 256, "quarter") - landmarks).norm(dim=-1).mean()
    assert err_quarter < err_argmax
    assert heatmaps.shape == smooth.shape


def tiny_model(run_dir=None, **options) -> FabrecModel:
    return FabrecModel(WFLW98, FabrecOptions(**{"input_size": 128, "eval_batch_size": 4, **options}),
                       RunContext(device="cpu", seed=0, run_dir=run_dir))


def test_checkpoint_round_trip_gives_identical_predictions(synthetic_wflw, tmp_path):
    samples = WFLWDataset().load_split(synthetic_wflw, "test").samples[:3]
    model = tiny_model(precision="fp32")
    model.save(tmp_path / "m.pt")
    again = FabrecModel.load(tmp_path / "m.pt", "cpu")
    assert np.array_equal(model.predict(samples), again.predict(samples))
    assert again.describe()["decoding"] == "argmax"


def test_checkpoints_never_unpickle_arbitrary_objects(tmp_path):
    class Exploit:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps({"format": "fabrec-bench/3fabrec/1", "payload": Exploit()}))
    with pytest.raises(UserError, match="refused: it holds Python objects|not a readable fabrec-bench checkpoint"):
        read_checkpoint(bad)
    assert not (tmp_path / "pwned").exists()


def test_released_snapshot_folder_imports(synthetic_wflw, tmp_path):
    samples = WFLWDataset().load_split(synthetic_wflw, "test").samples[:2]
    source = tiny_model(precision="fp32")
    snapshot = tmp_path / "lms_wflw"
    snapshot.mkdir()
    torch.save({"arch": "ResNet", "z_dim": 99, "input_size": 128, "state_dict": source.net.state_dict()},
               snapshot / "saae.mdl")
    (snapshot / "meta.json").write_text(json.dumps({"epoch": 150, "total_iter": 2589834}))
    imported = FabrecModel.load(snapshot, "cpu")
    imported.options = replace(imported.options, precision="fp32")
    assert imported.scheme.num_points == 98
    assert np.array_equal(imported.predict(samples), source.predict(samples))


def test_a_checkpoint_for_another_scheme_is_refused(tmp_path):
    tiny_model().save(tmp_path / "wflw.pt")
    from fabrec_bench.schemes import IBUG68
    from fabrec_bench_plugins.models.fabrec.checkpoints import load_weights

    with pytest.raises(UserError, match="LMH.lin.weight has shape"):
        load_weights(Fabrec(IBUG68.num_points, 128), read_checkpoint(tmp_path / "wflw.pt")[0],
                     tmp_path / "wflw.pt", head=True)


def test_stage2_learns_and_any_train_count_works(synthetic_wflw, tmp_path):
    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples
    model = tiny_model(tmp_path, init="scratch", epochs=3, batch_size=40, lr_heatmaps=1e-3, images_per_epoch_grid=2)
    info = model.train(samples[:1])  # N = 1 with batch size 40: one image per batch
    assert info["iterations"] == 3 and (tmp_path / "stage2_loss.csv").is_file()
    assert (tmp_path / "stage2_loss.png").is_file()
    assert sorted(p.name for p in tmp_path.glob("stage2_landmarks_epoch_*.png")) == [
        "stage2_landmarks_epoch_0001.png", "stage2_landmarks_epoch_0002.png", "stage2_landmarks_epoch_0003.png"]
    model = tiny_model(tmp_path, init="scratch", epochs=4, batch_size=8)
    model.train(samples[:8])
    rows = (tmp_path / "stage2_loss.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[-1]) for r in rows]
    assert losses[-1] < losses[0]


def test_autoencoder_snapshots_resume_and_grids(synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:6]
    first = train_autoencoder(samples, WFLW98, tmp_path / "ae", input_size=128, epochs=1, batch_size=3,
                              preset="recon+gan+ssim", lr=1e-3, device="cpu", precision="fp32", keep_every=1)
    assert first["epoch"] == 1 and (tmp_path / "ae/epoch_001.pt").is_file()
    # The original's four pictures per epoch: 6 faces (the fixed batch), 128 px each.
    shapes = {"reconstructions": (256, 768), "random": (128, 768), "interpolations": (384, 1024),
              "ssim_errors": (256, 768)}
    for name, shape in shapes.items():
        picture = cv2.imread(str(tmp_path / f"ae/{name}_epoch_001.png"))
        assert picture is not None and picture.shape[:2] == shape, name
    second = train_autoencoder(samples, WFLW98, tmp_path / "ae", input_size=128, epochs=2, batch_size=3,
                               preset="recon+gan+ssim", lr=1e-3, device="cpu", precision="fp32", keep_every=1)
    assert second["epoch"] == 2 and read_checkpoint(tmp_path / "ae/latest.pt")[1]["iteration"] == 4


def test_autoencoder_keeps_latest_and_every_kth_snapshot_only(synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:4]
    train_autoencoder(samples, WFLW98, tmp_path / "ae", input_size=128, epochs=5, batch_size=4, device="cpu",
                      precision="fp32", keep_every=2)
    assert sorted(p.name for p in (tmp_path / "ae").glob("*.pt")) == ["epoch_002.pt", "epoch_004.pt", "latest.optim.pt",
                                                                      "latest.pt"]
    assert read_checkpoint(tmp_path / "ae/latest.pt")[1]["epoch"] == 5
    with pytest.raises(UserError, match="keep_every"):
        train_autoencoder(samples, WFLW98, tmp_path / "ae2", input_size=128, epochs=1, device="cpu", keep_every=-1)


def test_3fabrec_is_registered_with_its_config():
    spec = get_registry().model("3fabrec")
    defaults = spec.describe()["default_config"]
    assert defaults["decoding"] == "argmax" and defaults["input_size"] == 256
    assert spec.capabilities.precisions == ("fp32", "bf16", "fp16") and spec.capabilities.pretraining


def test_contrast_structure_loss_is_the_windowed_ssim_cs_term():
    import torch.nn.functional as F

    from fabrec_bench_plugins.models.fabrec.losses import contrast_structure_loss

    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 48, 48, generator=gen) * 1.2 - 0.6  # reaches below -0.5: the reference guesses L = 2
    y = (x + 0.1 * torch.randn(2, 3, 48, 48, generator=gen)).clamp(-0.6, 0.6)
    # Direct definition: full 31 x 31 Gaussian window (sigma 1.5), valid convolution, C2 = (0.03 * 2)^2.
    g = torch.exp(-(torch.arange(31.0) - 15) ** 2 / (2 * 1.5 ** 2))
    w = (torch.outer(g, g) / g.sum() ** 2).expand(3, 1, 31, 31)

    def filt(t):
        return F.conv2d(t, w, groups=3)

    mx, my = filt(x), filt(y)
    sxx, syy, sxy = filt(x * x) - mx ** 2, filt(y * y) - my ** 2, filt(x * y) - mx * my
    c2 = (0.03 * 2) ** 2
    expected = 1 - ((2 * sxy + c2) / (sxx + syy + c2)).mean()
    assert contrast_structure_loss(x, y).item() == pytest.approx(expected.item(), abs=1e-5)
    assert contrast_structure_loss(x, x).item() == pytest.approx(0.0, abs=1e-5)
    # No luminance term: a brightness shift of the reconstruction changes nothing.
    assert contrast_structure_loss(x, y + 0.05).item() == pytest.approx(contrast_structure_loss(x, y).item(), abs=1e-5)
    # Under bf16 autocast with channels-last images (as stage 1 runs on CPUs) it is still the float32 value.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = contrast_structure_loss(x.contiguous(memory_format=torch.channels_last),
                                        y.contiguous(memory_format=torch.channels_last))
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(contrast_structure_loss(x, y).item(), abs=1e-6)


def test_autoencoder_show_draws_a_finished_autoencoder(cli, synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    save_checkpoint(tmp_path / "ae.pt", Fabrec(98, 128), {"stage": "autoencoder", "input_size": 128})
    result = cli("autoencoder-show", tmp_path / "ae.pt", "-d", "wflw", "--data-root", synthetic_wflw, "--count", "4",
                 "-o", tmp_path / "pics", "--device", "cpu")
    assert result.exit_code == 0, result.output
    for name, shape in {"reconstructions": (256, 512), "random": (128, 512), "interpolations": (256, 1024),
                        "ssim_errors": (256, 512)}.items():
        picture = cv2.imread(str(tmp_path / "pics" / f"{name}_ae.png"))
        assert picture is not None and picture.shape[:2] == shape, name
    bottom = cv2.imread(str(tmp_path / "pics" / "reconstructions_ae.png"))[128:]
    assert (bottom > 200).all(axis=2).sum() > 20  # the SSIM / L1 label is drawn in the corner (grey faces here)
