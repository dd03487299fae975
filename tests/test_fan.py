"""The `fan` model runs a 2D-FAN-4 as face-alignment's own API runs it on given boxes (tests/original_fan.py,
written out from its source): the same crops, network, flip test, decoding and whole-pixel predictions, on
synthetic faces of each 68-point set it is evaluated on, for the .pth.tar release (v1.5.0's code) and the
TorchScript releases (v1.4.1's code). Weights are random (nothing is downloaded)."""

from __future__ import annotations

import pickle
import zipfile

import cv2
import numpy as np
import pytest
import torch
from original_fan import FAN, landmarks_v14, landmarks_v15
from PIL import Image
from released import nothing_stored, predict_on, random_weights, refused_in_one_line
from test_hrnet import make_faces
from test_pipnet import textured_image

from fabrec_bench.errors import UserError
from fabrec_bench.options import make_options, with_options
from fabrec_bench.plugins import get_registry
from fabrec_bench.predictions import read_landmarks
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench.torch_helpers.torchscript import read_torchscript_tensors
from fabrec_bench_plugins.models.fan.model import FanModel
from fabrec_bench_plugins.models.fan.options import FanOptions


def original_net(seed: int) -> tuple[FAN, dict]:
    net = FAN(4)
    state = random_weights(net, seed)
    net.load_state_dict(state)
    return net.eval(), state


class LastStack(FAN):
    """FAN returning only its last stack's heatmaps, as the 1.3-1.4 TorchScript files do (their API calls
    .detach() on the output)."""

    def forward(self, x):
        return super().forward(x)[-1]


def save_torchscript(net: FAN, path, wrapped: bool = False) -> None:
    """A TorchScript release as face-alignment 1.3-1.4 shipped it: the traced network, saved by torch.jit;
    `wrapped`: traced inside a wrapper module, so every tensor's name carries its attribute name."""
    last = LastStack(4)
    last.load_state_dict(net.state_dict())
    module = torch.nn.Sequential(last) if wrapped else last
    torch.jit.save(torch.jit.trace(module.eval(), torch.zeros(1, 3, 256, 256)), str(path))


def original(net: FAN, faces: list[dict], code: str, **kwargs) -> np.ndarray:
    """Per image, get_landmarks_from_image with its faces' boxes (0-based pixels)."""
    out = []
    for face in faces:
        image = np.array(Image.open(face["image"]).convert("RGB"))
        run = landmarks_v15 if code == "1.5" else landmarks_v14
        out.append(run(net, image, [np.asarray(face["box"], dtype=np.float64)], **kwargs)[0])
    return np.stack(out).astype(np.float64)


def ours(dataset: str, path, faces: list[dict], **options) -> np.ndarray:
    """fabrec-bench's predictions, in the frame the original's code works in."""
    return predict_on(FanModel, dataset, path, faces, "zero-based", **options)


@pytest.mark.parametrize("dataset", ["300w", "wflw68", "cofw68"])
def test_predictions_equal_face_alignments_own_api(dataset, tmp_path):
    faces = make_faces("300w", tmp_path / "images", 5, seed=1)  # a face larger than its image, one across a border
    net, state = original_net(seed=2)
    torch.save(state, tmp_path / "2DFAN4.pth.tar")
    expected = original(net, faces, "1.5", flip_input=True)
    assert np.ptp(expected[:, :, 0], axis=0).max() > 20  # the random network's answers vary: the test has teeth
    got = ours(dataset, tmp_path / "2DFAN4.pth.tar", faces)
    np.testing.assert_array_equal(got, expected)  # whole pixels, as its API returns them
    no_flip = original(net, faces, "1.5", flip_input=False)
    assert not np.array_equal(no_flip, expected)
    np.testing.assert_array_equal(ours(dataset, tmp_path / "2DFAN4.pth.tar", faces, flip="false"), no_flip)


