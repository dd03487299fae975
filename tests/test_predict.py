"""`fabrec-bench predict` on one's own photographs: faces from a box file or a detector, landmarks written in
image pixels and drawn where they are; a faceless image is listed, a corrupt file is one line, the rest goes on."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil

import cv2
import numpy as np
import pytest
import torch

from fabrec_bench import api
from fabrec_bench.plugins import get_registry
from fabrec_bench.reports.drawing import PREDICTION_BGR


@pytest.fixture
def photos(synthetic_wflw, tmp_path):
    """A folder of 'photographs': three synthetic faces (one in a subfolder), a blank image, a corrupt file;
    and a box file with each face's box."""
    split = api.read_split(get_registry().dataset("wflw"), synthetic_wflw, "test")
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    rows = [["image", "x0", "y0", "x1", "y1"]]
    for k, sample in enumerate(split.samples[:3]):
        target = (folder / "more" if k == 2 else folder) / f"face{k}.jpg"
        shutil.copy(sample.image_path, target)
        rows.append([target.name, *(f"{v:.2f}" for v in sample.box_px)])
    cv2.imwrite(str(folder / "blank.png"), np.full((90, 120, 3), 127, np.uint8))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with open(tmp_path / "boxes.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder, tmp_path / "boxes.csv"


def mean_shape_checkpoint(cli, synthetic_wflw, tmp_path):
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw).exit_code == 0
    return next((tmp_path / "work" / "runs").rglob("checkpoint.npz"))


def test_landmarks_are_written_and_drawn_where_they_are(cli, synthetic_wflw, photos, tmp_path):
    folder, boxes = photos
    checkpoint = mean_shape_checkpoint(cli, synthetic_wflw, tmp_path)
    out = tmp_path / "out"
    result = cli("predict", folder, "-m", "mean-shape", "--checkpoint", checkpoint, "--boxes", boxes, "-o", out)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "3 face(s) in 3 image(s)" in text
    assert f"no face found: {folder / 'blank.png'}" in text
    assert f"not read: {folder / 'broken.jpg'}: cannot read the image" in text
    records = {r["image"]: r for r in json.loads((out / "landmarks.json").read_text())}
    assert len(records) == 5 and records[str(folder / "blank.png")]["faces"] == []
    assert "cannot read the image" in records[str(folder / "broken.jpg")]["error"]
    with open(out / "landmarks.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and len(rows[0]) == 6 + 2 * 98
    for row in rows:  # the pixel under each predicted landmark is the prediction colour in the drawn image
        drawn = cv2.imread(str(out / "drawn" / (os.path.basename(row["image"]).rsplit(".", 1)[0] + ".png")))
        xy = np.array([[float(row[f"x{i}"]), float(row[f"y{i}"])] for i in range(98)])
        inside = [(x, y) for x, y in np.round(xy).astype(int) if 0 <= x < drawn.shape[1] and 0 <= y < drawn.shape[0]]
        assert len(inside) > 90 and all(tuple(drawn[y, x]) == PREDICTION_BGR for x, y in inside)
        box = [float(row[k]) for k in ("box_x0", "box_y0", "box_x1", "box_y1")]
        assert box[0] <= xy[:, 0].mean() <= box[2] and box[1] <= xy[:, 1].mean() <= box[3]


def test_a_model_that_needs_a_checkpoint_says_so(cli, photos):
    folder, _ = photos
    result = cli("predict", folder, "-m", "mean-shape")
    assert result.exit_code != 0 and "needs --checkpoint FILE" in result.output
    result = cli("predict", folder / "nothere", "-m", "mean-shape")
    assert result.exit_code != 0 and "no such file or folder" in result.output


@pytest.mark.skipif(not importlib.util.find_spec("dlib") and not os.environ.get("FABREC_BENCH_REQUIRE_DLIB"),
                    reason="dlib extra not installed")
def test_dlib_predicts_on_photographs_with_its_own_detector(cli, photos, tmp_path):
    folder, _ = photos
    result = cli("predict", folder, "-m", "dlib-ert", "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "faces from detector-hog" in result.output
    records = json.loads((tmp_path / "out" / "landmarks.json").read_text())
    assert all(len(face["landmarks"]) == 68 for r in records for face in r.get("faces", []))


def test_3fabrec_adds_its_five_tiles_and_collapsed_heatmaps(cli, photos, tmp_path):
    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    folder, boxes = photos
    torch.manual_seed(0)
    checkpoint = tmp_path / "3fabrec.pt"
    save_checkpoint(checkpoint, Fabrec(98, 128), {"stage": "landmarks", "scheme": "wflw98", "num_points": 98,
                                                  "input_size": 128, "config": {"input_size": 128}})
    result = cli("predict", folder / "face0.jpg", "-m", "3fabrec", "--checkpoint", checkpoint, "--boxes", boxes,
                 "-o", tmp_path / "out", "--device", "cpu")
    assert result.exit_code == 0, result.output
    tiles = cv2.imread(str(tmp_path / "out" / "drawn" / "face0-face0-tiles.png"))
    heatmaps = cv2.imread(str(tmp_path / "out" / "drawn" / "face0-face0-heatmaps.png"))
    assert tiles.shape == (128, 5 * 128, 3) and heatmaps.shape == (128, 128, 3)
    assert not np.array_equal(tiles[:, :128], tiles[:, 128:256])  # input and reconstruction differ
    drawn = np.any(tiles[:, 512:] != tiles[:, :128], axis=2)  # the last tile is the input with the prediction
    assert drawn.any() and (tiles[:, 512:][drawn] == PREDICTION_BGR).all()


def test_released_models_predict_from_the_face_box_on_photographs(cli, photos, tmp_path):
    """pipnet and hrnet crop photographs by the box they are given (no dataset rule, no ground truth)."""
    from original_hrnet import HighResolutionNet
    from original_pipnet import build_net
    from released import random_weights
    from test_pipnet import face_template

    folder, boxes = photos
    torch.save(random_weights(build_net("resnet18", 98), 0), tmp_path / "pipnet.pth")
    torch.save(random_weights(HighResolutionNet(98), 0), tmp_path / "hrnet.pth")
    np.savetxt(tmp_path / "meanface.txt", face_template("wflw", 0).reshape(1, -1))
    for model, extra in (("pipnet", ["--config", f"meanface={tmp_path / 'meanface.txt'}"]), ("hrnet", [])):
        out = tmp_path / model
        result = cli("predict", folder, "-m", model, "--checkpoint", tmp_path / f"{model}.pth", "--boxes", boxes,
                     "-o", out, "--device", "cpu", *extra)
        assert result.exit_code == 0, result.output
        with open(out / "landmarks.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        assert len(rows) == 3 and all(np.isfinite(float(v)) for row in rows for k, v in row.items() if k != "image")
