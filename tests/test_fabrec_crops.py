"""3FabRec's crops equal the original code's: 40 reference cases computed by the original implementation.

The cases live in ../shared/fixtures/3fabrec-crops (see its README). Each pattern image is rebuilt from its
size, cropped by our `3fabrec` rule with the extension our dataset adapter declares, and compared with the
original's 256 x 256 crop and landmark positions. In CI the folder must be there: a missing folder fails.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from fabrec_bench.faces.augment import AugmentSettings
from fabrec_bench.faces.crops import CropSettings, crop_face, fabrec_region, to_crop, to_image
from fabrec_bench.faces.facedata import FaceCrops
from fabrec_bench.plugins import get_registry
from fabrec_bench.schemes import FIVE_POINT
from fabrec_bench.types import FaceSample

FIXTURES = Path(os.environ.get("FABREC_BENCH_SHARED", Path(__file__).resolve().parents[2] / "shared")) / \
    "fixtures" / "3fabrec-crops"
ADAPTERS = {"wflw": "wflw", "300w": "300w", "aflw": "aflw", "vggface2": "vggface2", "affectnet": "affectnet"}


def _cases() -> list[dict]:
    path = FIXTURES / "cases.json"
    return json.loads(path.read_text())["cases"] if path.is_file() else []


def _require_fixtures() -> None:
    if (FIXTURES / "cases.json").is_file() and (FIXTURES / "crops.npz").is_file():
        return
    message = f"the original 3FabRec's reference crops are missing: {FIXTURES} (cases.json, crops.npz)"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI has ../shared: a missing folder is a broken checkout, never a skip
    pytest.skip(message)


def pattern_rgb(width: int, height: int) -> np.ndarray:
    """The fixture README's pattern: round(127.5 + 60 sin(x / 7.3 + c) + 60 cos(y / 5.1 - 0.5 c)), clipped."""
    x = np.arange(width)[None, :]
    y = np.arange(height)[:, None]
    channels = [np.clip(np.round(127.5 + 60 * np.sin(x / 7.3 + c) + 60 * np.cos(y / 5.1 - 0.5 * c)), 0, 255)
                for c in range(3)]
    return np.stack(channels, axis=-1).astype(np.uint8)


def _settings(case: dict, **kw) -> CropSettings:
    adapter = get_registry().dataset(ADAPTERS[case["dataset"]])
    return CropSettings(input_size=256, extension=tuple(adapter.crop_box_extension), rule="3fabrec", **kw)


def test_the_fixtures_are_there():
    _require_fixtures()
    assert len(_cases()) == 40


@pytest.mark.parametrize("case", _cases() or [None], ids=lambda c: c["id"] if c else "missing")
def test_crop_and_landmarks_equal_the_originals(case):
    _require_fixtures()
    reference = np.load(FIXTURES / "crops.npz")[case["id"]]
    settings = _settings(case)
    # Our adapters declare the original's extension for each dataset.
    fixture_rule = json.loads((FIXTURES / "cases.json").read_text())["extensions"][case["dataset"]]
    assert settings.extension == (fixture_rule.get("dt", 0.0), fixture_rule.get("db", 0.0))
    tl, br = fabrec_region(case["box"], settings.extension, 256)
    assert tl.tolist() == case["roi_tl"] and br.tolist() == case["roi_br"]

    bgr = pattern_rgb(*case["image_wh"])[..., ::-1]
    crop, matrix = crop_face(np.ascontiguousarray(bgr), case["box"], settings)
    diff = np.abs(crop[..., ::-1].astype(int) - reference.astype(int))
    assert diff.mean() <= 0.5 and (diff <= 2).mean() >= 0.99, (diff.mean(), (diff <= 2).mean())

    points = np.asarray(case["points_in_image"])
    assert np.abs(to_crop(points, matrix) - case["points_in_crop"]).max() <= 1e-3
    assert np.abs(to_image(to_crop(points, matrix), matrix) - points).max() < 1e-9  # predictions map back


