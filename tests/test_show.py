"""`fabrec-bench show`: a stored run's faces drawn, worst first, with the ground truth green and the prediction
blue where they are; the faces' errors are the stored ones; a dataset root that is gone is one line."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from fabrec_bench.reports.drawing import GROUND_TRUTH_BGR, PREDICTION_BGR
from fabrec_bench.reports.gallery import MARGIN, face_tile, load_run_faces, ordered
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench.types import FaceSample


def test_worst_faces_first_with_the_stored_errors(cli, synthetic_wflw, tmp_path):
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
               "--protocol", "all").exit_code == 0
    result = cli("show", "-m", "mean-shape")  # one run per protocol: ambiguous
    assert result.exit_code != 0 and "7 runs match" in result.output and "give a run id" in result.output
    out = tmp_path / "gallery"
    result = cli("show", "-m", "mean-shape", "--protocol", "pipnet", "-o", out, "--per-page", "5", "--pages", "2",
                 "--columns", "5", "--tile", "100")
    assert result.exit_code == 0, result.output
    pages = sorted(out.glob("worst-*.png"))
    assert [p.name for p in pages] == ["worst-01.png", "worst-02.png"]
    assert cv2.imread(str(pages[0])).shape == (100, 500, 3)
    with ResultsStore(store_path(tmp_path / "work")) as store:
        run = next(r for r in store.runs() if r.protocol["name"] == "pipnet")  # a rescored run: its own frame
        stored = store.face_errors(run.id)
    faces = load_run_faces(run)
    np.testing.assert_allclose(faces.nme, [stored[s.id] for s in faces.split.samples], rtol=1e-12)
    worst = ordered(faces, "worst")
    assert list(faces.nme[worst]) == sorted(faces.nme, reverse=True)
    assert np.isfinite(faces.inner).all() and np.isfinite(faces.outer).all()


def test_the_tile_draws_each_point_where_it_is():
    image = np.full((300, 300, 3), 90, np.uint8)
    gt = np.array([[100.0, 120.0], [180.0, 140.0], [140.0, 200.0]])
    sample = FaceSample("face", "x.png", gt, (80, 90, 220, 230))
    prediction = gt + [[12, 0], [0, 14], [-12, 5]]
    tile = face_tile(image, sample, prediction, (0.05, 0.1, 0.07), tile=200)
    side = 140 * (1 + 2 * MARGIN)
    left, top, scale = 150 - side / 2, 160 - side / 2, 200 / side
    for points, colour in ((gt, GROUND_TRUTH_BGR), (prediction, PREDICTION_BGR)):
        for x, y in np.round((points - [left, top]) * scale).astype(int):
            assert tuple(tile[y, x]) == colour


def test_a_dataset_root_that_is_gone_is_one_line(cli, synthetic_wflw, tmp_path):
    root = tmp_path / "WFLW"
    shutil.copytree(synthetic_wflw, root)
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", root).exit_code == 0
    shutil.rmtree(root)
    result = cli("show", "1")
    assert result.exit_code != 0
    assert f"{root}: the dataset root run 1 was made with is gone; pass --data-root" in result.output
    result = cli("show", "1", "--data-root", synthetic_wflw, "-o", tmp_path / "g", "--order", "random")
    assert result.exit_code == 0 and (tmp_path / "g" / "random-01.png").is_file()


@pytest.mark.parametrize("order", ["best", "subset"])
def test_other_orders(cli, synthetic_wflw, tmp_path, order):
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw).exit_code == 0
    result = cli("show", "1", "--order", order, "-o", tmp_path / "g", "--per-page", "4")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g" / f"{order}-01.png").is_file()


def test_3fabrec_runs_add_reconstructions_and_heatmaps(cli, synthetic_wflw, tmp_path):
    import torch

    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    torch.manual_seed(0)
    save_checkpoint(tmp_path / "3fabrec.pt", Fabrec(98, 128), {"stage": "landmarks", "scheme": "wflw98",
                                                              "num_points": 98, "input_size": 128,
                                                              "config": {"input_size": 128}})
    assert cli("eval", "-m", "3fabrec", "--checkpoint", tmp_path / "3fabrec.pt", "-d", "wflw", "-s", "test",
               "--data-root", synthetic_wflw, "--device", "cpu").exit_code == 0
    result = cli("show", "1", "-o", tmp_path / "g", "--per-page", "3", "--tile", "96")
    assert result.exit_code == 0, result.output
    page = cv2.imread(str(tmp_path / "g" / "worst-01-3fabrec.png"))
    # one line per face: its tile, the reconstruction, the ground-truth heatmaps, the predicted heatmaps
    assert page.shape == (3 * 96, 4 * 96, 3)
    truth, predicted = page[:96, 192:288], page[:96, 288:]
    assert not np.array_equal(truth, predicted)


def test_faces_a_detector_missed_are_shown_first_as_missed(cli, synthetic_wflw, tmp_path):
    """A run with a detector's boxes stores NaN for the faces it missed (they count as failures); show reads
    them back, puts them first and says so, instead of refusing the run's own predictions file."""
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
               "--box-source", "detector-haar").exit_code == 0
    with ResultsStore(store_path(tmp_path / "work")) as store:
        (run,) = store.runs(status="finished")
    faces = load_run_faces(run)
    missed = ~np.isfinite(faces.predictions).all(axis=(1, 2))
    assert 0 < missed.sum() < len(missed)  # the cascade misses some synthetic faces, not all
    assert np.isinf(faces.nme[missed]).all() and np.isnan(faces.inner[missed]).all()
    assert set(ordered(faces, "worst")[: missed.sum()]) == set(np.flatnonzero(missed))
    result = cli("show", str(run.id), "-o", tmp_path / "gallery", "--per-page", "20")
    assert result.exit_code == 0 and "Warning" not in result.output, result.output
