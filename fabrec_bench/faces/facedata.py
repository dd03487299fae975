"""Face crops for models: image loading, the on-disk crop cache, and a torch Dataset with augmentation.

Cache formats (lossless by default): `npy`, raw uint8 pixels (no decoding at all: the fastest; 3 bytes per
pixel, 395 KB for a 363 x 363 ROI crop), `png` (lossless, about half the disk, but inflating costs
milliseconds per crop) and `jpeg` (quality 95, smallest, lossy, as the 3FabRec reference caches). Crops are
stored under <cache_root>/<dataset>/<crop size>-<settings hash>/<key[:2]>/<key>.<format>. The key hashes the image file's path,
size and modification time, the face box and the crop settings, so a changed image, annotation box or crop
setting never serves a stale crop; landmarks are not cached (they are mapped on every load), so a corrected
landmark annotation needs no cache invalidation at all. Files are written to a temporary name and renamed,
so worker processes can fill the cache concurrently.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import cv2
import numpy as np

from fabrec_bench.checkpoints import atomic_write
from fabrec_bench.errors import DatasetError
from fabrec_bench.faces.augment import (
    FLIP_RULES,
    AugmentSettings,
    apply_warp,
    colour_jitter,
    flip_landmarks,
    flip_matrix,
    random_augmentation,
)
from fabrec_bench.faces.crops import (
    CropSettings,
    centre_crop_matrix,
    compose,
    crop_face,
    crop_matrix,
    roi_size_for,
    to_crop,
)
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.types import FaceSample

CACHE_VERSION = 1
CACHE_FORMATS = ("npy", "png", "jpeg")


def load_image(path: Path) -> np.ndarray:
    """An image as BGR uint8 (grey, 16-bit and CMYK images are converted); an unreadable file names itself.

    EXIF orientation is ignored: landmark annotations refer to the pixel grid as stored, and every reader in
    fabrec-bench (crops, detectors, dlib) sees the same pixels.
    """
    image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        raise DatasetError(f"{path}: cannot read the image (missing, empty or corrupt)")
    return image


def face_image(sample: FaceSample) -> np.ndarray:
    """The image of one face, refusing a box that does not overlap it (a crop of pure padding)."""
    image = load_image(sample.image_path)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = sample.box_px
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise DatasetError(f"{sample.image_path}: face {sample.id} has its box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) "
                           f"outside the image ({w}x{h})")
    return image


class CropCache:
    """Face crops on disk, keyed by image file, box and crop settings."""

    def __init__(self, root: Path, dataset: str, settings: CropSettings, fmt: str = "npy"):
        if fmt not in CACHE_FORMATS:
            raise ValueError(f"cache format {fmt!r} is not one of {', '.join(CACHE_FORMATS)}")
        self.settings = settings
        self.format = fmt
        digest = hashlib.sha1(json.dumps([CACHE_VERSION, asdict(settings)], sort_keys=True).encode()).hexdigest()
        self.folder = Path(root) / dataset / f"{settings.output_size}-{digest[:10]}"
        self._paths: dict[tuple, Path] = {}

    def key(self, sample: FaceSample) -> str:
        st = os.stat(sample.image_path)
        box = [round(float(v), 6) for v in sample.box_px]
        ident = [str(Path(sample.image_path).resolve()), st.st_size, st.st_mtime_ns, box]
        return hashlib.sha1(json.dumps(ident).encode()).hexdigest()

    def path(self, sample: FaceSample) -> Path:
        key = self.key(sample)
        return self.folder / key[:2] / f"{key}.{self.format}"

    def _path_for_epoch(self, sample: FaceSample) -> Path:
        # Hashing and stat-ing once per face and process keeps the cached path cheap; a file changed while a
        # process runs is picked up by the next process.
        memo = (sample.id, str(sample.image_path), tuple(sample.box_px))
        if memo not in self._paths:
            self._paths[memo] = self.path(sample)
        return self._paths[memo]

    def crop(self, sample: FaceSample) -> tuple[np.ndarray, np.ndarray]:
        """The face crop (from the cache, or made and stored) and its image-to-crop matrix."""
        matrix = crop_matrix(sample.box_px, self.settings)
        path = self._path_for_epoch(sample)
        cached = self._read(path)
        if cached is not None and cached.shape == (self.settings.output_size, self.settings.output_size, 3):
            return cached, matrix
        image, matrix = crop_face(face_image(sample), sample.box_px, self.settings)
        self._write(path, image)
        return image, matrix

    def _read(self, path: Path) -> np.ndarray | None:
        try:
            if self.format == "npy":
                return np.load(path, allow_pickle=False)
            return cv2.imread(str(path), cv2.IMREAD_COLOR)
        except (OSError, ValueError):  # missing, or half-written by a killed process: make it again
            return None

    def _write(self, path: Path, image: np.ndarray) -> None:
        if self.format == "npy":
            atomic_write(path, lambda f: np.save(f, image, allow_pickle=False), durable=False)
            return
        ext = ".png" if self.format == "png" else ".jpg"
        params = [cv2.IMWRITE_PNG_COMPRESSION, 1] if self.format == "png" else [cv2.IMWRITE_JPEG_QUALITY, 95]
        ok, encoded = cv2.imencode(ext, image, params)
        if not ok:
            raise OSError(f"could not encode a crop for {path}")
        atomic_write(path, lambda f: f.write(encoded.tobytes()), durable=False)


def uncached_crop(sample: FaceSample, settings: CropSettings) -> tuple[np.ndarray, np.ndarray]:
    return crop_face(face_image(sample), sample.box_px, settings)


class FaceCrops:
    """Crops of a list of faces with mapped landmarks; the base of the torch Dataset below.

    Item i is (image BGR uint8 S x S x 3, landmarks (L, 2) in crop pixels, image-to-crop matrix 2 x 3).
    With `augment`, the enlarged ROI is cropped (and cached), then flipped/warped/jittered and centre-cropped
    in one warp; a flipped crop's landmarks are mirrored in the ROI by `flip_rule` (fabrec_bench.faces.augment:
    `original`, 3FabRec's x -> W - x, or `pixel`, the image's own flip) and their indices permuted with the
    scheme's permutation. Under the `3fabrec`
    crop rule the landmarks are clamped at 0 afterwards, as the original's centre crop does to every sample
    (its training targets included). With `landmarks=False` (unsupervised training on faces of any schemes,
    mixed) items carry no landmarks: an empty (0, 2) array. `extensions` gives each face its own dataset's
    box extension (faces of several datasets in one training, as 3FabRec's stage 1 on VGGFace2 + AffectNet).
    """

    def __init__(self, samples: Sequence[FaceSample], scheme: LandmarkScheme, *, input_size: int = 256,
                 extension: tuple[float, float] = (0.0, 0.0), augment: AugmentSettings | None = None,
                 cache_root: Path | None = None, dataset_name: str = "faces", seed: int = 0,
                 cache_format: str = "npy", rule: str = "affine", frame_offset: float = 0.0,
                 landmarks: bool = True, extensions: Sequence[tuple[float, float]] | None = None,
                 flip_rule: str = "pixel"):
        if flip_rule not in FLIP_RULES:
            raise ValueError(f"flip rule {flip_rule!r} is not one of {', '.join(FLIP_RULES)}")
        self.flip_rule = flip_rule
        self.samples = list(samples)
        if extensions is not None and len(extensions) != len(self.samples):
            raise ValueError(f"{len(extensions)} extensions for {len(self.samples)} faces")
        self.extensions = [tuple(e) for e in extensions] if extensions is not None else None
        self.with_landmarks = landmarks
        self.scheme = scheme
        self.input_size = input_size
        self.augment = augment
        self.settings = CropSettings(input_size=input_size, extension=tuple(extension), roi=augment is not None,
                                     rule=rule, frame_offset=frame_offset)
        self.cache = CropCache(cache_root, dataset_name, self.settings, cache_format) if cache_root else None
        # One settings (and cache folder) per extension in use; the crop cache keys on the settings.
        self._by_extension = {self.settings.extension: (self.settings, self.cache)}
        for ext in set(self.extensions or ()):
            if ext not in self._by_extension:
                settings = replace(self.settings, extension=ext)
                cache = CropCache(cache_root, dataset_name, settings, cache_format) if cache_root else None
                self._by_extension[ext] = (settings, cache)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Different augmentations each epoch, reproducible for a seed."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.samples)

    def item(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sample = self.samples[index]
        settings, cache = self._by_extension[self.extensions[index] if self.extensions else self.settings.extension]
        image, matrix = cache.crop(sample) if cache else uncached_crop(sample, settings)
        points = sample.landmarks_px if self.with_landmarks else np.zeros((0, 2))
        if self.augment is None:
            return image, self._clamped(to_crop(points, matrix)), matrix
        rng = np.random.default_rng([self.seed, self.epoch, index])
        roi = roi_size_for(self.input_size)
        affine, flipped = random_augmentation(rng, self.augment, roi)
        after_flip = compose(affine, centre_crop_matrix(self.settings))
        final = compose(flip_matrix(roi), after_flip) if flipped else after_flip
        out = apply_warp(image, final, self.input_size)
        out = colour_jitter(rng, out, self.augment.colour)
        in_roi = to_crop(points, matrix)
        if flipped and self.with_landmarks:
            in_roi = flip_landmarks(in_roi, roi, self.scheme.flip_permutation, self.flip_rule)
        return out, self._clamped(to_crop(in_roi, after_flip)), compose(matrix, final)

    def _clamped(self, landmarks: np.ndarray) -> np.ndarray:
        return np.maximum(landmarks, 0.0) if self.settings.rule == "3fabrec" else landmarks
