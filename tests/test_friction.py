"""Friction found while using fabrec-bench, each fixed where a user meets it."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from fabrec_bench_plugins.datasets.wflw import WFLWDataset


def test_datasets_info_with_a_missing_root_describes_then_fails(cli, tmp_path):
    result = cli("datasets", "info", "wflw", "--data-root", tmp_path / "nowhere")
    assert result.exit_code == 1
    assert "98 (wflw98)" in result.output and "is not a directory" in result.output  # the description first
    as_json = cli("datasets", "info", "wflw", "--data-root", tmp_path / "nowhere", "--json")
    assert as_json.exit_code == 1 and "is not a directory" in json.loads(as_json.output)["root_error"]
    assert cli("datasets", "info", "wflw").exit_code == 0  # no root asked for: the description is the answer


def write_predictions(path, samples, extra_ids=()):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "image", *[f"{a}{i}" for i in range(98) for a in "xy"]])
        for s in samples:
            writer.writerow([s.id, s.image_path, *s.landmarks_px.reshape(-1)])
        for face_id in extra_ids:
            writer.writerow([face_id, "x.jpg", *np.zeros(196)])


def test_score_takes_a_whole_test_split_file_for_an_attribute_subset(cli, synthetic_wflw, tmp_path):
    test = WFLWDataset().load_split(synthetic_wflw, "test")
    write_predictions(tmp_path / "all.csv", test.samples)
    subset = WFLWDataset().load_split(synthetic_wflw, "blur")
    assert 0 < len(subset) < len(test)
    result = cli("score", tmp_path / "all.csv", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["faces"] == len(subset) and out["metrics"]["nme"] == 0.0
    # Ids the dataset does not know are still an error, naming them.
    write_predictions(tmp_path / "bad.csv", test.samples, extra_ids=["test/9999"])
    bad = cli("score", tmp_path / "bad.csv", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw)
    assert bad.exit_code == 2 and "test/9999" in bad.output and "not in the split" in bad.output


def test_ced_plot_shows_curves_that_lie_beyond_the_threshold(tmp_path):
    from fabrec_bench.reports.plots import ced_axis_extent, ced_plot

    rng = np.random.default_rng(0)
    good, bad = rng.uniform(0.02, 0.2, 50), rng.uniform(0.3, 0.6, 50)
    assert ced_axis_extent([("good", good)], 0.1) == 0.1  # the usual plot: up to the threshold
    extent = ced_axis_extent([("good", good), ("bad", bad)], 0.1)
    assert np.percentile(bad, 95) < extent <= 0.65  # far enough for the bad curve to rise
    assert ced_axis_extent([("inf", np.full(5, np.inf))], 0.1) == 0.1  # only missed faces: nothing to show
    assert ced_axis_extent([("huge", np.full(5, 50.0))], 0.1) == 2.0  # capped
    path = ced_plot([("good", good), ("bad", bad)], tmp_path / "ced.png", threshold=0.1)
    assert path.stat().st_size > 1000


def test_models_lists_installed_models_and_info_shows_3fabrec_parameter_counts(cli):
    listed = cli("models")
    assert listed.exit_code == 0 and all(name in listed.output for name in ("mean-shape", "3fabrec", "dlib-ert"))
    assert [m["name"] for m in json.loads(cli("models", "--json").output)] == ["mean-shape", "dlib-ert", "3fabrec", "pipnet", "hrnet", "fan", "star"]
    info = json.loads(cli("models", "info", "3fabrec", "--json").output)
    counts = info["parameters"]["by input size"]["256"]
    assert counts == {"Q (encoder)": 11_379_491, "P (decoder)": 10_868_096, "D_z (latent discriminator)": 1_102_001,
                      "D (image discriminator)": 1_743_744}  # the published counts (../shared/docs/3fabrec.md 2.5)
    assert info["parameters"]["LMH (transfer layers and heatmap layer)"]["98 points"] == 811_008 + 1_024 * 98
    assert info["default_config"]["inference_precision"] == "fp32"
    text = cli("models", "info", "3fabrec").output
    assert "11,379,491" in text and "inference_precision" in text
    assert "options (--config KEY=VALUE): none" in cli("models", "info", "mean-shape").output
    missing = cli("models", "info", "nope")
    assert missing.exit_code == 2 and "nope" in missing.output


@pytest.mark.slow
def test_autoencoder_takes_its_scheme_from_the_data_and_mixes_schemes(cli, tmp_path, monkeypatch):
    """Stage 1 on VGGFace2 (5 points) and AffectNet (68 points) together: labels are not used, so the
    schemes may differ (it used to assume WFLW's 98 points and fail on VGGFace2's flip)."""
    from fabrec_bench.synth.formats import write_affectnet, write_vggface2

    write_vggface2(tmp_path / "vgg", identities=2, per_identity=2, seed=1)
    write_affectnet(tmp_path / "aff", train=4, validation=2, seed=2)
    monkeypatch.setenv("FABREC_BENCH_VGGFACE2_ROOT", str(tmp_path / "vgg"))
    monkeypatch.setenv("FABREC_BENCH_AFFECTNET_ROOT", str(tmp_path / "aff"))
    result = cli("autoencoder", "-d", "vggface2", "-d", "affectnet", "--out", tmp_path / "ae", "--input-size", "128",
                 "--batch-size", "4", "--epochs", "1", "--precision", "fp32", "--keep-every", "0")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "ae" / "latest.pt").is_file() and not list((tmp_path / "ae").glob("epoch_*.pt"))
    assert "faces, epoch 1" in result.output


def test_300w_annotation_boxes_has_its_own_name_and_the_old_one_still_works(cli, tmp_path, capsys):
    """`box_source` meant the .mat boxes in the 300-W option and the face-box source in the protocol; the
    option is now `annotation_boxes`. The old name is read as the new one, with a warning, and runs stored
    under either name share a leaderboard row."""
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.synth.formats import write_300w

    adapter = get_registry().dataset("300w")
    assert "annotation_boxes" in adapter.option_defaults and "box_source" not in adapter.option_defaults
    assert adapter.with_options(box_source="detector").options["annotation_boxes"] == "detector"
    assert "option box_source is now called annotation_boxes" in capsys.readouterr().err
    write_300w(tmp_path / "300W", per_folder=1, seed=3)
    for name in ("box_source", "annotation_boxes"):
        result = cli("run", "-m", "mean-shape", "-d", "300w", "-s", "common", "--data-root", tmp_path / "300W",
                     "--dataset-option", f"{name}=detector")
        assert result.exit_code == 0, result.output
    board = json.loads(cli("leaderboard", "--format", "json").stdout)
    assert [(r["dataset"], r["seeds"]) for r in board] == [("300w [annotation_boxes=detector]", 2)]