@pytest.mark.parametrize("index", [0, 17, 39])
def test_training_and_inference_crops_are_the_originals_too(tmp_path, index):
    """Through FaceCrops (image file, crop cache, the augmentation path with no augmentation drawn)."""
    _require_fixtures()
    case = _cases()[index]
    reference = np.load(FIXTURES / "crops.npz")[case["id"]]
    image_path = tmp_path / "face.png"
    cv2.imwrite(str(image_path), np.ascontiguousarray(pattern_rgb(*case["image_wh"])[..., ::-1]))
    sample = FaceSample(id="0", image_path=image_path, landmarks_px=np.asarray(case["points_in_image"]),
                        box_px=tuple(case["box"]))
    extension = _settings(case).extension
    inference = FaceCrops([sample], FIVE_POINT, extension=extension, rule="3fabrec", cache_root=tmp_path / "cache")
    training = FaceCrops([sample], FIVE_POINT, extension=extension, rule="3fabrec",
                         augment=AugmentSettings(flip=0.0), cache_root=tmp_path / "cache")
    for crops in (inference, training):
        for _ in range(2):  # made, then served from the cache
            image, landmarks, _ = crops.item(0)
            diff = np.abs(image[..., ::-1].astype(int) - reference.astype(int))
            assert diff.mean() <= 0.5 and (diff <= 2).mean() >= 0.99
            # The original's centre crop clamps negative coordinates to 0.
            expected = np.maximum(np.asarray(case["points_in_crop"]), 0.0)
            assert np.abs(landmarks - expected).max() <= 1e-3


def test_a_model_trained_in_the_raw_1_based_frame_crops_from_the_raw_box():
    """Released 300-W models learned the `.pts` frame (1-based): with frame_offset 1 the region is computed
    from the raw box and a point maps where the original maps its raw coordinates."""
    box0 = (99.3, 50.7, 200.1, 170.9)  # our 0-based frame
    raw = tuple(v + 1 for v in box0)
    ours = CropSettings(256, extension=(0.2, 0.12), rule="3fabrec", frame_offset=1.0)
    tl, br = fabrec_region(raw, (0.2, 0.12), 256)
    from fabrec_bench.faces.crops import crop_matrix

    point0 = np.array([[140.25, 120.5]])
    expected = (point0 + 1 - tl) * 363 / (br - tl) - 53
    assert np.allclose(to_crop(point0, crop_matrix(box0, ours)), expected, atol=1e-12)


def test_the_region_truncates_every_side_towards_zero():
    # Negative sides truncate towards zero (int(-10.7) = -10), not down.
    tl, br = fabrec_region((-10.7, -20.9, 89.6, 79.9), (0.0, 0.0), 256)
    # Extended box (-10, -20, 89, 79): side 99 about (39.5, 29.5), times 363 / 256.
    half = np.float32(49.5) * np.float32(363 / 256)
    assert tl.tolist() == [int(np.float32(39.5) - half), int(np.float32(29.5) - half)]
    assert br.tolist() == [int(2 * half + (np.float32(39.5) - half)), int(2 * half + (np.float32(29.5) - half))]


def test_faces_of_several_datasets_are_each_cropped_by_their_own_rule(tmp_path):
    """3FabRec's stage 1 trains on VGGFace2 and AffectNet together; the original crops each face with its
    own dataset's box extension. Per-face extensions give the same crops as one dataset at a time."""
    _require_fixtures()
    by_id = {c["id"]: c for c in _cases()}
    chosen = [by_id["vggface2-3"], by_id["affectnet-1"]]
    samples, extensions = [], []
    for i, case in enumerate(chosen):
        path = tmp_path / f"face{i}.png"
        cv2.imwrite(str(path), np.ascontiguousarray(pattern_rgb(*case["image_wh"])[..., ::-1]))
        samples.append(FaceSample(id=str(i), image_path=path, landmarks_px=np.asarray(case["points_in_image"]),
                                  box_px=tuple(case["box"])))
        extensions.append(_settings(case).extension)
    assert extensions[0] != extensions[1]
    mixed = FaceCrops(samples, FIVE_POINT, rule="3fabrec", extensions=extensions, cache_root=tmp_path / "cache")
    for i, case in enumerate(chosen):
        image, _, _ = mixed.item(i)
        diff = np.abs(image[..., ::-1].astype(int) - np.load(FIXTURES / "crops.npz")[case["id"]].astype(int))
        assert diff.mean() <= 0.5 and (diff <= 2).mean() >= 0.99, case["id"]
