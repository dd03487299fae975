"""The `hrnet` model runs an HRNetV2-W18 face checkpoint as HRNet-Facial's own test does (tests/original_hrnet.py,
written out from its source): the same crops (SciPy 1.2's imresize included), network, decoding and whole-pixel
predictions, on synthetic faces of every dataset it was released on; under `--protocol hrnet` the number its
compute_nme gives. Weights are random (nothing is downloaded), in each accepted key layout."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from original_hrnet import (
    HighResolutionNet,
    cofw_centre_scale,
    compute_nme,
    crop,
    dataset_input,
    decode_preds,
)
from PIL import Image
from released import nothing_stored, predict_on, random_weights, refused_in_one_line
from test_pipnet import face_template, textured_image

from fabrec_bench.errors import UserError
from fabrec_bench.plugins import get_registry
from fabrec_bench.predictions import read_landmarks
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench_plugins.models.hrnet.model import HRNetModel

POINTS = {"wflw": 98, "300w": 68, "cofw": 29, "aflw": 19}


def make_faces(dataset: str, folder, n: int, seed: int) -> list[dict]:
    """Faces in the files' frame: several image sizes, faces near and across borders, and one face so large
    that crop() first shrinks the whole image (its window is twice the crop or more)."""
    rng = np.random.default_rng(seed)
    template = face_template(dataset, seed)
    folder.mkdir(parents=True, exist_ok=True)
    faces = []
    for i in range(n):
        big = i == 0
        W, H = (int(rng.integers(620, 700)), int(rng.integers(600, 680))) if big else \
            (int(rng.integers(200, 360)), int(rng.integers(180, 340)))
        side = rng.uniform(430, 500) if big else rng.uniform(70, 150)
        x0, y0 = rng.uniform(0, W - side), rng.uniform(0, H - side)
        if i % 3 == 2:  # across a border
            x0 = -0.2 * side if i % 2 else W - 0.8 * side
        shape = np.clip(template + rng.normal(0, 0.02, template.shape), 0, 1)
        gt = np.stack([x0 + shape[:, 0] * side, y0 + shape[:, 1] * side * rng.uniform(0.9, 1.1)], 1)
        path = folder / f"{dataset}-{seed}-{i}.png"
        cv2.imwrite(str(path), textured_image(rng, H, W))
        faces.append({"gt": gt, "image": path, "box": (x0, y0, x0 + side, y0 + side)})
    return faces


def write_annotations(path, faces: list[dict], dataset: str) -> None:
    """An annotation file in HRNet-Facial's columns; centre and scale from the landmarks (COFW's rule)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_name", "scale", *(["box_size"] if dataset == "aflw" else []), "center_w", "center_h",
                         *(f"{c}{i}" for i in range(POINTS[dataset]) for c in "xy")])
        for face in faces:
            scale, cw, ch = cofw_centre_scale(face["gt"])
            box = [100.0] if dataset == "aflw" else []
            writer.writerow([face["image"].name, scale, *box, cw, ch, *face["gt"].flatten()])


def original_predictions(dataset: str, faces: list[dict], state: dict) -> torch.Tensor:
    """tools/test.py: the dataset's __getitem__ per face, batches of 8, the network, decode_preds."""
    net = HighResolutionNet(POINTS[dataset])
    net.load_state_dict(state)
    net.eval()
    items = []
    for face in faces:
        scale, cw, ch = cofw_centre_scale(face["gt"])
        if dataset == "cofw":  # lib/datasets/cofw.py: the .mat's uint8 pixels, centre and scale from the landmarks
            img = np.array(Image.open(face["image"]).convert("RGB"))
            centre = torch.Tensor([cw, ch])
            scale *= 1.25
            img = crop(img, centre, scale, [256, 256]).astype(np.float32)
            img = ((img / 255.0 - np.array([0.485, 0.456, 0.406], np.float32))
                   / np.array([0.229, 0.224, 0.225], np.float32)).transpose([2, 0, 1])
        else:  # the annotation file's row, read back as pandas gives it
            img, centre, scale = dataset_input(str(face["image"]), float(scale), float(np.float64(cw)), float(ch))
        items.append((img, centre, scale))
    preds = []
    with torch.no_grad():
        for start in range(0, len(items), 8):
            batch = items[start:start + 8]
            # default_collate in a DataLoader worker (WORKERS: 4) stacks into a new contiguous NCHW tensor
            output = net(torch.from_numpy(np.ascontiguousarray(np.stack([b[0] for b in batch]))))
            centres = torch.stack([b[1] for b in batch])
            scales = torch.tensor([b[2] for b in batch], dtype=torch.float64)
            preds.append(decode_preds(output.data.cpu(), centres, scales, [64, 64]))
    return torch.cat(preds)


