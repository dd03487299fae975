"""The 3FabRec paper's protocol, computed by hand: its crop frame, the clamp at 0, AFLW's crop-size normaliser."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from fabrec_bench import api
from fabrec_bench.errors import UserError
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import resolve_protocols
from fabrec_bench.schemes import AFLW19, IBUG68
from fabrec_bench.types import FaceSample, Split


def one_face_split(dataset: str, scheme, landmarks: np.ndarray, box) -> Split:
    sample = FaceSample(id="f0", image_path="unused.jpg", landmarks_px=landmarks, box_px=tuple(box))
    return Split(dataset, "test", scheme, [sample])


def aflw_face(box) -> np.ndarray:
    """19 points spread inside the box."""
    x0, y0, x1, y1 = box
    t = np.linspace(0.2, 0.8, 19)
    return np.stack([x0 + t * (x1 - x0), y0 + t[::-1] * (y1 - y0)], axis=1)


def paper(dataset: str):
    registry = get_registry()
    return resolve_protocols(registry.dataset(dataset), registry, "3fabrec-paper")[0]


def test_the_paper_protocol_is_the_originals_rules():
    for dataset, normaliser in (("wflw", "inter-ocular"), ("300w", "inter-ocular"), ("aflw", "box-max")):
        p = paper(dataset)
        assert (p.name, p.normaliser, p.threshold, p.auc_rule, p.frame) == (
            "3fabrec-paper", normaliser, 0.10, "fabrec50", "3fabrec-crop")
    registry = get_registry()
    with pytest.raises(UserError, match="covers wflw, 300w, aflw"):
        paper("vggface2")
    with pytest.raises(UserError, match="--normaliser cannot change it"):
        resolve_protocols(registry.dataset("wflw"), registry, "3fabrec-paper", normaliser="inter-pupil")
    standard = resolve_protocols(registry.dataset("wflw"), registry)[0]
    assert standard.name == "standard" and standard.frame == "image"


def test_aflw_is_normalised_by_the_256_crop_not_the_box():
    # Box 256 x 128 at (100, 100): the square of side 256 about (228, 164) scaled by 363/256 spans
    # (46.5, -17.5) to (409.5, 345.5); truncated towards zero: tl = (46, -17), br = (409, 345). So the crop
    # is 363 / 363 in x and 363 / 362 in y.
    box = (100.0, 100.0, 356.0, 228.0)
    gt = aflw_face(box)
    pred = gt.copy()
    pred[3] += (3.0, 4.0)  # 5 px off in the image
    split = one_face_split("aflw", AFLW19, gt, box)
    paper_nme = api.evaluate(pred[None], split, paper("aflw")).metrics["nme"]
    assert paper_nme == pytest.approx(np.hypot(3.0, 4.0 * 363 / 362) / 256 / 19, rel=1e-12)  # crop side 256
    standard = api.evaluate(pred[None], split, get_registry().dataset("aflw").protocol).metrics["nme"]
    assert standard == pytest.approx(5.0 / np.sqrt(256 * 128) / 19, rel=1e-12)  # sqrt(w * h)


def test_ground_truth_left_of_the_crop_is_clamped_to_0():
    box = (100.0, 100.0, 356.0, 356.0)  # region tl (46, 46), br (409, 409): crop = image - 99
    gt = aflw_face(box)
    gt[0] = (90.0, 200.0)  # crop (-9, 101): the original clamps it to (0, 101)
    pred = gt.copy()  # a perfect prediction in the image...
    split = one_face_split("aflw", AFLW19, gt, box)
    assert api.evaluate(pred[None], split, get_registry().dataset("aflw").protocol).metrics["nme"] == 0.0
    # ...is 9 crop pixels off the clamped ground truth in the paper's scoring.
    assert api.evaluate(pred[None], split, paper("aflw")).metrics["nme"] == pytest.approx(9 / 256 / 19, rel=1e-12)


def test_the_crop_frame_scales_x_and_y_separately():
    # Box (0, 0, 101, 100): side 101 about (50.5, 50); region x -21..122 (143 wide), y -21..121 (142 high).
    box = (0.0, 0.0, 101.0, 100.0)
    gt = aflw_face(box)
    pred = gt + (1.0, 1.0)
    split = one_face_split("aflw", AFLW19, gt, box)
    nme = api.evaluate(pred[None], split, paper("aflw")).metrics["nme"]
    assert nme == pytest.approx(np.hypot(363 / 143, 363 / 142) / 256, rel=1e-12)


def test_300w_is_scored_in_the_1_based_frame_of_its_files():
    """The paper scored 300-W in the .pts frame: the region comes from the 1-based box. With a box whose top
    is at -0.4 (0-based), the raw frame truncates differently (int(0.6 - 0.2 h) vs int(-0.4 - 0.2 h))."""
    box = (50.0, -0.4, 150.0, 99.6)  # 0-based; raw (51, 0.6, 151, 100.6)
    gt = np.zeros((68, 2))
    gt[:, 0] = np.linspace(60, 140, 68)
    gt[:, 1] = np.linspace(10, 90, 68)
    pred = gt + (2.0, 0.0)
    split = one_face_split("300w", IBUG68, gt, box)
    # By hand in the raw frame: extended box (51, int(0.6 - 20) = -19, 151, int(100.6 + 12) = 112), side 131
    # about (101, 46.5), half 65.5 * 363 / 256 = 92.876953125 (float32): tl = (8, -46), br = (193, 139).
    sx = 363 / (193 - 8)
    sy = 363 / (139 - -46)
    gt_crop = np.maximum(np.stack([(gt[:, 0] + 1 - 8) * sx - 53, (gt[:, 1] + 1 + 46) * sy - 53], axis=1), 0)
    pred_crop = np.stack([(pred[:, 0] + 1 - 8) * sx - 53, (pred[:, 1] + 1 + 46) * sy - 53], axis=1)
    iod = np.linalg.norm(gt_crop[36] - gt_crop[45])
    expected = np.mean(np.linalg.norm(pred_crop - gt_crop, axis=1)) / iod
    assert api.evaluate(pred[None], split, paper("300w")).metrics["nme"] == pytest.approx(expected, rel=1e-12)


def test_score_under_both_protocols_gives_two_leaderboard_rows(cli, synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.datasets.wflw import WFLWDataset

    split = WFLWDataset().load_split(synthetic_wflw, "test")
    rng = np.random.default_rng(0)
    path = tmp_path / "pred.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "image", *[f"{a}{i}" for i in range(98) for a in "xy"]])
        for s in split.samples:
            writer.writerow([s.id, s.image_path, *(s.landmarks_px + rng.normal(0, 2, (98, 2))).reshape(-1)])
    nme = {}
    for protocol in ("standard", "3fabrec-paper"):
        result = cli("score", path, "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                     "--protocol", protocol, "--store-as", "noisy", "--json")
        assert result.exit_code == 0, result.output
        nme[protocol] = json.loads(result.output)["metrics"]["nme"]
    # Inter-ocular NME barely changes under the crop's near-similarity map; the clamp and the per-axis scale
    # still move it.
    assert nme["standard"] != nme["3fabrec-paper"] and abs(nme["standard"] / nme["3fabrec-paper"] - 1) < 0.05
    lines = cli("leaderboard", "--format", "csv").output.strip().splitlines()
    header = lines[0].split(",")
    rows = {line.split(",")[header.index("protocol")]: line.split(",") for line in lines[1:]}
    assert set(rows) == {"standard", "3fabrec-paper"}
    assert rows["3fabrec-paper"][header.index("AUC rule")] == "fabrec50"
    refused = cli("score", path, "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                  "--protocol", "3fabrec-paper", "--threshold", "0.08")
    assert refused.exit_code != 0 and "--threshold cannot change it" in refused.output


def test_few_shot_selection_first_takes_annotation_order_and_is_recorded(cli, synthetic_wflw, tmp_path):
    from fabrec_bench.store import ResultsStore, store_path
    from fabrec_bench_plugins.datasets.wflw import WFLWDataset

    train = WFLWDataset().load_split(synthetic_wflw, "train").samples
    assert [s.id for s in api.select_training_subset(train, 5, seed=3, selection="first")] == [s.id for s in train[:5]]
    assert api.select_training_subset(train, 5, seed=3) != api.select_training_subset(train, 5, seed=3,
                                                                                        selection="first")
    with pytest.raises(UserError, match="training selection 'last'"):
        api.select_training_subset(train, 5, seed=3, selection="last")
    result = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                 "--train-count", "5", "--train-selection", "first")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        run = store.runs()[0]
    assert run.train_selection == "first" and run.train_count == 5
    ids = (tmp_path / "work" / "runs" / run.uid / "train_ids.txt").read_text().split()
    assert ids == [s.id for s in train[:5]]


def test_protocols_lists_and_shows_the_named_protocols(cli):
    docs = {d["name"]: d for d in json.loads(cli("protocols", "--json").output)}
    assert {"standard", "3fabrec-paper"} <= set(docs)
    paper = {r["dataset"]: r for r in docs["3fabrec-paper"]["rules"]}
    assert set(paper) == {"wflw", "300w", "aflw"}
    assert paper["aflw"]["normaliser"] == "box-max" and paper["wflw"]["auc_rule"] == "fabrec50"
    assert paper["300w"]["frame"] == "3fabrec-crop" and "lmutils.py" in docs["3fabrec-paper"]["follows"]
    standard = {r["dataset"]: r for r in docs["standard"]["rules"]}
    assert standard["aflw"]["normaliser"] == "box" and standard["wflw"]["frame"] == "image"
    shown = cli("protocols", "show", "3fabrec-paper")
    assert shown.exit_code == 0 and "box-max" in shown.output and "fabrec50" in shown.output
    unknown = cli("protocols", "show", "nope")
    assert unknown.exit_code == 2 and "unknown protocol 'nope'" in unknown.output
