"""Every field protocol gives what its code's own metric functions give on the inputs that code builds
(tests/original_field_protocols.py, written out from each source), on faces where the frame, the clamp or the
box matters: non-square boxes, faces cut by the image border, coordinates that a code truncates.

The same comparisons were run against the original code itself (PIPNet's lib/preprocess.py and
lib/functions.py, SPIGA's MetricsLandmarks with SciPy 1.10's simps): docs/measurements.md gives the figures.
"""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest
from face_boxes import box_in_image
from original_field_protocols import (
    hrnet,
    in_crop,
    mmpose,
    pipnet_300w,
    pipnet_aflw,
    pipnet_cofw,
    pipnet_test,
    pipnet_wflw,
    spiga,
    star,
)

from fabrec_bench import api
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import resolve_protocols
from fabrec_bench.types import FaceSample, Split

POINTS = {"wflw": 98, "300w": 68, "cofw": 29, "cofw68": 68, "aflw": 19}


def make_faces(dataset: str, folder, n: int = 30, seed: int = 0) -> list[dict]:
    """Faces in the dataset's files' own frame (300-W and COFW 1-based): images of several sizes, non-square
    boxes, a third of the faces crossing the left, top, right or bottom border, predictions with errors of
    several sizes. COFW boxes are whole [x y w h] numbers, as the release's."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        W, H = int(rng.integers(180, 320)), int(rng.integers(160, 300))
        bw, bh = rng.uniform(60, 120), rng.uniform(70, 140)
        x0, y0, bw, bh = box_in_image(rng, i, W, H, bw, bh, dataset)
        points = POINTS[dataset]
        gt = np.stack([x0 + rng.uniform(0.05, 0.95, points) * bw, y0 + rng.uniform(0.05, 0.95, points) * bh], 1)
        pred = gt + rng.normal(0, 1, gt.shape) * rng.uniform(0.3, 8)
        path = folder / f"{dataset}-{i}.png"
        cv2.imwrite(str(path), np.zeros((H, W, 3), np.uint8))
        out.append({"W": W, "H": H, "box": (x0, y0, x0 + bw, y0 + bh), "gt": gt, "pred": pred, "image": path})
    return out


def ours(dataset: str, split: str, protocol: str, faces: list[dict]) -> dict:
    """fabrec-bench's numbers: the faces as its adapter gives them (our 0-based frame) under `protocol`."""
    registry = get_registry()
    adapter = registry.dataset(dataset)
    offset = adapter.file_origin - adapter.coordinate_origin
    samples = [FaceSample(str(i), f["image"], f["gt"] - offset, tuple(np.asarray(f["box"]) - offset))
               for i, f in enumerate(faces)]
    eval_protocol = resolve_protocols(adapter, registry, protocol, split)[0]
    pred = np.stack([f["pred"] for f in faces]) - offset
    return api.evaluate(pred, Split(dataset, split, adapter.scheme, samples), eval_protocol, registry,
                        adapter=adapter).metrics


def assert_same(got: dict, expected: dict) -> None:
    for key, value in expected.items():
        tolerance = 1e-6 * abs(value) if key == "nme" else 1e-6
        assert got[key] == pytest.approx(value, abs=tolerance), key


@pytest.mark.parametrize("dataset", ["wflw", "300w", "cofw", "aflw"])
def test_hrnet(dataset, tmp_path):
    faces = make_faces(dataset, tmp_path)
    box_size = [np.sqrt((f["box"][2] - f["box"][0]) * (f["box"][3] - f["box"][1])) for f in faces]
    expected = hrnet(np.stack([f["pred"] for f in faces]), np.stack([f["gt"] for f in faces]), np.array(box_size))
    assert_same(ours(dataset, "full" if dataset in ("300w", "aflw") else "test", "hrnet", faces), expected)


@pytest.mark.parametrize(("dataset", "left", "right", "thres"), [("wflw", 60, 72, 0.1), ("300w", 36, 45, 0.05),
                                                                ("cofw", 16, 17, 0.1)])
def test_star(dataset, left, right, thres, tmp_path):
    faces = make_faces(dataset, tmp_path, seed=1)
    expected = star(np.stack([f["pred"] for f in faces]), np.stack([f["gt"] for f in faces]), left, right, thres)
    assert_same(ours(dataset, "full" if dataset == "300w" else "test", "star", faces), expected)