def checkpoint(tmp_path, dataset: str, seed: int) -> tuple[dict, object]:
    state = random_weights(HighResolutionNet(POINTS[dataset]), seed)
    path = tmp_path / f"HR18-{dataset}.pth"
    torch.save(state, path)
    return state, path


def ours(dataset: str, path, faces: list[dict], **options) -> np.ndarray:
    """fabrec-bench's predictions, in the frame the original's code works in."""
    return predict_on(HRNetModel, dataset, path, faces, "files", **options)


@pytest.mark.parametrize("dataset", ["wflw", "300w", "cofw", "aflw"])
def test_predictions_equal_hrnet_facials_own_test(dataset, tmp_path):
    faces = make_faces(dataset, tmp_path / "images", 10, seed=1)
    state, path = checkpoint(tmp_path, dataset, seed=2)
    expected = original_predictions(dataset, faces, state).numpy()
    assert np.ptp(expected[:, :, 0], axis=0).max() > 20  # the random network's answers vary: the test has teeth
    options = {}
    if dataset != "cofw":
        write_annotations(tmp_path / "test.csv", faces, dataset)
        options = {"annotations": str(tmp_path / "test.csv")}
    got = ours(dataset, path, faces, **options)
    np.testing.assert_array_equal(got, expected)  # whole pixels, as its decode_preds returns them
    if dataset != "cofw":  # without the file, the same centre and scale come from the landmarks
        np.testing.assert_array_equal(ours(dataset, path, faces), expected)


def test_every_accepted_layout_gives_the_same_predictions(tmp_path):
    faces = make_faces("aflw", tmp_path / "images", 3, seed=3)
    state, path = checkpoint(tmp_path, "aflw", seed=4)
    reference = ours("aflw", path, faces)
    module = {f"module.{k}": v for k, v in state.items()}
    mmpose = {("keypoint_head.final_layer." + k[5:] if k.startswith("head.") else "backbone." + k): v
              for k, v in state.items()}
    layouts = {"plain": state, "module": module, "wrapped": {"state_dict": module, "epoch": 60},
               "mmpose": {"state_dict": mmpose, "meta": {"epoch": 60, "best_score": np.float64(3.5), "seed": 0}}}
    for name, payload in layouts.items():
        torch.save(payload, tmp_path / f"{name}.pth")
        np.testing.assert_array_equal(ours("aflw", tmp_path / f"{name}.pth", faces), reference, err_msg=name)
    assert HRNetModel.load(tmp_path / "mmpose.pth", "cpu").layout == "mmpose"


def test_bad_checkpoints_get_one_line_each(tmp_path):
    state, path = checkpoint(tmp_path, "aflw", seed=5)
    torch.save({k.replace("stage", "level"): v for k, v in state.items()}, tmp_path / "other.pth")
    torch.save({k: v for k, v in state.items() if not k.startswith("stage4.2")}, tmp_path / "partial.pth")
    data = path.read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 3])
    torch.save({"state_dict": state, "runner": object()}, tmp_path / "objects.pth")
    expected = {"other.pth": "missing, per layout: hrnet-facial: stage4.2.fuse_layers.0.3.0.weight",
                "partial.pth": "missing, per layout", "truncated.pth": "not a readable PyTorch checkpoint",
                "objects.pth": "unsafe pickle"}
    refused_in_one_line(HRNetModel.load, tmp_path, expected)


