"""`fabrec-bench run -m pipnet` and `run -m hrnet` train by their own code's recipe (tests/test_pipnet_recipe.py
and test_hrnet_recipe.py check the recipes against that code), store the checkpoint in the original's layout,
evaluate, and say how they were trained; a trained checkpoint goes back through `eval`, and into the original's
own network; a killed training resumes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from original_pipnet import build_net
from released import nothing_stored

from fabrec_bench.predictions import read_landmarks
from fabrec_bench.store import ResultsStore, store_path


def test_run_trains_stores_the_originals_layout_and_evaluates(cli, synthetic_wflw, tmp_path):
    fast = ["--config", "iterations=2", "--config", "train_batch_size=4"]
    result = cli("run", "-m", "pipnet", "-d", "wflw", "-s", "test", "-s", "pose", "--data-root", synthetic_wflw,
                 "--train-count", 8, "--seed", 1, "--device", "cpu", *fast)
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        runs = {r.split: r for r in store.runs(status="finished", model="pipnet")}
    trained = runs["test"]
    folder = tmp_path / "work" / "runs" / trained.uid
    info = trained.model_info
    assert info["variant"] == "own recipe, scratch" and info["epochs"] == "1 of 1" and info["iterations"] == 2
    assert info["backbone_init"] == "scratch (pretrained=False)" and trained.train_count == 8
    # lib/train.py's state dict loads into the original's network as it is; meanface.txt beside it
    state = torch.load(folder / "checkpoint.pth", weights_only=True)
    build_net("resnet18", 98).load_state_dict(state)
    mean = np.array([float(v) for v in (folder / "meanface.txt").read_text().split()]).reshape(98, 2)
    assert 0 < mean.min() and mean.max() < 1
    assert info["meanface"] == "the mean face of its 8 training faces"
    # the checkpoint and its mean face back through eval: the same predictions
    again = cli("eval", "-m", "pipnet", "--checkpoint", folder / "checkpoint.pth", "-d", "wflw", "-s", "test",
                "--data-root", synthetic_wflw, "--device", "cpu", "--config", f"meanface={folder / 'meanface.txt'}",
                work_dir=tmp_path / "eval")
    assert again.exit_code == 0, again.output
    with ResultsStore(store_path(tmp_path / "eval")) as store:
        (evaluated,) = store.runs(status="finished")
    assert "variant" not in evaluated.model_info  # a loaded checkpoint's rows are not the trained run's
    ids, trained_predictions = read_landmarks(folder / "predictions.csv", 98)
    np.testing.assert_allclose(read_landmarks(tmp_path / "eval" / "runs" / evaluated.uid / "predictions.csv", 98)[1],
                               trained_predictions, atol=1e-9)
    board = cli("leaderboard", "--format", "json", "--no-reported").output
    assert "pipnet (own recipe, scratch)" in board


def test_bad_training_input_gets_one_line_and_stores_nothing(cli, synthetic_wflw, tmp_path):
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "fc.weight": torch.zeros(10, 2048)}, tmp_path / "r50.pth")
    work = tmp_path / "bad"
    refused = {("--train-count", "9999"): "is larger than the training split",
               ("--train-count", "0"): "--train-count must be at least 1",
               ("--config", f"backbone_weights={tmp_path / 'r50.pth'}"): "not the weights of a torchvision resnet18",
               ("--config", "backbone_weights=torchvision"): "fabrec-bench never downloads"}
    for args, words in refused.items():
        result = cli("run", "-m", "pipnet", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw, *args,
                     work_dir=work)
        assert result.exit_code != 0 and words in result.output, (args, result.output)
        assert result.output.strip().count("\n") == 0 and nothing_stored(work), args
    for model in ("fan", "star", "dlib-ert"):  # models that are not trained here refuse a training size
        result = cli("run", "-m", model, "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                     "--train-count", "5", work_dir=work)
        assert result.exit_code != 0 and "--train-count does not apply" in result.output, model
        assert result.output.strip().count("\n") == 0 and nothing_stored(work), model


@pytest.mark.parametrize("model", ["pipnet", "hrnet"])
def test_a_training_interrupted_after_an_epoch_resumes_there_and_ends_as_an_uninterrupted_one(model, synthetic_wflw,
                                                                                               tmp_path,
                                                                                               monkeypatch):
    """Both recipe-trained models share the loop's resume: killed in epoch 3, continued from epoch 2's state."""

    from fabrec_bench.runs import RunRequest, TrainingPlan, execute
    from fabrec_bench.torch_helpers.loop import RecipeTrainer

    def request(resume_dir):
        return RunRequest(model=model, dataset="wflw", splits=("blur",), data_root=synthetic_wflw, device="cpu",
                          training=TrainingPlan(count=8, seed=2), resume_dir=resume_dir,
                          model_options={"epochs": "3", "train_batch_size": "4"})  # 2 batches an epoch

    (whole,) = execute(request(None), tmp_path / "whole")
    step = RecipeTrainer.step

    def killed_in_epoch_three(self, inputs, targets):
        if self.iteration == 5:
            raise KeyboardInterrupt  # as a kill would, after epoch 2's state was written
        return step(self, inputs, targets)

    monkeypatch.setattr(RecipeTrainer, "step", killed_in_epoch_three)
    with pytest.raises(KeyboardInterrupt):
        execute(request(tmp_path / "resume"), tmp_path / "resumed")
    assert (tmp_path / "resume" / f"{model}_state.pt").is_file()
    monkeypatch.setattr(RecipeTrainer, "step", step)
    (resumed,) = execute(request(tmp_path / "resume"), tmp_path / "resumed")
    info = json.loads((resumed.run_dir / "train_info.json").read_text())
    assert info["resumed_from_epoch"] == 2 and info["iterations"] == 6 and info["epochs_run"] == 3
    assert not (tmp_path / "resume" / f"{model}_state.pt").exists()  # finished: the state is gone
    a = torch.load(whole.run_dir / "checkpoint.pth", weights_only=True)
    b = torch.load(resumed.run_dir / "checkpoint.pth", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.evaluation.metrics == whole.evaluation.metrics


def test_run_trains_hrnet_and_hrnet_facials_network_loads_the_checkpoint(cli, synthetic_wflw, tmp_path):
    from original_hrnet import HighResolutionNet

    result = cli("run", "-m", "hrnet", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw, "--train-count", 6,
                 "--device", "cpu", "--config", "iterations=2", "--config", "train_batch_size=3")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (trained,) = store.runs(status="finished", model="hrnet")
    assert trained.model_info["variant"] == "own recipe, scratch"
    assert trained.model_info["backbone_init"] == "init_weights N(0, 0.001)"
    folder = tmp_path / "work" / "runs" / trained.uid
    info = json.loads((folder / "train_info.json").read_text())
    assert info["iterations"] == 2 and info["last_partial_batch"] == "kept" and info["batch_size"] == 3
    HighResolutionNet(98).load_state_dict(torch.load(folder / "checkpoint.pth", weights_only=True))
    again = cli("eval", "-m", "hrnet", "--checkpoint", folder / "checkpoint.pth", "-d", "wflw", "-s", "test",
                "--data-root", synthetic_wflw, "--device", "cpu", work_dir=tmp_path / "eval")
    assert again.exit_code == 0, again.output
    with ResultsStore(store_path(tmp_path / "eval")) as store:
        (evaluated,) = store.runs(status="finished")
    np.testing.assert_array_equal(read_landmarks(tmp_path / "eval" / "runs" / evaluated.uid / "predictions.csv", 98)[1],
                                  read_landmarks(folder / "predictions.csv", 98)[1])
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, tmp_path / "resnet.pth")
    work = tmp_path / "bad"
    bad = cli("run", "-m", "hrnet", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
              "--config", f"backbone_weights={tmp_path / 'resnet.pth'}", work_dir=work)
    assert bad.exit_code != 0 and "not the weights of an HRNet-W18 backbone (missing" in bad.output
    assert bad.output.strip().count("\n") == 0 and nothing_stored(work)
    cached = cli("run", "-m", "hrnet", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                 "--config", "backbone_weights=timm", work_dir=work)  # the test's cache is empty
    assert cached.exit_code != 0 and "is not in the Hugging Face cache (fabrec-bench never downloads)" in cached.output
    assert nothing_stored(work)


def test_imagenet_backbone_files_initialise_the_backbones(tmp_path):
    """A torchvision ResNet-18 file (PIPNet) and an HRNet-W18 ImageNet file in HRNet's own naming (HRNet):
    their backbone weights are taken, the heads keep the recipe's initialisation, and the run says so."""
    import torchvision

    from fabrec_bench.models import RunContext
    from fabrec_bench.options import make_options
    from fabrec_bench.schemes import scheme_for_points
    from fabrec_bench_plugins.models.hrnet.model import HRNetModel
    from fabrec_bench_plugins.models.hrnet.network import HRNetFace
    from fabrec_bench_plugins.models.hrnet.options import HRNetOptions
    from fabrec_bench_plugins.models.pipnet.model import PipNetModel
    from fabrec_bench_plugins.models.pipnet.options import PipNetOptions

    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(resnet, tmp_path / "resnet18-f37072fd.pth")
    pipnet = PipNetModel.create(scheme_for_points(98), make_options(PipNetOptions, {
        "backbone_weights": str(tmp_path / "resnet18-f37072fd.pth")}), RunContext(device="cpu"))
    assert pipnet.backbone_init == "ImageNet (resnet18-f37072fd.pth)"
    assert torch.equal(pipnet.net.layer4[1].conv2.weight, resnet["layer4.1.conv2.weight"])
    assert float(pipnet.net.cls_layer.weight.detach().std()) < 0.002  # the head: Pip_resnet's init
    imagenet = {k[len("backbone."):]: torch.randn_like(v) if v.is_floating_point() else v
                for k, v in HRNetFace(98).state_dict().items() if k.startswith("backbone.")}
    imagenet["classifier.weight"] = torch.zeros(1000, 2048)  # the classification model's extra keys are left
    torch.save(imagenet, tmp_path / "hrnetv2_w18_imagenet_pretrained.pth")
    hrnet = HRNetModel.create(scheme_for_points(98), make_options(HRNetOptions, {
        "backbone_weights": str(tmp_path / "hrnetv2_w18_imagenet_pretrained.pth")}), RunContext(device="cpu"))
    assert hrnet.backbone_init == "ImageNet (hrnetv2_w18_imagenet_pretrained.pth)"
    state = hrnet.net.state_dict()
    assert all(torch.equal(state["backbone." + k], v) for k, v in imagenet.items() if k != "classifier.weight")
    assert float(hrnet.net.head[3].weight.detach().std()) < 0.002  # init_weights' N(0, 0.001)


