"""Every official-layout adapter on a tiny tree written by the synthetic generator."""

import csv

import numpy as np
import pytest
from scipy.io import loadmat

from fabrec_bench.schemes import WFLW98_TO_IBUG68
from fabrec_bench.synth.formats import write_300w, write_affectnet, write_aflw, write_vggface2
from fabrec_bench_plugins.datasets.affectnet import AffectNetDataset
from fabrec_bench_plugins.datasets.aflw import AFLWDataset
from fabrec_bench_plugins.datasets.vggface2 import VGGFace2Dataset
from fabrec_bench_plugins.datasets.w300 import W300Dataset, read_pts
from fabrec_bench_plugins.datasets.wflw import WFLW68Dataset, WFLWDataset


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    write_300w(root / "300w", per_folder=2, seed=1)
    write_aflw(root / "aflw", faces=30, seed=2)
    write_vggface2(root / "vggface2", identities=2, per_identity=3, seed=3)
    write_affectnet(root / "affectnet", train=6, validation=4, seed=4)
    return root


def test_300w_splits_coordinates_and_boxes(trees):
    root = trees / "300w"
    adapter = W300Dataset()
    sizes = {s: len(adapter.load_split(root, s)) for s in ("train", "common", "challenging", "full", "test")}
    assert sizes == {"train": 6, "common": 4, "challenging": 2, "full": 6, "test": 4}
    common = adapter.load_split(root, "common")
    # The same file name in lfpw/trainset and lfpw/testset gives two different faces.
    assert "lfpw/testset/image_0001" in common.ids
    assert "lfpw/trainset/image_0001" in adapter.load_split(root, "train").ids
    face = next(s for s in common.samples if s.id == "lfpw/testset/image_0001")
    raw = read_pts(root / "lfpw/testset/image_0001.pts")
    assert np.allclose(face.landmarks_px, raw - 1.0)  # 1-based in the release, 0-based here
    mat = loadmat(str(root / "Bounding Boxes/bounding_boxes_lfpw_testset.mat"))["bounding_boxes"][0]
    truth = next(e[0][0][2] for e in mat if e[0][0][0][0] == "image_0001.png").reshape(4)
    assert np.allclose(face.box_px, truth - 1.0) and face.attributes["annotation_boxes"] == "ground-truth"
    # The private test set has no box file: the landmarks' extent, and the result says so.
    private = adapter.load_split(root, "test").samples[0]
    assert private.attributes["annotation_boxes"] == "landmarks"
    assert private.box_px == (*private.landmarks_px.min(axis=0), *private.landmarks_px.max(axis=0))
    # The name with a space, and raw coordinates on request.
    challenging = adapter.with_options(zero_based=False).load_split(root, "challenging")
    spaced = next(s for s in challenging.samples if s.id == "ibug/image_092 _01")
    assert np.allclose(spaced.landmarks_px, read_pts(root / "ibug/image_092 _01.pts"))
    detector = adapter.with_options(annotation_boxes="detector").load_split(root, "common").samples[0]
    assert detector.attributes["annotation_boxes"] == "detector" and detector.box_px != common.samples[0].box_px


def test_aflw_splits_visibility_and_frontal(trees):
    root = trees / "aflw"
    adapter = AFLWDataset()
    mat = loadmat(str(root / "AFLWinfo_release.mat"))
    n = len(mat["data"])
    train, full = adapter.load_split(root, "train"), adapter.load_split(root, "full")
    assert len(train) + len(full) == n and len(train) == round(n * 20000 / 24386)
    frontal = adapter.load_split(root, "frontal")
    expected_frontal = [f.id for f in full.samples if f.visible.all()]
    assert frontal.ids == expected_frontal and 0 < len(frontal) < len(full)
    i = int(full.ids[0].split("/")[1])
    assert np.allclose(full.samples[0].landmarks_px[:, 0], mat["data"][i, :19])
    assert np.allclose(full.samples[0].landmarks_px[:, 1], mat["data"][i, 19:])
    x_left, x_right, y_top, y_bottom = mat["bbox"][i]
    assert full.samples[0].box_px == (x_left, y_top, x_right, y_bottom)
    assert (full.samples[0].visible == mat["mask_new"][i].astype(bool)).all()
    # nameList's .png entry resolves to the .jpg on disk.
    everything = {s.attributes["name"]: s.image_path for s in train.samples + full.samples}
    png = [name for name in everything if name.endswith(".png")]
    assert png and everything[png[0]].suffix == ".jpg"
    assert len(adapter.with_options(train_size=10).load_split(root, "train")) == 10


def test_vggface2_boxes_landmarks_and_height_filter(trees):
    root = trees / "vggface2"
    adapter = VGGFace2Dataset()
    train = adapter.load_split(root, "train")
    assert len(train) == 6 and not adapter.labeled
    with open(root / "bb_landmark/loose_bb_train.csv") as f:
        rows = list(csv.reader(f))[1:]
    name_id, x, y, w, h = rows[0]
    first = train.samples[0]
    assert first.id == name_id and first.box_px == (float(x), float(y), float(x) + float(w), float(y) + float(h))
    assert first.image_path.name == name_id.split("/")[1] + ".jpg"
    assert first.landmarks_px.shape == (5, 2) and first.visible.all()
    tall = adapter.with_options(min_face_height=100.0).load_split(root, "train")
    assert 0 < len(tall) < len(train)
    assert all(s.box_px[3] - s.box_px[1] > 100 for s in tall.samples)


def test_affectnet_header_sniffing_expressions_and_valence(trees):
    root = trees / "affectnet"
    adapter = AffectNetDataset()
    train, validation = adapter.load_split(root, "train"), adapter.load_split(root, "validation")
    assert (len(train), len(validation)) == (6, 4)  # training.csv has a header, validation.csv none
    assert np.isnan(train.samples[2].attributes["valence"])  # -2 = not available
    with open(root / "Manually_Annotated_file_lists/training.csv") as f:
        row = list(csv.reader(f))[1]
    x, y, w, h = (float(v) for v in row[1:5])
    assert train.samples[0].box_px == (x, y, x + w, y + h)  # x, y, width, height -> corners
    assert np.allclose(train.samples[0].landmarks_px.reshape(-1), [float(v) for v in row[5].split(";")])
    kept = adapter.with_options(expressions=[0, 1, 2, 3, 4, 5, 6, 7]).load_split(root, "train")
    assert all(s.attributes["expression"] <= 7 for s in kept.samples) and len(kept) == 5  # drops the 'None' row


def test_wflw68_is_the_standard_reduction(synthetic_wflw):
    full = WFLWDataset().load_split(synthetic_wflw, "test")
    reduced = WFLW68Dataset().load_split(synthetic_wflw, "test")
    assert reduced.scheme.num_points == 68 and reduced.ids == full.ids
    assert np.array_equal(reduced.landmarks(), full.landmarks()[:, list(WFLW98_TO_IBUG68)])
