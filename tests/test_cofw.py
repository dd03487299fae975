"""COFW through its real format (MATLAB v7.3 / HDF5 .mat files), with per-point occlusion, and COFW-68."""

from __future__ import annotations

import re

import h5py
import numpy as np
import pytest
from scipy.io import savemat

from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.synth.formats import write_cofw
from fabrec_bench_plugins.datasets.cofw import COFW68Dataset, COFWDataset


@pytest.fixture(scope="module")
def cofw(tmp_path_factory):
    root = tmp_path_factory.mktemp("cofw") / "COFW"
    write_cofw(root, train=6, test=5, seed=3)
    return root


def release(root, name="COFW_test_color.mat", part="T"):
    """The release's arrays as MATLAB sees them, read independently of the adapter."""
    with h5py.File(root / name, "r") as f:
        phis = f[f"phis{part}"][()].T
        boxes = f[f"bboxes{part}"][()].T
        images = [f[ref][()].T for ref in f[f"Is{part}"][()].reshape(-1)]
    return phis, boxes, images


def test_files_are_matlab_v73(cofw):
    head = (cofw / "COFW_train_color.mat").read_bytes()[:128]
    assert head.startswith(b"MATLAB 7.3 MAT-file") and head[-2:] == b"IM"
    assert h5py.is_hdf5(cofw / "COFW_train_color.mat")
    with h5py.File(cofw / "COFW_train_color.mat", "r") as f:  # stored transposed, as MATLAB writes them
        assert f["phisTr"].shape == (87, 6) and f["bboxesTr"].shape == (4, 6) and f["IsTr"].shape == (1, 6)


def test_splits_landmarks_boxes_and_occlusion(cofw, tmp_path, monkeypatch):
    monkeypatch.setenv("FABREC_BENCH_CACHE", str(tmp_path / "cache"))
    adapter = COFWDataset()
    train, test = adapter.load_split(cofw, "train"), adapter.load_split(cofw, "test")
    assert len(train) == 6 and len(test) == 5 and test.scheme.num_points == 29
    assert test.ids[0] == "cofw/test/0001" and len(set(train.ids) | set(test.ids)) == 11
    phis, boxes, images = release(cofw)
    face = test.samples[2]
    assert np.allclose(face.landmarks_px[:, 0], phis[2, :29] - 1) and np.allclose(face.landmarks_px[:, 1],
                                                                                    phis[2, 29:58] - 1)
    assert (face.visible == (phis[2, 58:] == 0)).all()  # occlusion kept per point
    assert face.attributes["occluded_points"] == int(phis[2, 58:].sum())
    x, y, w, h = boxes[2]
    assert face.box_px == pytest.approx((x - 1, y - 1, x - 1 + w, y - 1 + h))
    assert any(not s.visible.all() for s in train.samples + test.samples)
    # The images come out of the .mat file, grey-scale ones included, in the cache.
    import cv2

    grey = cv2.imread(str(test.samples[1].image_path), cv2.IMREAD_UNCHANGED)
    assert images[1].ndim == 2 and np.array_equal(grey, images[1])
    colour = cv2.imread(str(face.image_path), cv2.IMREAD_COLOR)
    assert np.array_equal(colour[..., ::-1], images[2])
    assert str(face.image_path).startswith(str(tmp_path / "cache"))
    raw = adapter.with_options(zero_based=False).load_split(cofw, "test").samples[2]
    assert np.allclose(raw.landmarks_px[:, 0], phis[2, :29]) and adapter.file_origin == 1.0


def test_cofw68_reads_the_68_point_reannotation(cofw, tmp_path, monkeypatch):
    monkeypatch.setenv("FABREC_BENCH_CACHE", str(tmp_path / "cache"))
    split = COFW68Dataset().load_split(cofw, "test")
    assert len(split) == 5 and split.scheme.num_points == 68
    from scipy.io import loadmat

    ann = loadmat(str(cofw / "COFW68_Data/test_annotations/3_points.mat"))
    assert np.allclose(split.samples[2].landmarks_px, ann["Points"] - 1)
    assert (split.samples[2].visible == (ann["Occ"].reshape(-1) == 0)).all()
    # The images are the COFW test pictures.
    assert split.samples[2].image_path == COFWDataset().load_split(cofw, "test").samples[2].image_path


def test_cofw68_without_its_box_file_uses_the_landmark_extent(cofw, tmp_path, capsys):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(cofw, root)
    (root / "COFW68_Data/cofw68_test_bboxes.mat").unlink()
    face = COFW68Dataset().load_split(root, "test").samples[0]
    assert "landmark extent as its box" in capsys.readouterr().err
    assert face.box_px == (*face.landmarks_px.min(axis=0), *face.landmarks_px.max(axis=0))


def test_bad_files_name_the_file_and_the_face(cofw, tmp_path, capsys):
    adapter = COFWDataset()
    with pytest.raises(DatasetError, match="COFW_train_color.mat not found"):
        adapter.load_split(tmp_path, "train")
    v5 = tmp_path / "v5"
    v5.mkdir()
    savemat(str(v5 / "COFW_test_color.mat"), {"phisT": np.zeros((2, 87))})
    with pytest.raises(DatasetError, match=r"COFW_test_color.mat: cannot read as a MATLAB v7.3.*v5"):
        adapter.load_split(v5, "test")
    # A shape with a flag that is neither 0 nor 1, and a box without area: named, and skippable.
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(cofw, bad)
    with h5py.File(bad / "COFW_test_color.mat", "r+") as f:
        phis = f["phisT"][()]
        phis[58 + 3, 1] = 2  # face 2, flag of point 3
        f["phisT"][...] = phis
        boxes = f["bboxesT"][()]
        boxes[2, 3] = 0  # face 4: width 0
        f["bboxesT"][...] = boxes
    with pytest.raises(AnnotationError, match="face 2: occlusion flags must be 0 or 1"):
        adapter.load_split(bad, "test")
    kept = adapter.load_split(bad, "test", skip_bad=True)
    assert re.search(r"face 4: bboxesT \[[^]]*\] has no area", capsys.readouterr().err)
    assert kept.skipped == 2 and "cofw/test/0002" not in kept.ids and "cofw/test/0004" not in kept.ids


def test_datasets_check_and_info_read_cofw(cli, cofw):
    checked = cli("datasets", "check", "cofw", "--data-root", cofw)
    assert checked.exit_code == 0, checked.output
    assert "train 6, test 5" in checked.output and "images decoded: 11" in checked.output
    info = cli("datasets", "info", "cofw", "--data-root", cofw)
    assert info.exit_code == 0 and "cofw29" in info.output and "1345" in info.output
    checked68 = cli("datasets", "check", "cofw68", "--data-root", cofw)
    assert checked68.exit_code == 0, checked68.output