def _pipnet_expected(dataset: str, faces: list[dict]) -> dict:
    labels, preds = [], []
    for f in faces:
        if dataset == "wflw":
            lab, box = pipnet_wflw(list(f["gt"].flatten()), list(f["box"]), f["W"], f["H"])
        elif dataset == "300w":
            lab, box = pipnet_300w(list(map(tuple, f["gt"])), f["W"], f["H"])
        elif dataset in ("cofw", "cofw68"):
            x0, y0, x1, y1 = f["box"]
            lab, box = pipnet_cofw(f["gt"], np.array([x0, y0, x1 - x0, y1 - y0]), f["W"], f["H"],
                                   scale=1.3 if dataset == "cofw68" else 1.0)
        else:
            x0, y0, x1, y1 = f["box"]
            lab, box = pipnet_aflw(f["gt"], (x0, x1, y0, y1), f["W"], f["H"])
        labels.append(lab)
        preds.append(in_crop(f["pred"], box))
    norm = {"wflw": (60, 72), "300w": (36, 45), "cofw": (8, 9), "cofw68": (36, 45), "aflw": None}[dataset]
    return pipnet_test(labels, preds, norm)


@pytest.mark.parametrize("dataset", ["wflw", "300w", "cofw", "cofw68", "aflw"])
def test_pipnet_scores_in_its_own_crop_frame(dataset, tmp_path):
    faces = make_faces(dataset, tmp_path, seed=2)
    split = {"300w": "full", "aflw": "full"}.get(dataset, "test")
    expected = _pipnet_expected(dataset, faces)
    got = ours(dataset, split, "pipnet", faces)
    assert_same(got, expected)
    # The image frame (how fabrec-bench scored PIPNet before) is another number on such faces.
    registry = get_registry()
    adapter = registry.dataset(dataset)
    image_frame = replace(resolve_protocols(adapter, registry, "pipnet", split)[0], frame="image")
    offset = adapter.file_origin - adapter.coordinate_origin
    samples = [FaceSample(str(i), f["image"], f["gt"] - offset, tuple(np.asarray(f["box"]) - offset))
               for i, f in enumerate(faces)]
    before = api.evaluate(np.stack([f["pred"] for f in faces]) - offset,
                          Split(dataset, split, adapter.scheme, samples), image_frame, registry, adapter=adapter)
    assert abs(before.metrics["nme"] / expected["nme"] - 1) > 0.01


@pytest.mark.parametrize(("dataset", "split", "norm", "thr"), [
    ("wflw", "test", "corners", 10), ("300w", "full", "corners", 8), ("300w", "test", "lnd_bbox", 7),
    ("cofw68", "test", "lnd_bbox", 7)])
def test_spiga_takes_each_databases_own_default(dataset, split, norm, thr, tmp_path):
    faces = make_faces(dataset, tmp_path, seed=3)
    gts, preds = np.stack([f["gt"] for f in faces]), np.stack([f["pred"] for f in faces])
    # SPIGA's ids 12 and 7 are the outer eye corners: WFLW 60/72, 68 points 36/45 (its annotation order).
    ids = list(range(gts.shape[1]))
    for position, spiga_id in ((72 if dataset == "wflw" else 45, 12), (60 if dataset == "wflw" else 36, 7)):
        ids[ids.index(spiga_id)], ids[position] = ids[position], spiga_id
    expected = spiga(preds, gts, norm, thr, ids=ids)
    assert_same(ours(dataset, split, "spiga", faces), expected)


def test_spiga_has_no_aflw_rule():
    from fabrec_bench.errors import UserError

    registry = get_registry()
    assert not registry.protocol("spiga").applies_to("aflw")
    with pytest.raises(UserError, match="no rules for 'aflw'"):
        resolve_protocols(registry.dataset("aflw"), registry, "spiga", "full")


@pytest.mark.parametrize(("dataset", "indices"), [("wflw", (60, 72)), ("300w", (36, 45)), ("cofw", (8, 9)),
                                                  ("aflw", None)])
def test_mmpose(dataset, indices, tmp_path):
    faces = make_faces(dataset, tmp_path, seed=4)
    gts, preds = np.stack([f["gt"] for f in faces]), np.stack([f["pred"] for f in faces])
    boxes = np.array([f["box"] for f in faces]) if indices is None else None
    expected = mmpose(preds, gts, indices=indices, bboxes_xyxy=boxes)
    assert_same(ours(dataset, "full" if dataset in ("300w", "aflw") else "test", "mmpose", faces), expected)


def test_protocols_show_names_the_code_behind_every_rule(cli):
    import json

    docs = {d["name"]: d for d in json.loads(cli("protocols", "--json").output)}
    for name in ("hrnet", "star", "pipnet", "spiga", "mmpose", "3fabrec-paper"):
        doc = docs[name]
        assert len(doc["commit"]) == 40 and "/" in doc["repository"], name
        assert all(rule["source"] for rule in doc["rules"]), name
        assert doc["sources"], name
    assert {r["dataset"] for r in docs["spiga"]["rules"]} == {"wflw", "300w", "300w/test", "cofw68"}
    shown = cli("protocols", "show", "pipnet").output
    assert "b9eab58816437403a34aa5bc3adeafe5081fd36b" in shown and "lib/preprocess.py" in shown
