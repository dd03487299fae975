"""One model contract: options declared once as a typed dataclass (from which `--config` parsing, `models info`
and the matrix check derive), capabilities declared, and runs that are typed requests."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

import pytest

from fabrec_bench import api, runs
from fabrec_bench.errors import UserError
from fabrec_bench.models import Capabilities, ModelSpec
from fabrec_bench.options import Options, configuration, describe_options, make_options, option


@dataclass(frozen=True)
class Toy(Options):
    width: int = option(64, "channels", minimum=1)
    rate: float = option(0.1, "learning rate", minimum=0)
    mode: str = option("fast", "decoding", choices=("fast", "exact"))
    flag: bool = option(False, "a switch")
    layout: bool | str = option("auto", "memory layout", choices=("auto", True, False))
    workers: int = option(0, "processes", minimum=0, changes_results=False)


def test_text_from_the_command_line_is_read_by_each_options_type():
    opts = make_options(Toy, {"width": "32", "rate": "1e-3", "flag": "true", "layout": "false", "mode": "exact"})
    assert (opts.width, opts.rate, opts.flag, opts.layout, opts.mode) == (32, 1e-3, True, False, "exact")
    assert make_options(Toy, {"layout": "auto", "rate": 1}).layout == "auto"  # an int where a float is asked
    assert make_options(Toy, {}) == Toy()


@pytest.mark.parametrize(("given", "message"), [
    ({"width": "wide"}, "toy: option width = 'wide' should be an int"),
    ({"width": 0}, "toy: option width = 0 must be at least 1"),
    ({"mode": "slow"}, "toy: option mode = 'slow' must be one of fast, exact"),
    ({"flag": "perhaps"}, "toy: option flag = 'perhaps' should be a bool"),
    ({"rate": True}, "toy: option rate = True should be a float"),
    ({"wdth": 3}, "toy: unknown option(s) wdth; known: flag, layout, mode, rate, width, workers"),
])
def test_a_bad_option_is_one_line_naming_it(given, message):
    with pytest.raises(UserError) as e:
        make_options(Toy, given, where="toy")
    assert str(e.value) == message


def test_the_declaration_is_what_models_info_shows_and_what_sets_a_configuration_apart():
    info = {o.name: o for o in describe_options(Toy)}
    assert info["layout"].type == "bool | str" and info["mode"].choices == ("fast", "exact")
    assert info["width"].help == "channels" and not info["workers"].changes_results
    assert configuration(Toy, {"width": 32, "workers": 4, "rate": 0.1}) == {"width": 32}


def test_capabilities_are_declared_and_checked():
    with pytest.raises(ValueError, match="capabilities.pretraining"):
        ModelSpec("x", create=None, load=None, capabilities=Capabilities(pretraining=True))
    with pytest.raises(ValueError, match="must include fp32"):
        ModelSpec("x", create=None, load=None, capabilities=Capabilities(precisions=("bf16",)))
    spec = ModelSpec("x", create=None, load=None)
    spec.check_precision("fp32")
    with pytest.raises(UserError, match="model 'x' computes in fp32 only; --precision bf16 does not apply"):
        spec.check_precision("bf16")
    ModelSpec("y", create=None, load=None, capabilities=Capabilities(precisions=("fp32", "bf16"))).check_precision("auto")


def test_models_info_lists_options_with_types_defaults_and_help(cli):
    info = json.loads(cli("models", "info", "3fabrec", "--json").output)
    options = {o["name"]: o for o in info["options"]}
    assert options["flip_rule"]["choices"] == ["original", "pixel"] and options["flip_rule"]["default"] == "original"
    assert options["batch_size"]["type"] == "int" and "drop" in options["batch_size"]["help"]
    assert info["capabilities"]["precisions"] == ["fp32", "bf16", "fp16"]
    assert {o["name"] for o in info["pretrain_options"]} >= {"preset", "epochs", "keep_every"}
    shown = cli("models", "info", "3fabrec").output
    assert "pretraining options" in shown and "flip_rule" in shown


def test_config_text_is_typed_by_the_model_and_recorded_typed(cli, synthetic_wflw, tmp_path):
    bad = cli("run", "-m", "dlib-ert", "-d", "wflw68", "-s", "blur", "--data-root", synthetic_wflw,
              "--config", "predicter=x")
    assert bad.exit_code == 2 and "model 'dlib-ert': unknown option(s) predicter; known: predictor" in bad.output
    wrong = cli("run", "-m", "3fabrec", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw, "--config",
                "epochs=three")
    assert wrong.exit_code == 2 and "option epochs = 'three' should be an int" in wrong.output


def test_run_and_eval_build_one_request_each(cli, synthetic_wflw, monkeypatch):
    seen: list[runs.RunRequest] = []
    monkeypatch.setattr(runs, "execute", lambda request, work_dir, **kw: seen.append(request) or [])
    cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "-s", "blur", "--data-root", synthetic_wflw,
        "--train-count", "5", "--train-selection", "first", "--seed", "3", "--label", "mine", "--config", "a=1",
        "--protocol", "hrnet", "--precision", "fp32")
    request = seen[0]
    assert request.splits == ("test", "blur") and request.label == "mine" and request.model_options == {"a": "1"}
    assert request.training == runs.TrainingPlan(count=5, selection="first", seed=3)
    assert request.protocol.name == "hrnet" and request.precision == "fp32" and request.checkpoint is None
    assert not hasattr(api, "run_model_on_splits")


def test_a_request_is_refused_before_anything_trains(synthetic_wflw, tmp_path):
    with pytest.raises(UserError, match="training selection 'last'"):
        runs.TrainingPlan(selection="last")
    request = runs.RunRequest(model="mean-shape", dataset="wflw", splits=("test",), data_root=synthetic_wflw,
                              precision="bf16")
    with pytest.raises(UserError, match="computes in fp32 only"):
        runs.prepare(request, tmp_path)
    with pytest.raises(UserError, match="has no split 'tset'"):
        runs.prepare(runs.RunRequest(model="mean-shape", dataset="wflw", splits=("tset",)), tmp_path)
    assert not (tmp_path / "results.sqlite").exists()


def test_datasets_info_lists_what_a_partly_downloaded_root_holds(cli, tmp_path):
    from fabrec_bench.synth.formats import write_vggface2

    root = tmp_path / "VGGFace2"
    write_vggface2(root)
    shutil.rmtree(root / "test")  # only the train half downloaded
    (root / "bb_landmark" / "loose_bb_test.csv").unlink()
    out = cli("datasets", "info", "vggface2", "--data-root", root, "--json")
    assert out.exit_code == 0, out.output
    splits = {s["name"]: s for s in json.loads(out.output)["splits"]}
    assert splits["train"]["faces"] > 0 and "missing" not in splits["train"]
    assert "loose_bb_test.csv not found" in splits["test"]["missing"]
    shown = cli("datasets", "info", "vggface2", "--data-root", root)
    assert shown.exit_code == 0 and "missing" in shown.output and "loose_bb_test.csv" in shown.output


def test_dataset_option_help_names_todays_options(cli):
    helped = cli("run", "--help").output
    assert "annotation_boxes=detector" in helped and "box_source=detector" not in helped