def test_a_torchscript_release_is_read_without_running_it_and_runs_as_v14(tmp_path):
    faces = make_faces("300w", tmp_path / "images", 4, seed=3)
    net, state = original_net(seed=4)
    save_torchscript(net, tmp_path / "2DFAN4-cd938726ad.zip")
    tensors = read_torchscript_tensors(tmp_path / "2DFAN4-cd938726ad.zip")
    assert set(tensors) == set(state) and all(torch.equal(tensors[k], state[k]) for k in state)
    save_torchscript(net, tmp_path / "wrapped.zip", wrapped=True)
    assert set(read_torchscript_tensors(tmp_path / "wrapped.zip")) == {f"0.{k}" for k in state}
    np.testing.assert_array_equal(ours("300w", tmp_path / "wrapped.zip", faces[:2]), original(net, faces[:2], "1.4"))
    model = FanModel.load(tmp_path / "2DFAN4-cd938726ad.zip", "cpu")
    assert (model.kind, model.code, model.flip) == ("TorchScript", "1.4", False)
    expected = original(net, faces, "1.4")
    np.testing.assert_array_equal(ours("300w", tmp_path / "2DFAN4-cd938726ad.zip", faces), expected)
    np.testing.assert_array_equal(ours("300w", tmp_path / "2DFAN4-cd938726ad.zip", faces[:2], flip="true"),
                                  original(net, faces[:2], "1.4", flip_input=True))


def test_batches_and_either_code_give_the_api_s_answers(tmp_path):
    faces = make_faces("300w", tmp_path / "images", 3, seed=5)
    net, state = original_net(seed=6)
    torch.save({f"module.{k}": v for k, v in state.items()}, tmp_path / "module.pth.tar")
    np.testing.assert_array_equal(ours("300w", tmp_path / "module.pth.tar", faces, batch_size=2),
                                  original(net, faces, "1.5", flip_input=True, max_batch_size=2))
    np.testing.assert_array_equal(ours("300w", tmp_path / "module.pth.tar", faces, code="1.4"),
                                  original(net, faces, "1.4"))
    np.testing.assert_array_equal(ours("300w", tmp_path / "module.pth.tar", faces, flip="false", reference_scale=165),
                                  original(net, faces, "1.5", flip_input=False, reference_scale=165))


def test_a_state_dict_saved_before_pytorch_041_loads_and_gives_the_same_landmarks(tmp_path):
    faces = make_faces("300w", tmp_path / "images", 2, seed=9)
    net, state = original_net(seed=10)
    old = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    assert len(old) < len(state)  # BatchNorm layers everywhere: the test removes something
    torch.save(state, tmp_path / "new.pth.tar")
    torch.save(old, tmp_path / "old.pth.tar")
    np.testing.assert_array_equal(ours("300w", tmp_path / "old.pth.tar", faces, flip="false"),
                                  ours("300w", tmp_path / "new.pth.tar", faces, flip="false"))
    loaded = FanModel.load(tmp_path / "old.pth.tar", "cpu").net.state_dict()
    assert all(torch.equal(loaded[k], state[k]) for k in state)  # the counters filled as load_state_dict fills them
    del old["bn1.running_var"]  # any other missing key is still refused
    torch.save(old, tmp_path / "no-running-var.pth.tar")
    refused_in_one_line(FanModel.load, tmp_path, {"no-running-var.pth.tar": "missing bn1.running_var"})


# Boxes whose crop window's corner lands on the other whole pixel with a float32 centre than with a float64 one
# (found by trying random boxes: about 1 in 15,000 does).
CENTRE_TYPE_BOXES = ((551.7603621471217, 749.6855795799615, 800.9930125903783, 998.9182300232181),
                     (733.501262579473, 34.91803139734257, 1122.7793685149056, 424.1961373327752))


@pytest.mark.parametrize("box", CENTRE_TYPE_BOXES)
def test_v14_centre_type_follows_the_boxes_its_detectors_hand_over(box, tmp_path):
    rng = np.random.default_rng(11)
    image = tmp_path / "wide.png"
    cv2.imwrite(str(image), textured_image(rng, 1040, 1150))
    face = {"gt": np.zeros((68, 2)), "image": image, "box": np.asarray(box)}
    net, state = original_net(seed=12)
    torch.save(state, tmp_path / "fan.pth.tar")
    rgb = np.array(Image.open(image).convert("RGB"))
    # v1.4.1 builds the centre with torch.tensor: S3FD's float64 rows give a float64 centre, dlib's integers
    # (or a list of Python numbers) a float32 one
    as_s3fd = landmarks_v14(net, rgb, [np.asarray(box, dtype=np.float64)])[0]
    as_list = landmarks_v14(net, rgb, [[float(v) for v in box]])[0]
    assert not np.array_equal(as_s3fd, as_list)  # the two types give other landmarks for this box
    np.testing.assert_array_equal(ours("300w", tmp_path / "fan.pth.tar", [face], code="1.4")[0], as_s3fd)
    np.testing.assert_array_equal(ours("300w", tmp_path / "fan.pth.tar", [face], code="1.4",
                                       centre_dtype="float32")[0], as_list)
    with pytest.raises(UserError, match="centre_dtype=float32 is the 1.4 API's"):
        ours("300w", tmp_path / "fan.pth.tar", [face], centre_dtype="float32")


