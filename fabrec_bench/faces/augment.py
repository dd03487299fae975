"""Training augmentation applied to image and landmarks together: flip, random affine, colour jitter.

As 3FabRec augments (csl_common/utils/transforms.py, ds_utils.build_transform): the ROI crop is flipped
first, then warped by a random affine about its centre, then centre-cropped. The image's part is one 2 x 3
matrix, so the whole chain (image -> ROI -> augmentation -> centre crop) is one warp of the original.

Flipped landmarks follow a named rule (`FLIP_RULES`), because the original's does not mirror the image's
pixel flip exactly:
- `original`: x -> W - x, and only for x > 0 (the original's RandomHorizontalFlip; a point at x <= 0 keeps its
  x). The image is mirrored pixel by pixel (x -> W - 1 - x in pixel centres), so every landmark of a flipped
  crop lands 1 ROI pixel right of the feature it marks: what the released models and the paper trained on.
- `pixel`: x -> W - 1 - x, exactly the image's flip.
Both permute the landmark indices with the scheme's left-right permutation. The affine turns about W / 2, the
original's centre (skimage's transform about img_size / 2), for every rule; image and landmarks share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentSettings:
    """Ranges of the random transforms (angles in degrees, translation as a fraction of the ROI side)."""

    flip: float = 0.5  # probability of a horizontal flip
    rotation: float = 0.0
    translation: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)  # x and y drawn independently
    shear: float = 0.0
    colour: float = 0.0  # brightness/contrast/saturation jitter strength


# 3FabRec's --daug levels (../shared/docs/3fabrec.md, section 3.2); 4 trains the autoencoder, 6 is
# labelled "CVPR landmark training". Colour jitter is our addition, off unless asked for.
PRESETS: dict[int, AugmentSettings] = {
    0: AugmentSettings(),
    1: AugmentSettings(rotation=3, translation=0.025, scale=(0.975, 1.025)),
    2: AugmentSettings(rotation=3, translation=0.035, scale=(0.970, 1.030), shear=2),
    3: AugmentSettings(rotation=20, translation=0.035, scale=(0.970, 1.030)),
    4: AugmentSettings(rotation=45, translation=0.035, scale=(0.940, 1.030), shear=5),
    5: AugmentSettings(rotation=60, translation=0.035, scale=(0.940, 1.030), shear=5),
    6: AugmentSettings(rotation=30, translation=0.04, scale=(0.940, 1.050), shear=5),
    7: AugmentSettings(rotation=0, translation=0.04, scale=(0.940, 1.050), shear=5),
}


FLIP_RULES = ("original", "pixel")


def flip_matrix(size: int) -> np.ndarray:
    """Mirror a size x size image: x -> size - 1 - x (pixel centres), y unchanged."""
    return np.array([[-1.0, 0.0, size - 1.0], [0.0, 1.0, 0.0]])


def flip_landmarks(points: np.ndarray, size: int, permutation, rule: str = "pixel") -> np.ndarray:
    """Mirror (L, 2) landmarks of a size-wide crop by `rule` (see the module docstring) and swap left and
    right points, so index 60 stays the image-left eye corner."""
    if rule not in FLIP_RULES:
        raise ValueError(f"flip rule {rule!r} is not one of {', '.join(FLIP_RULES)}")
    flipped = np.array(points, dtype=np.float64)
    x = flipped[..., 0]
    if rule == "pixel":
        flipped[..., 0] = size - 1.0 - x
    else:
        flipped[..., 0] = np.where(x > 0, size - x, x)
    return flipped[..., list(permutation), :]


def random_affine(rng: np.random.Generator, settings: AugmentSettings, size: int) -> np.ndarray:
    """A random rotation/scale/shear about the crop centre plus a whole-pixel translation, as 2 x 3."""
    angle = math.radians(rng.uniform(-settings.rotation, settings.rotation))
    sx, sy = rng.uniform(*settings.scale, size=2)
    shear = math.radians(rng.uniform(-settings.shear, settings.shear))
    tx, ty = np.round(rng.uniform(-settings.translation, settings.translation, 2) * size)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    linear = rot @ np.array([[1.0, -math.sin(shear)], [0.0, math.cos(shear)]]) @ np.diag([sx, sy])
    c = size / 2  # the original's centre (see the module docstring)
    offset = np.array([c, c]) - linear @ np.array([c, c]) + [tx, ty]
    return np.hstack([linear, offset[:, None]])


def colour_jitter(rng: np.random.Generator, image: np.ndarray, strength: float) -> np.ndarray:
    """Random brightness, contrast and saturation changes on a uint8 RGB/BGR image."""
    if strength <= 0:
        return image
    img = image.astype(np.float32)
    brightness = rng.uniform(-strength, strength) * 255 * 0.5
    contrast = 1 + rng.uniform(-strength, strength)
    saturation = 1 + rng.uniform(-strength, strength)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * saturation
    img = (img - img.mean()) * contrast + img.mean() + brightness
    return np.clip(img, 0, 255).astype(np.uint8)


def random_augmentation(rng: np.random.Generator, settings: AugmentSettings, roi_size: int
                        ) -> tuple[np.ndarray, bool]:
    """Draw one geometric augmentation of a ROI crop: whether it is flipped (first) and the random affine
    (2 x 3) applied after the flip."""
    flipped = bool(rng.random() < settings.flip)
    return random_affine(rng, settings, roi_size), flipped


def apply_warp(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Warp with cubic interpolation and a black border (the augmentation's image operation)."""
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT)