@pytest.fixture(scope="module")
def released_datasets(tmp_path_factory):
    """Synthetic 300-W, COFW and AFLW releases in their official layouts (WFLW is the session's fixture)."""
    from fabrec_bench.synth.formats import write_300w, write_aflw, write_cofw

    root = tmp_path_factory.mktemp("released")
    write_300w(root / "300W", per_folder=2, seed=3)
    write_cofw(root / "COFW", train=8, test=4, seed=4)
    write_aflw(root / "AFLW", faces=30, seed=5)
    return {"300w": (root / "300W", "common"), "cofw": (root / "COFW", "test"), "aflw": (root / "AFLW", "full")}


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["300w", "cofw", "aflw"])
@pytest.mark.parametrize("model", ["pipnet", "hrnet"])
def test_each_model_trains_on_every_dataset_it_was_released_on(model, dataset, released_datasets, cli, tmp_path):
    """WFLW is trained above; here 300-W (1-based .pts), COFW (its .mat's uint8 images, 29 points) and AFLW
    (19 points), each by the model's recipe with the dataset's crop rule, then evaluated under the model's own
    protocol."""
    root, split = released_datasets[dataset]
    result = cli("run", "-m", model, "-d", dataset, "-s", split, "--data-root", root, "--train-count", 4,
                 "--device", "cpu", "--protocol", model, "--config", "iterations=1", "--config", "train_batch_size=2")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished")
    assert run.protocol["name"] == model and run.model_info["variant"] == "own recipe, scratch"
    assert run.model_info["iterations"] == 1 and run.train_count == 4 and np.isfinite(run.metrics["nme"])