def test_an_annotation_file_that_does_not_fit_names_the_line_or_the_face(tmp_path):
    faces = make_faces("wflw", tmp_path / "images", 2, seed=6)
    _, path = checkpoint(tmp_path, "wflw", seed=7)
    (tmp_path / "short.csv").write_text("image_name,scale,center_w,center_h\nx.png,1.0,3,4\n")
    with pytest.raises(UserError, match=r"short.csv, line 2: 4 columns"):
        ours("wflw", path, faces, annotations=str(tmp_path / "short.csv"))
    write_annotations(tmp_path / "other.csv", make_faces("wflw", tmp_path / "elsewhere", 2, seed=8), "wflw")
    with pytest.raises(UserError, match="no row for face wflw/0"):
        ours("wflw", path, faces, annotations=str(tmp_path / "other.csv"))


def test_eval_prints_the_number_hrnets_test_prints(cli, synthetic_wflw, tmp_path, monkeypatch):
    from fabrec_bench import api, warnings

    monkeypatch.setattr(warnings, "_seen", set())  # the warning is printed once per process

    split = api.read_split(get_registry().dataset("wflw"), synthetic_wflw, "test")
    faces = [{"gt": s.landmarks_px, "image": s.image_path} for s in split.samples]
    state, path = checkpoint(tmp_path, "wflw", seed=9)
    preds = original_predictions("wflw", faces, state)
    nme = compute_nme(preds, torch.tensor(np.stack([f["gt"] for f in faces]))).mean()

    result = cli("eval", "-m", "hrnet", "--checkpoint", path, "-d", "wflw", "-s", "test", "--protocol", "hrnet",
                 "--data-root", synthetic_wflw, "--device", "cpu")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished", model="hrnet")
    assert run.metrics["nme"] == pytest.approx(nme, rel=1e-9)
    # no annotations= file: the fallback crop rule is said, warned about, stored and shown
    assert "crops: landmarks' whole-pixel extent (COFW's rule)" in result.output
    assert "hrnet without --config annotations=FILE crops wflw faces by the landmarks'" in result.stderr
    assert run.provenance["crop_rule"] == "landmarks' whole-pixel extent (COFW's rule)"
    board = json.loads(cli("leaderboard", "--format", "json", "--no-reported").output)
    assert [row["boxes"] for row in board] == ["landmarks' whole-pixel extent (COFW's rule)"]

    work = tmp_path / "bad-work"
    _, wrong = checkpoint(tmp_path, "aflw", seed=10)
    result = cli("eval", "-m", "hrnet", "--checkpoint", wrong, "-d", "wflw", "-s", "test", "--data-root",
                 synthetic_wflw, work_dir=work)
    assert result.exit_code != 0 and "checkpoint predicts 19 landmarks, dataset 'wflw' has 98" in result.output
    assert nothing_stored(work)


def test_models_info_says_what_hrnet_is_and_where_its_weights_are(cli):
    text = " ".join(cli("models", "info", "hrnet").output.split())
    params = sum(p.numel() for p in HighResolutionNet(98).parameters())  # the original's network
    for words in ("MIT licence", "f776dbe8eb6f", "HR18-WFLW.pth: https://1drv.ms/u/s!AiWjZ1LamlxzdTsr_9QZCwJsn5U",
                  "hrnetv2_w18_wflw_256x256-2bf032a6_20210125.pth", "keypoint_head.final_layer", "module.",
                  f"wflw (98 points): {params:,}", "timm", "face_landmarks_wflw_test.csv"):
        assert words in text, words


