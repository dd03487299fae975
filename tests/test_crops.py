"""The crop pipeline: exact round trip, flips with the scheme permutation, the crop cache, the DataLoader."""

import os

import cv2
import numpy as np
import pytest

from fabrec_bench.faces.augment import PRESETS, AugmentSettings, flip_landmarks
from fabrec_bench.faces.crops import CropSettings, crop_face, crop_matrix, roi_size_for, to_crop, to_image
from fabrec_bench.faces.facedata import CropCache, FaceCrops
from fabrec_bench.schemes import AFLW19, FIVE_POINT, IBUG68, WFLW98
from fabrec_bench_plugins.datasets.wflw import WFLWDataset


def test_square_box_fills_the_crop_and_maps_back_exactly():
    box = (100.3, 50.7, 180.1, 170.9)  # taller than wide: side = height
    settings = CropSettings(input_size=256)
    m = crop_matrix(box, settings)
    corners = np.array([[140.2, 50.7], [140.2, 170.9]])  # top and bottom centre of the box
    mapped = to_crop(corners, m)
    assert np.allclose(mapped, [[127.5, -0.5], [127.5, 255.5]])  # the box's height spans the whole crop
    rng = np.random.default_rng(0)
    points = rng.uniform(-500, 2000, (1000, 2))  # far outside the image too
    assert np.abs(to_image(to_crop(points, m), m) - points).max() < 1e-6


def test_roi_is_the_enlarged_region_around_the_same_centre():
    assert roi_size_for(256) == 363 and roi_size_for(128) == 182
    box = (10.0, 20.0, 110.0, 120.0)
    plain = to_crop(np.array([[60.0, 70.0]]), crop_matrix(box, CropSettings(256)))
    roi = to_crop(np.array([[60.0, 70.0]]), crop_matrix(box, CropSettings(256, roi=True)))
    assert np.allclose(plain, 127.5) and np.allclose(roi, 181.0)


def test_crop_pads_with_zeros_outside_the_image():
    image = np.full((50, 60, 3), 200, np.uint8)
    crop, m = crop_face(image, (-30, -30, 30, 30), CropSettings(64))
    assert crop[0, 0].tolist() == [0, 0, 0] and crop[-1, -1].tolist() == [200, 200, 200]


def test_image_and_landmarks_move_together():
    image = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(image, (250, 120), 3, (255, 255, 255), -1)
    crop, m = crop_face(image, (200, 80, 320, 200), CropSettings(128))
    weights = crop[..., 0].astype(float)
    ys, xs = np.mgrid[0:128, 0:128]
    centroid = [(xs * weights).sum() / weights.sum(), (ys * weights).sum() / weights.sum()]
    assert np.allclose(to_crop(np.array([[250.0, 120.0]]), m)[0], centroid, atol=0.1)


@pytest.mark.parametrize("scheme", [WFLW98, IBUG68, AFLW19, FIVE_POINT])
def test_flipping_twice_gives_the_same_landmarks(scheme):
    points = np.random.default_rng(1).uniform(0, 256, (scheme.num_points, 2))
    twice = flip_landmarks(flip_landmarks(points, 256, scheme.flip_permutation), 256, scheme.flip_permutation)
    assert np.array_equal(twice, points)


def test_flipped_left_eye_corner_is_the_mirrored_right_one():
    points = np.zeros((98, 2))
    points[60] = [80.0, 100.0]  # image-left outer eye corner
    points[72] = [170.0, 100.0]  # image-right outer eye corner
    flipped = flip_landmarks(points, 256, WFLW98.flip_permutation)
    assert flipped[60].tolist() == [255.0 - 170.0, 100.0]  # still on the image left
    assert flipped[60, 0] < flipped[72, 0]


def test_augmented_flip_keeps_landmarks_on_their_features(synthetic_wflw):
    samples = WFLWDataset().load_split(synthetic_wflw, "test").samples[:4]
    crops = FaceCrops(samples, WFLW98, input_size=128, augment=AugmentSettings(flip=1.0))
    for i in range(len(samples)):
        _, landmarks, _ = crops.item(i)
        assert landmarks[60, 0] < landmarks[72, 0]  # the outer corner of the image-left eye is on the left
        assert landmarks[96, 0] < landmarks[97, 0]


def test_presets_follow_the_3fabrec_levels():
    assert PRESETS[4].rotation == 45 and PRESETS[4].scale == (0.94, 1.03) and PRESETS[4].shear == 5
    assert PRESETS[6].translation == 0.04 and PRESETS[0].rotation == 0 and PRESETS[0].flip == 0.5


@pytest.mark.parametrize("fmt", ["npy", "png"])
def test_cache_serves_the_same_crop_and_never_a_stale_one(synthetic_wflw, tmp_path, fmt):
    sample = WFLWDataset().load_split(synthetic_wflw, "test").samples[0]
    cache = CropCache(tmp_path / "cache", "wflw", CropSettings(128), fmt)
    first, m1 = cache.crop(sample)
    path = cache.path(sample)
    assert path.is_file()
    again, m2 = cache.crop(sample)
    assert np.array_equal(first, again) and np.array_equal(m1, m2)  # lossless
    # A changed box, a changed crop setting, or a changed image file each get a new key.
    moved = type(sample)(**{**sample.__dict__, "box_px": tuple(v + 5 for v in sample.box_px)})
    assert cache.path(moved) != path
    assert CropCache(tmp_path / "cache", "wflw", CropSettings(128, extension=(0.0, 0.1))).folder != cache.folder
    stat = sample.image_path.stat()
    os.utime(sample.image_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    assert cache.path(sample) != path
    # A half-written file (a killed process) is made again, not served.
    path.write_bytes(b"\x93NUMPY garbage")
    os.utime(sample.image_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    fresh = CropCache(tmp_path / "cache", "wflw", CropSettings(128), fmt)
    assert fresh.path(sample) == path and np.array_equal(fresh.crop(sample)[0], first)


def test_data_loader_with_worker_processes(synthetic_wflw, tmp_path):
    torch = pytest.importorskip("torch")
    from fabrec_bench.torch_helpers.torchdata import face_loader, normalise
    from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB

    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:10]
    crops = FaceCrops(samples, WFLW98, input_size=64, augment=PRESETS[6], cache_root=tmp_path, dataset_name="wflw")
    loader = face_loader(crops, batch_size=4, shuffle=True, workers=2)
    batches = list(loader)
    assert [b["image"].shape[0] for b in batches] == [4, 4, 2]  # nothing dropped
    assert batches[0]["image"].shape[1:] == (64, 64, 3) and batches[0]["image"].dtype == torch.uint8
    normalised = normalise(batches[0]["image"], mean_rgb=IMAGE_MEAN_RGB)
    assert normalised.shape[1:] == (3, 64, 64) and normalised.dtype == torch.float32
    # Channel order: BGR in, RGB out, mean subtracted.
    first = batches[0]["image"][0].numpy()
    assert np.allclose(normalised[0, 0].numpy(), first[..., 2] / 255.0 - 0.518, atol=1e-6)
    assert sorted(torch.cat([b["index"] for b in batches]).tolist()) == list(range(10))
    assert len(list(crops.cache.folder.rglob("*.npy"))) == 10  # workers filled the cache
