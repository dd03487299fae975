"""Face-box sources (ground truth, landmarks' extent, dlib HOG and OpenCV Haar detectors), the missed-face
rule, and the dlib-ert baseline with its missing-extra message."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from fabrec_bench import api
from fabrec_bench.errors import UserError
from fabrec_bench.faces import boxes
from fabrec_bench.runs import ProtocolChoice, RunRequest, run_one
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench.synth.formats import write_300w


def need_dlib():
    try:
        import dlib  # noqa: F401

        boxes_ok = True
    except ImportError:
        boxes_ok = False
    if not boxes_ok:
        if os.environ.get("FABREC_BENCH_REQUIRE_DLIB") == "1":
            pytest.fail("FABREC_BENCH_REQUIRE_DLIB=1 but dlib is not installed")
        pytest.skip('dlib is not installed (pip install "fabrec-bench[dlib]"; CI installs it)')


@pytest.fixture(scope="module")
def synthetic_300w(tmp_path_factory):
    root = tmp_path_factory.mktemp("w300") / "300W"
    write_300w(root, per_folder=4, seed=5)
    return root


def test_the_box_source_changes_what_the_model_sees_and_is_recorded(cli, synthetic_wflw):
    nme = {}
    for source in ("ground-truth", "landmarks"):
        result = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                     "--box-source", source, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["protocol"]["box_source"] == source
        nme[source] = data["metrics"]["nme"]
    assert nme["ground-truth"] != nme["landmarks"]  # WFLW's boxes are not the landmarks' extent
    board = json.loads(cli("leaderboard", "--format", "json").stdout)
    assert sorted(r["boxes"] for r in board) == ["ground-truth", "landmarks"]  # two rows, never averaged


def test_landmark_boxes_are_the_tight_extent(synthetic_wflw):
    split = api.load_split("wflw", "test", data_root=synthetic_wflw)
    moved, missed = boxes.apply_box_source(split.samples, "landmarks")
    assert not missed.any()
    pts = split.samples[0].landmarks_px
    np.testing.assert_allclose(moved[0].box_px, [*pts.min(axis=0), *pts.max(axis=0)])
    assert split.samples[0].box_px != moved[0].box_px  # the originals are untouched


def test_detections_match_faces_by_overlap():
    truth = np.array([[0, 0, 100, 100], [200, 0, 300, 100], [400, 0, 500, 100]], dtype=float)
    found = np.array([[210, 5, 305, 110], [5, 5, 95, 95], [0, 0, 20, 20]], dtype=float)
    assert boxes.match(truth, found).tolist() == [1, 0, -1]  # the third face is missed; the tiny box matches nothing
    assert boxes.match(truth, np.zeros((0, 4))).tolist() == [-1, -1, -1]
    # One detection is never given to two faces.
    assert boxes.match(truth[:1].repeat(2, axis=0), found[1:2]).tolist() == [0, -1]


def test_a_missed_face_counts_as_a_failure_and_is_never_dropped(synthetic_wflw, monkeypatch, tmp_path):
    import cv2

    split = api.load_split("wflw", "test", data_root=synthetic_wflw)
    missing_image = str(split.samples[0].image_path)
    # A stand-in detector: finds every face (slightly off its box) except those in the first image.
    known = {}
    for s in split.samples:
        key = cv2.imread(str(s.image_path)).tobytes()
        if str(s.image_path) != missing_image:
            known.setdefault(key, []).append(np.asarray(s.box_px, dtype=float) + 3)
    monkeypatch.setattr(boxes, "detector_for",
                        lambda source: lambda image: np.array(known.get(image.tobytes(), np.zeros((0, 4)))))
    outcome = run_one(RunRequest(model="mean-shape", dataset="wflw", splits=("test",), data_root=synthetic_wflw,
                                 protocol=ProtocolChoice(overrides={"box_source": "detector-haar"})), tmp_path / "w")
    per_face = outcome.evaluation.errors.per_face
    n_missed = sum(str(s.image_path) == missing_image for s in split.samples)
    assert n_missed >= 1 and np.isinf(per_face).sum() == n_missed and len(per_face) == len(split)
    metrics = outcome.evaluation.metrics
    assert metrics["missed"] == pytest.approx(n_missed / len(split))
    assert metrics["nme"] == pytest.approx(per_face[np.isfinite(per_face)].mean())  # mean over faces found
    assert metrics["fr"] >= n_missed / len(split)  # missed faces are failures
    with ResultsStore(store_path(tmp_path / "w")) as store:
        run = store.runs()[0]
        stored = store.face_errors(run.id)
    assert len(stored) == len(split) and sum(np.isinf(list(stored.values()))) == n_missed
    assert run.protocol["box_source"] == "detector-haar" and run.model_info["faces_missed"] == n_missed


def test_haar_cascade_detects_a_drawn_face_region(synthetic_300w):
    # OpenCV's bundled cascade loads from cv2.data and returns corner boxes (possibly none on cartoons).
    detector = boxes.HaarDetector()
    split = api.load_split("300w", "full", data_root=synthetic_300w)
    import cv2

    found = detector(cv2.imread(str(split.samples[0].image_path)))
    assert found.ndim == 2 and found.shape[1] == 4 and (found[:, 2:] > found[:, :2]).all()


def test_dlib_ert_on_300w_with_each_box_source(cli, synthetic_300w):
    need_dlib()
    seen = {}
    for source in ("ground-truth", "detector", "detector-haar"):
        result = cli("run", "--model", "dlib-ert", "--dataset", "300w", "--split", "common",
                     "--data-root", synthetic_300w, "--box-source", source, "--json")
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        seen[source] = data["metrics"]
    assert seen["ground-truth"]["nme"] < 0.5  # it predicts faces, not noise
    assert "missed" in seen["detector"] and "missed" not in seen["ground-truth"]
    board = cli("leaderboard", "--format", "csv").stdout
    assert "detector-hog" in board and "detector-haar" in board and "ground-truth" in board


def test_dlib_ert_scores_wflw_through_the_68_point_mapping(cli, synthetic_wflw):
    need_dlib()
    result = cli("run", "--model", "dlib-ert", "--dataset", "wflw", "--split", "test", "--data-root", synthetic_wflw)
    assert result.exit_code == 2 and "use --dataset wflw68" in result.output
    result = cli("run", "--model", "dlib-ert", "--dataset", "wflw68", "--split", "test", "--data-root", synthetic_wflw)
    assert result.exit_code == 0, result.output


def test_missing_dlib_extra_gives_one_clear_line(cli, synthetic_300w, monkeypatch):
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib -> ImportError
    result = cli("run", "--model", "dlib-ert", "--dataset", "300w", "--split", "common", "--data-root", synthetic_300w)
    assert result.exit_code == 2
    assert 'pip install "fabrec-bench[dlib]"' in result.output and "Traceback" not in result.output
    result = cli("run", "--model", "mean-shape", "--dataset", "300w", "--split", "common", "--data-root",
                 synthetic_300w, "--box-source", "detector")
    assert result.exit_code == 2 and 'needs dlib: pip install "fabrec-bench[dlib]"' in result.output
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    from fabrec_bench_plugins.models.dlib_ert import bundled_predictor

    with pytest.raises(UserError, match="face-recognition-models"):
        bundled_predictor()


def test_runs_with_different_dataset_options_are_never_averaged(cli, synthetic_300w):
    for extra in ((), ("--dataset-option", "annotation_boxes=detector")):
        result = cli("run", "-m", "mean-shape", "-d", "300w", "-s", "common", "--data-root", synthetic_300w, *extra)
        assert result.exit_code == 0, result.output
    board = json.loads(cli("leaderboard", "--format", "json").stdout)
    assert sorted(r["dataset"] for r in board) == ["300w", "300w [annotation_boxes=detector]"]
    assert all(r["seeds"] == 1 for r in board)