def _archive_with_state(path, pickled: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("model/data.pkl", pickled)
        archive.writestr("model/code/__torch__/model.py", "def forward(self, x):\n  return x\n")
        archive.writestr("model/version", "3\n")


def test_bad_checkpoints_get_one_line_each(tmp_path):
    _, state = original_net(seed=7)
    torch.save({k.replace("top_m_", "top_"): v for k, v in state.items()}, tmp_path / "other.pth.tar")
    torch.save({"conv1.weight": torch.zeros(3)}, tmp_path / "foreign.pth.tar")
    torch.save(state, tmp_path / "whole.pth.tar")
    data = (tmp_path / "whole.pth.tar").read_bytes()
    (tmp_path / "truncated.pth.tar").write_bytes(data[: len(data) // 3])
    torch.save({"state_dict": state, "runner": object()}, tmp_path / "objects.pth.tar")

    class Payload:  # a pickle that would run a command when unpickled
        def __reduce__(self):
            return (print, ("ran code from the archive",))

    _archive_with_state(tmp_path / "crafted.zip", pickle.dumps(Payload(), protocol=2))
    expected = {"other.pth.tar": "not the layout of 2D-FAN-4 (four stacks): missing top_m_0",
                "foreign.pth.tar": "not a 2D-FAN-4 checkpoint (no l3.weight",
                "truncated.pth.tar": "not a readable PyTorch checkpoint", "objects.pth.tar": "unsafe pickle",
                "crafted.zip": "refused: its state names __builtin__.print"}
    refused_in_one_line(FanModel.load, tmp_path, expected)


def test_eval_stores_the_apis_predictions_and_refuses_a_98_point_dataset(cli, synthetic_wflw, tmp_path):
    from fabrec_bench import api

    split = api.read_split(get_registry().dataset("wflw68"), synthetic_wflw, "test")
    faces = [{"gt": s.landmarks_px, "image": s.image_path, "box": np.asarray(s.box_px)} for s in split.samples]
    net, state = original_net(seed=8)
    torch.save(state, tmp_path / "2DFAN4-11f355bf06.pth.tar")
    expected = original(net, faces, "1.5", flip_input=False)  # the flip test is checked above; half the time here

    result = cli("eval", "-m", "fan", "--checkpoint", tmp_path / "2DFAN4-11f355bf06.pth.tar", "-d", "wflw68", "-s",
                 "test", "--data-root", synthetic_wflw, "--device", "cpu", "--config", "flip=false")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished", model="fan")
    ids, stored = read_landmarks(tmp_path / "work" / "runs" / run.uid / "predictions.csv", 68)
    assert ids == split.ids
    np.testing.assert_array_equal(stored, expected)

    work = tmp_path / "bad-work"
    result = cli("eval", "-m", "fan", "--checkpoint", tmp_path / "2DFAN4-11f355bf06.pth.tar", "-d", "wflw", "-s",
                 "test", "--data-root", synthetic_wflw, work_dir=work)
    assert result.exit_code != 0 and "checkpoint predicts 68 landmarks, dataset 'wflw' has 98" in result.output
    assert nothing_stored(work)


def test_models_info_says_what_fan_is_and_where_its_weights_are(cli):
    text = " ".join(cli("models", "info", "fan").output.split())
    params = sum(p.numel() for p in FAN(4).parameters())  # the original's network
    for words in ("BSD-3-Clause licence", f"{params:,}", "2DFAN4-11f355bf06.pth.tar: "
                  "https://www.adrianbulat.com/downloads/python-fan/2DFAN4-11f355bf06.pth.tar",
                  "2DFAN4-cd938726ad.zip", "never compiled or run", "0.12 h", "flip_input"):
        assert words in text, words
    with pytest.raises(UserError, match="code"):  # the options are checked like every model's
        with_options(make_options(FanOptions), {"code": "2.0"})
