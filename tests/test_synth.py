"""Synthetic WFLW: deterministic, read by the real adapter, every subset non-empty and meaningful."""

import hashlib

import cv2
import numpy as np

from fabrec_bench.schemes import WFLW98
from fabrec_bench.synth.face import FaceParams, landmarks_3d
from fabrec_bench.synth.sheet import contact_sheet
from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench_plugins.datasets.wflw import ATTRIBUTES, WFLWDataset

ANN = "WFLW_annotations/list_98pt_rect_attr_train_test"


def digest(root):
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(root).as_posix().encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_files_other_seed_other_faces(tmp_path):
    write_wflw(tmp_path / "a", 4, 6, seed=3)
    write_wflw(tmp_path / "b", 4, 6, seed=3)
    write_wflw(tmp_path / "c", 4, 6, seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert (tmp_path / "a" / ANN / "list_98pt_rect_attr_test.txt").read_text() != \
        (tmp_path / "c" / ANN / "list_98pt_rect_attr_test.txt").read_text()


def test_adapter_reads_the_synthetic_release(synthetic_wflw):
    adapter = WFLWDataset()
    train, test = adapter.load_split(synthetic_wflw, "train"), adapter.load_split(synthetic_wflw, "test")
    assert (len(train), len(test)) == (24, 14)
    for attribute in ATTRIBUTES:
        subset = adapter.load_split(synthetic_wflw, attribute)
        assert 0 < len(subset) < len(test), attribute
    # 207 tokens per line, LF endings, 6 decimals.
    text = (synthetic_wflw / ANN / "list_98pt_rect_attr_test.txt").read_bytes()
    assert b"\r" not in text and text.endswith(b"\n")
    assert all(len(line.split()) == 207 for line in text.decode().splitlines())
    # Landmarks fall on the face: most points inside the picture, the box around them.
    sample = test.samples[0]
    h, w = cv2.imread(str(sample.image_path)).shape[:2]
    inside = ((sample.landmarks_px >= 0) & (sample.landmarks_px < [w, h])).all(axis=1)
    assert inside.mean() > 0.8


def test_subset_lists_match_the_flags(synthetic_wflw):
    test = WFLWDataset().load_split(synthetic_wflw, "test")
    makeup = (synthetic_wflw / "WFLW_annotations/list_98pt_test/list_98pt_test_makeup.txt").read_text().splitlines()
    assert len(makeup) == sum(s.attributes["make-up"] for s in test.samples)
    assert all(len(line.split()) == 197 for line in makeup)


def test_face_geometry_is_mirror_symmetric_under_the_wflw_flip():
    pts = landmarks_3d(FaceParams())  # neutral, no jitter
    flipped = pts[list(WFLW98.flip_permutation)] * [-1, 1, 1]
    assert np.allclose(flipped, pts, atol=1e-9)
    assert pts[60, 0] < pts[64, 0] < 0 < pts[68, 0] < pts[72, 0]  # image-left outer corner is leftmost


def test_expression_moves_the_right_points():
    neutral = landmarks_3d(FaceParams())
    open_mouth = landmarks_3d(FaceParams(mouth_open=1.0))
    assert open_mouth[94, 1] - open_mouth[90, 1] > neutral[94, 1] - neutral[90, 1] + 0.2  # inner lips part
    assert open_mouth[16, 1] > neutral[16, 1]  # the chin drops
    closed = landmarks_3d(FaceParams(eye_closure=(1.0, 1.0)))
    assert abs(closed[62, 1] - closed[66, 1]) < abs(neutral[62, 1] - neutral[66, 1]) / 4


def test_contact_sheet_is_written(synthetic_wflw, tmp_path):
    faces = WFLWDataset().load_split(synthetic_wflw, "test").samples[:5]
    path = contact_sheet(faces, WFLW98.groups, tmp_path / "sheet.png", columns=4, tile=96)
    img = cv2.imread(str(path))
    assert img.shape == (2 * 96, 4 * 96, 3)
    assert img[:96, :96].std() > 10  # a picture, not an empty tile