def test_aflw_under_the_hrnet_protocol_divides_by_the_annotation_files_box_size(cli, tmp_path):
    from fabrec_bench import api
    from fabrec_bench.models import DatasetFacts
    from fabrec_bench.synth.formats import write_aflw

    write_aflw(tmp_path / "AFLW", faces=30, seed=3)
    adapter = get_registry().dataset("aflw")
    split = api.read_split(adapter, tmp_path / "AFLW", "full")
    facts = DatasetFacts.of(adapter)
    offset = facts.file_origin - facts.coordinate_origin
    rng = np.random.default_rng(4)
    box_size = {}
    with open(tmp_path / "face_landmarks_aflw_test.csv", "w", newline="") as f:  # HRNet-Facial's columns
        writer = csv.writer(f)
        writer.writerow(["image_name", "scale", "box_size", "center_w", "center_h",
                         *(f"{c}{i}" for i in range(19) for c in "xy")])
        for s in split.samples:
            x0, y0, x1, y1 = s.box_px
            box_size[s.id] = np.sqrt((x1 - x0) * (y1 - y0)) * rng.uniform(1.05, 1.3)  # not the .mat box's
            scale, cw, ch = cofw_centre_scale(s.landmarks_px + offset)
            writer.writerow([Path(s.image_path).name, scale, box_size[s.id], cw, ch,
                             *(s.landmarks_px + offset).flatten()])
    _, path = checkpoint(tmp_path, "aflw", seed=5)
    nmes = {}
    for name, config in (("file", ["--config", f"annotations={tmp_path / 'face_landmarks_aflw_test.csv'}"]),
                         ("none", [])):
        work = tmp_path / f"work-{name}"
        result = cli("eval", "-m", "hrnet", "--checkpoint", path, "-d", "aflw", "-s", "full", "--protocol", "hrnet",
                     "--data-root", tmp_path / "AFLW", "--device", "cpu", *config, work_dir=work)
        assert result.exit_code == 0, result.output
        with ResultsStore(store_path(work)) as store:
            (run,) = store.runs(status="finished", model="hrnet")
        ids, pred = read_landmarks(work / "runs" / run.uid / "predictions.csv", 19)
        error = np.linalg.norm(pred - split.landmarks(), axis=-1).sum(axis=1)
        nmes[name] = run.metrics["nme"]
        if name == "file":  # compute_nme: the distances summed over the 19 points / (box_size * 19)
            expected = np.mean([e / (box_size[i] * 19) for e, i in zip(error, ids, strict=True)])
            assert "box_size column of" in run.model_info["normaliser_source"]
            assert "normaliser: box_size column of" in result.output and "crops: annotation file" in result.output
        else:
            boxes = split.boxes()
            expected = np.mean(error / (np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])) * 19))
            assert "no annotations= file" in run.model_info["normaliser_source"]
        assert run.metrics["nme"] == pytest.approx(expected, rel=1e-9), name
    assert nmes["file"] < nmes["none"]  # the file's larger boxes: the test has teeth


def test_predictions_in_the_original_frame_are_hrnets_raw_output(cli, tmp_path):
    from fabrec_bench.synth.formats import write_300w

    write_300w(tmp_path / "300W", per_folder=2, seed=5)
    _, path = checkpoint(tmp_path, "300w", seed=6)
    result = cli("eval", "-m", "hrnet", "--checkpoint", path, "-d", "300w", "-s", "challenging",
                 "--data-root", tmp_path / "300W", "--device", "cpu")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished", model="hrnet")
    ids, ours_ = read_landmarks(tmp_path / "work" / "runs" / run.uid / "predictions.csv", 68)
    split = api_split("300w", tmp_path / "300W", "challenging")
    raw = original_predictions("300w", [{"gt": s.landmarks_px + 1, "image": s.image_path} for s in split.samples],
                               torch.load(path)).numpy()  # HRNet-Facial's own, in the .pts files' 1-based frame
    np.testing.assert_array_equal(ours_ + 1, raw)
    for frame, expected in (("ours", ours_), ("original", raw)):
        out = tmp_path / f"{frame}.csv"
        done = cli("results", "predictions", str(run.id), out, "--frame", frame)
        assert done.exit_code == 0, done.output
        assert read_landmarks(out, 68)[0] == ids
        np.testing.assert_array_equal(read_landmarks(out, 68)[1], expected)


def api_split(dataset: str, root, split: str):
    from fabrec_bench import api

    return api.read_split(get_registry().dataset(dataset), root, split)
