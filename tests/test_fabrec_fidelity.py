"""A released 3FabRec snapshot predicts here what it predicts in the original code.

A snapshot is written in the original layout (saae.mdl + meta.json) with random weights and BatchNorm
statistics, evaluated with `fabrec-bench eval` in default settings, and compared with our network run on crops
made by the original's rule, written out here step by step as the original does it (zero-pad, slice, bicubic
resize to 363, centre 256, RGB / 255 minus the mean, fp32 NCHW, 9 x 9 blur, argmax, inverse landmark map).
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace

import numpy as np
import pytest
from original_3fabrec import original_prediction, random_snapshot

from fabrec_bench.models import DatasetFacts, RunContext
from fabrec_bench.options import as_dict
from fabrec_bench_plugins.datasets.w300 import W300Dataset
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions
from fabrec_bench_plugins.models.fabrec.model import FabrecModel
from fabrec_bench_plugins.models.fabrec.networks import Fabrec


def read_predictions(path) -> dict[str, np.ndarray]:
    with open(path) as f:
        rows = list(csv.reader(f))[1:]
    return {r[0]: np.array([float(v) for v in r[2:]]).reshape(-1, 2) for r in rows}


def test_a_released_wflw_snapshot_evaluates_as_in_the_original(cli, synthetic_wflw, tmp_path):
    net = random_snapshot(tmp_path / "lms_wflw", 98)
    result = cli("eval", "-m", "3fabrec", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                 "--checkpoint", tmp_path / "lms_wflw", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    got = read_predictions(f"{out['run_dir']}/predictions.csv")
    samples = WFLWDataset().load_split(synthetic_wflw, "test").samples
    assert len(got) == len(samples) == 14
    for sample in samples:
        expected = original_prediction(net, sample, WFLWDataset.crop_box_extension)
        assert np.abs(got[sample.id] - expected).max() < 1e-9, sample.id


def test_default_inference_is_fp32_and_recorded(cli, synthetic_wflw, tmp_path):
    random_snapshot(tmp_path / "lms_wflw", 98)
    result = cli("eval", "-m", "3fabrec", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw,
                 "--checkpoint", tmp_path / "lms_wflw", "--config", "eval_batch_size=3")
    assert result.exit_code == 0, result.output
    from fabrec_bench.store import ResultsStore, store_path

    with ResultsStore(store_path(tmp_path / "work")) as store:
        run = store.runs()[0]
    assert run.model_info["precision"] == "fp32" and run.model_info["frame_origin"] == 0.0
    assert run.model_options["eval_batch_size"] == 3  # `eval` takes the same --config options as `run`
    bad = cli("eval", "-m", "3fabrec", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw,
              "--checkpoint", tmp_path / "lms_wflw", "--config", "batchsize=3")
    assert bad.exit_code != 0 and "unknown option(s) batchsize" in bad.output


def test_bf16_inference_is_opt_in_and_shows_in_the_leaderboard(cli, synthetic_wflw, tmp_path):
    random_snapshot(tmp_path / "lms_wflw", 98, input_size=128)
    for precision in ("fp32", "bf16"):
        result = cli("eval", "-m", "3fabrec", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw,
                     "--checkpoint", tmp_path / "lms_wflw", "--precision", precision)
        assert result.exit_code == 0, result.output
    board = cli("leaderboard", "--format", "csv").output.strip().splitlines()
    header = board[0].split(",")
    precisions = sorted(line.split(",")[header.index("precision")] for line in board[1:])
    assert precisions == ["bf16", "fp32"]  # two rows, never averaged together


def test_a_released_300w_snapshot_crops_in_the_raw_1_based_frame(tmp_path):
    """The released 300-W model learned the .pts numbers as written (1-based): importing it records frame
    origin 1, and predictions come back into our 0-based frame exactly."""
    net = random_snapshot(tmp_path / "lms_300w", 68, input_size=256, seed=3)
    from fabrec_bench.synth.formats import write_300w

    root = tmp_path / "300W"
    write_300w(root, per_folder=1, seed=5)
    adapter = W300Dataset()
    samples = adapter.load_split(root, "common").samples
    model = FabrecModel.load(tmp_path / "lms_300w", "cpu")
    assert model.options.frame_origin == 1.0 and model.describe()["frame_origin"] == 1.0
    model.context = replace(model.context, dataset=DatasetFacts.of(adapter))
    got = model.predict(samples)
    for row, sample in enumerate(samples):
        expected = original_prediction(net, sample, adapter.crop_box_extension, frame_offset=1.0)
        assert np.abs(got[row] - expected).max() < 1e-9
    # With the raw values (zero_based = false) the samples are already in the model's frame: same answer.
    raw = adapter.with_options(zero_based=False)
    model.context = replace(model.context, dataset=DatasetFacts.of(raw))
    raw_pred = model.predict(raw.load_split(root, "common").samples)
    assert np.abs(raw_pred - 1.0 - got).max() < 1e-9


def test_a_model_trained_here_keeps_our_frame(synthetic_wflw, tmp_path):
    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:4]
    model = FabrecModel(WFLWDataset.scheme, FabrecOptions(input_size=128, init="scratch", epochs=1, batch_size=4,
                                                          images_per_epoch_grid=0),
                        RunContext(device="cpu", seed=0, run_dir=tmp_path))
    model.train(samples)
    model.save(tmp_path / "m.pt")
    again = FabrecModel.load(tmp_path / "m.pt", "cpu")
    assert again.options.frame_origin == 0.0 and again.options.crop_rule == "3fabrec"


def test_checkpoints_written_before_the_original_crops_keep_their_affine_crops(tmp_path):
    """Checkpoint reading stays as it was: a model trained on the earlier affine crops is evaluated on them."""
    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint

    net = Fabrec(98, 128)
    old_config = {k: v for k, v in as_dict(FabrecOptions()).items() if k not in ("crop_rule", "frame_origin",
                                                                                 "inference_precision", "flip_rule")}
    old_config.update(crop_extension=[0.0, 0.1], cache_dir="", resume_dir="")  # keys such checkpoints hold
    old_config["channels_last"] = True
    save_checkpoint(tmp_path / "old.pt", net, {"stage": "landmarks", "scheme": "wflw98", "num_points": 98,
                                               "input_size": 128, "config": old_config})
    model = FabrecModel.load(tmp_path / "old.pt", "cpu")
    assert model.options.crop_rule == "affine" and model.options.inference_precision == "fp32"


@pytest.mark.parametrize("bad", [{"crop_rule": "nearest"}, {"inference_precision": "fp8"},
                                 {"channels_last": "sometimes"}])
def test_bad_options_are_refused_by_name(bad):
    from fabrec_bench.errors import UserError
    from fabrec_bench.plugins import get_registry

    with pytest.raises(UserError, match=next(iter(bad))):
        get_registry().model("3fabrec").make_options(bad)
