"""The `pipnet` model runs a PIPNet checkpoint as PIPNet's own code does (tests/original_pipnet.py, written out
from its source): the same crop files, network, decoding and mean-face neighbours, hence the same predictions
to 1e-4 px on synthetic faces of every dataset PIPNet was released on, and under `--protocol pipnet` the number
its lib/test.py prints. Weights are random (no release is downloaded), written in the original's key layout."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest
import torch
from face_boxes import box_in_image
from original_pipnet import (
    build_net,
    compute_nme,
    gen_meanface,
    get_meanface,
    process_300w,
    process_aflw,
    process_cofw,
    process_wflw,
    run_test,
    write_label_file,
)
from released import random_weights, refused_in_one_line

from fabrec_bench.errors import UserError
from fabrec_bench.models import DatasetFacts, RunContext
from fabrec_bench.plugins import get_registry
from fabrec_bench.predictions import read_landmarks
from fabrec_bench.schemes import WFLW98_TO_AFLW19, WFLW98_TO_COFW29, WFLW98_TO_IBUG68, reduce_points
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench.synth.face import landmarks_3d, sample_face_params
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.pipnet.decoding import neighbours
from fabrec_bench_plugins.models.pipnet.model import PipNetModel, read_meanface, training_mean_face

POINTS = {"wflw": 98, "300w": 68, "cofw": 29, "cofw68": 68, "aflw": 19}
REDUCTION = {"300w": WFLW98_TO_IBUG68, "cofw68": WFLW98_TO_IBUG68, "cofw": WFLW98_TO_COFW29, "aflw": WFLW98_TO_AFLW19}


def face_template(dataset: str, seed: int) -> np.ndarray:
    """A frontal face of the synthetic face model in the dataset's points, as fractions of its extent (a mean
    face like the real ones: random points can leave a point with too few neighbour votes for PIPNet's merge,
    which then fails in the original as in ours)."""
    params = sample_face_params(np.random.default_rng(seed), large_pose=False, exaggerated=False)
    points = landmarks_3d(params)[:, :2]
    if dataset in REDUCTION:
        points = reduce_points(points, REDUCTION[dataset])
    return 0.1 + 0.8 * (points - points.min(0)) / np.ptp(points, axis=0)


def textured_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smooth random colour blobs with fine noise: crops of it differ from face to face and from their JPEG."""
    coarse = rng.uniform(0, 255, (max(height // 16, 2), max(width // 16, 2), 3)).astype(np.float32)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 12, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_faces(dataset: str, folder, n: int, seed: int, template: np.ndarray) -> list[dict]:
    """Faces in the dataset's files' own frame (300-W and COFW 1-based): images of several sizes and types,
    non-square boxes, a third of the faces cut by an image border; landmarks a template shape with noise."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        W, H = int(rng.integers(200, 340)), int(rng.integers(180, 320))
        bw, bh = rng.uniform(70, 130), rng.uniform(80, 150)
        x0, y0, bw, bh = box_in_image(rng, i, W, H, bw, bh, dataset)
        shape = np.clip(template + rng.normal(0, 0.02, template.shape), 0.02, 0.98)
        gt = np.stack([x0 + shape[:, 0] * bw, y0 + shape[:, 1] * bh], 1)
        suffix = ".png" if dataset != "300w" or i % 2 else ".jpg"
        path = folder / f"{dataset}-{seed}-{i}{suffix}"
        cv2.imwrite(str(path), textured_image(rng, H, W))
        out.append({"box": (x0, y0, x0 + bw, y0 + bh), "gt": gt, "image": path})
    return out


def original_crop(dataset: str, face: dict, image: np.ndarray):
    """The crop, labels and box (xmin, ymin, w, h) PIPNet's preprocessing makes of one face."""
    x0, y0, x1, y1 = face["box"]
    if dataset == "wflw":
        return process_wflw(image, list(face["gt"].flatten()), [x0, y0, x1, y1], 256)
    if dataset == "300w":
        return process_300w(image, [(f"{x:.6f}", f"{y:.6f}") for x, y in face["gt"]], 256)
    if dataset in ("cofw", "cofw68"):
        return process_cofw(image, np.array([x0, y0, x1 - x0, y1 - y0]), face["gt"], 256,
                            scale=1.3 if dataset == "cofw68" else 1.0)
    return process_aflw(image, (x0, x1, y0, y1), face["gt"], 256)


def original_pipeline(dataset: str, train: list[dict], test: list[dict], state: dict, backbone: str, folder):
    """PIPNet end to end: preprocess (crop files, train.txt, test.txt, meanface.txt), then lib/test.py.
    Returns the predictions in the files' frame, the labels and the mean-face file."""
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for part, faces in (("train", train), ("test", test)):
        entries[part] = []
        for i, face in enumerate(faces):
            crop, labels, box = original_crop(dataset, face, cv2.imread(str(face["image"])))
            name = f"{part}_{i:04d}" + (face["image"].suffix if dataset == "300w" else ".jpg")
            cv2.imwrite(str(folder / name), crop)
            entries[part].append((name, labels, box))
        write_label_file(folder / f"{part}.txt", [(name, labels) for name, labels, _ in entries[part]])
    gen_meanface(folder / "train.txt", folder / "meanface.txt")
    net = build_net(backbone, POINTS[dataset])
    net.load_state_dict(state)
    fractions = run_test(net, [(n, lab) for n, lab, _ in entries["test"]], str(folder), folder / "meanface.txt",
                         POINTS[dataset])
    preds = [np.asarray(f, np.float64).reshape(-1, 2) * [w, h] + [x, y]
             for f, (_, _, (x, y, w, h)) in zip(fractions, entries["test"], strict=True)]
    return np.stack(preds), [np.asarray(lab, np.float64).reshape(-1, 2) for _, lab, _ in entries["test"]], \
        fractions, folder / "meanface.txt"


def as_samples(dataset: str, faces: list[dict]) -> tuple[list[FaceSample], DatasetFacts]:
    """The faces as fabrec-bench's adapter gives them (its 0-based frame)."""
    facts = DatasetFacts.of(get_registry().dataset(dataset))
    offset = facts.file_origin - facts.coordinate_origin
    return [FaceSample(f"{dataset}/{i}", f["image"], f["gt"] - offset, tuple(np.asarray(f["box"]) - offset))
            for i, f in enumerate(faces)], facts


def checkpoint(tmp_path, dataset: str, backbone: str, seed: int) -> tuple[dict, object]:
    state = random_weights(build_net(backbone, POINTS[dataset]), seed, gain=2.0)
    path = tmp_path / f"{dataset}-{backbone}-epoch59.pth"
    torch.save(state, path)
    return state, path


def compare(dataset: str, backbone: str, tmp_path, n_test: int = 9, seed: int = 0) -> dict:
    template = face_template(dataset, seed)
    train = make_faces(dataset, tmp_path / "images", 12, seed, template)
    test = make_faces(dataset, tmp_path / "images", n_test, seed + 50, template)
    state, path = checkpoint(tmp_path, dataset, backbone, seed)
    expected, labels, fractions, meanface = original_pipeline(dataset, train, test, state, backbone,
                                                             tmp_path / "pipnet")
    train_samples, facts = as_samples(dataset, train)
    test_samples, _ = as_samples(dataset, test)
    model = PipNetModel.load(path, RunContext(device="cpu", dataset=facts, training_faces=lambda: train_samples))
    got = model.predict(test_samples) + (facts.file_origin - facts.coordinate_origin)
    return {"got": got, "expected": expected, "labels": labels, "fractions": fractions, "meanface": meanface,
            "model": model, "train": train_samples, "test": test_samples, "facts": facts, "path": path}


@pytest.mark.parametrize("dataset", ["wflw", "300w", "cofw", "aflw", "cofw68"])
def test_predictions_equal_pipnets_own_test(dataset, tmp_path):
    r = compare(dataset, "resnet18", tmp_path)
    assert np.isfinite(r["expected"]).all()
    spread = np.ptp(np.stack(r["fractions"]).reshape(len(r["fractions"]), -1, 2)[:, :, 0], axis=0).max()
    assert spread > 0.1  # the random network's answers move from face to face: the comparison has teeth
    np.testing.assert_allclose(r["got"], r["expected"], atol=1e-4, rtol=0)


@pytest.mark.parametrize("backbone", ["resnet50", "resnet101"])
def test_deeper_backbones_equal_too(backbone, tmp_path):
    r = compare("wflw", backbone, tmp_path, n_test=3, seed=3)
    assert r["model"].net.variant.backbone == backbone  # read from the keys
    np.testing.assert_allclose(r["got"], r["expected"], atol=1e-4, rtol=0)


def test_mean_face_from_the_training_split_equals_its_meanface_file(tmp_path):
    """gen_meanface's file and fabrec-bench's computation from the training split give the same neighbours,
    and --config meanface=PATH reads the file to the same tables."""
    for dataset in ("wflw", "300w", "aflw"):
        train = make_faces(dataset, tmp_path / dataset, 15, 5, face_template(dataset, 5))
        labels = []
        for face in train:
            _, lab, _ = original_crop(dataset, face, cv2.imread(str(face["image"])))
            labels.append((face["image"].name, lab))
        write_label_file(tmp_path / f"{dataset}-train.txt", labels)
        gen_meanface(tmp_path / f"{dataset}-train.txt", tmp_path / f"{dataset}-meanface.txt")
        samples, facts = as_samples(dataset, train)
        computed = training_mean_face(samples, dataset, facts.file_origin - facts.coordinate_origin)
        from_file = read_meanface(tmp_path / f"{dataset}-meanface.txt", POINTS[dataset])
        np.testing.assert_array_equal(computed, from_file)
        indices, index1, index2, max_len = get_meanface(tmp_path / f"{dataset}-meanface.txt", 10)
        table = neighbours(computed, 10)
        np.testing.assert_array_equal(table.indices, np.array(indices))
        np.testing.assert_array_equal(table.voters.reshape(-1), index1)
        np.testing.assert_array_equal(table.slots.reshape(-1), index2)
        assert table.voters.shape[1] == max_len


def test_meanface_file_option_gives_the_same_predictions(tmp_path):
    r = compare("aflw", "resnet18", tmp_path, n_test=4, seed=7)
    model = r["model"]
    model.options = type(model.options)(**{**vars(model.options), "meanface": str(r["meanface"])})
    np.testing.assert_array_equal(model.predict(r["test"]), r["got"] - (r["facts"].file_origin -
                                                                         r["facts"].coordinate_origin))
    assert model.describe()["meanface"] == str(r["meanface"])


def test_accepted_layouts_load_to_the_same_network(tmp_path):
    state, path = checkpoint(tmp_path, "aflw", "resnet18", 1)
    variants = {"module": {f"module.{k}": v for k, v in state.items()}, "wrapped": {"state_dict": state},
                "wrapped-module": {"state_dict": {f"module.{k}": v for k, v in state.items()}, "epoch": 59}}
    for name, payload in variants.items():
        torch.save(payload, tmp_path / f"{name}.pth")
        loaded = PipNetModel.load(tmp_path / f"{name}.pth", "cpu").net.state_dict()
        assert all(torch.equal(loaded[k], state[k]) for k in state), name


def test_bad_checkpoints_get_one_line_each(tmp_path):
    state, path = checkpoint(tmp_path, "aflw", "resnet18", 2)
    other = {k.replace("layer", "stage"): v for k, v in state.items()}  # another model's layout
    torch.save(other, tmp_path / "other.pth")
    data = path.read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    torch.save({"net": state, "optimiser": object()}, tmp_path / "objects.pth", _use_new_zipfile_serialization=True)
    torch.save({"cls_layer.weight": state["cls_layer.weight"]}, tmp_path / "partial.pth")
    expected = {"other.pth": "missing layer4.0.conv1.weight", "truncated.pth": "not a readable PyTorch checkpoint",
                "objects.pth": "unsafe pickle", "partial.pth": "missing conv1.weight"}
    refused_in_one_line(PipNetModel.load, tmp_path, expected)


def test_options_that_contradict_the_checkpoint_are_refused(tmp_path):
    r = compare("aflw", "resnet18", tmp_path, n_test=1, seed=8)
    model = r["model"]
    model.options = type(model.options)(**{**vars(model.options), "backbone": "resnet50"})
    with pytest.raises(UserError, match="backbone=resnet50 does not match the checkpoint, whose backbone is resnet18"):
        model.predict(r["test"])


def test_eval_prints_the_number_pipnets_test_prints_and_refuses_bad_files(cli, synthetic_wflw, tmp_path):
    """Through the CLI on a synthetic WFLW release: the stored NME under --protocol pipnet is lib/test.py's
    mean of compute_nme over its own crop files; a checkpoint for another landmark count stores nothing."""
    from fabrec_bench import api

    adapter = get_registry().dataset("wflw")
    splits = {s: api.read_split(adapter, synthetic_wflw, s) for s in ("train", "test")}
    faces = {s: [{"box": tuple(x.box_px), "gt": x.landmarks_px, "image": x.image_path} for x in split.samples]
             for s, split in splits.items()}
    state, path = checkpoint(tmp_path, "wflw", "resnet18", 4)
    _, labels, fractions, _ = original_pipeline("wflw", faces["train"], faces["test"], state, "resnet18",
                                                tmp_path / "pipnet")
    nmes = [compute_nme(f, lab, np.linalg.norm(lab[60] - lab[72])) for f, lab in zip(fractions, labels, strict=True)]

    result = cli("eval", "-m", "pipnet", "--checkpoint", path, "-d", "wflw", "-s", "test", "--protocol", "pipnet",
                 "--data-root", synthetic_wflw, "--device", "cpu")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished", model="pipnet")
    assert run.protocol["name"] == "pipnet"
    assert run.metrics["nme"] == pytest.approx(np.mean(nmes), rel=1e-6)
    # in its own frame, the predictions are lib/test.py's: fractions of each face's crop box
    done = cli("results", "predictions", str(run.id), tmp_path / "raw.csv", "--frame", "original")
    assert done.exit_code == 0, done.output
    np.testing.assert_allclose(read_landmarks(tmp_path / "raw.csv", 98)[1],
                               np.asarray(fractions, dtype=np.float64).reshape(-1, 98, 2), atol=1e-9)

    _, wrong = checkpoint(tmp_path, "300w", "resnet18", 5)
    work = tmp_path / "bad-work"
    refused = {("eval", "--checkpoint", wrong): "checkpoint predicts 68 landmarks, dataset 'wflw' has 98",
               ("eval", "--checkpoint", path, "--config", "backbone=resnet50"): "does not match the checkpoint",
               ("eval", "--checkpoint", path, "--config", "meanface=missing.txt"): "cannot read the mean face"}
    for args, words in refused.items():
        result = cli(*args, "-m", "pipnet", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw, work_dir=work)
        assert result.exit_code != 0 and words in result.output, args
        store = work / "results.sqlite"
        assert not store.exists() or sqlite3.connect(store).execute("select count(*) from runs").fetchone()[0] == 0


def test_models_info_says_what_pipnet_is_and_where_its_weights_are(cli):
    result = cli("models", "info", "pipnet")
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    r18_wflw = sum(p.numel() for p in build_net("resnet18", 98).parameters())  # the original's network
    for words in ("(eval --checkpoint), or trained here by its own recipe (run)", "MIT licence", "b9eab5881643", "drive.google.com/drive/folders/",
                  "snapshots/WFLW/pip_32_16_60_r18_l2_l1_10_1_nb10/epoch59.pth", "module.",
                  "a pickle holding Python objects", "resnet101", f"wflw (98 points): {r18_wflw:,}", "meanface"):
        assert words in text, words
