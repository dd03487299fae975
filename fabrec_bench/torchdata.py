"""The torch side of face crops: a Dataset of normalised tensors and a DataLoader with worker processes."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fabrec_bench.facedata import IMAGE_MEAN_RGB, FaceCrops

_MEAN = np.asarray(IMAGE_MEAN_RGB, np.float32)


def to_tensor_rgb(image_bgr: np.ndarray) -> torch.Tensor:
    """BGR uint8 H x W x 3 -> RGB uint8 tensor 3 x H x W (normalise whole batches with `normalise`)."""
    return torch.from_numpy(np.ascontiguousarray(image_bgr[..., ::-1].transpose(2, 0, 1)))


def normalise(images: torch.Tensor, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 RGB batches -> `dtype` in [0, 1] minus the 3FabRec mean, converted on `device` (moving 1 byte
    per pixel instead of 4 from the loader's workers and to the GPU)."""
    images = images.to(device, non_blocking=True) if device is not None else images
    mean = torch.as_tensor(_MEAN, device=images.device, dtype=dtype).view(1, 3, 1, 1)
    return images.to(dtype) / 255.0 - mean


class FaceCropDataset(Dataset):
    """Items are dicts: image (3 x S x S uint8 RGB), landmarks (L x 2, crop pixels), matrix (image -> crop),
    index."""

    def __init__(self, crops: FaceCrops):
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops)

    def set_epoch(self, epoch: int) -> None:
        self.crops.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        image, landmarks, matrix = self.crops.item(index)
        return {"image": to_tensor_rgb(image), "landmarks": torch.from_numpy(landmarks.astype(np.float32)),
                "matrix": torch.from_numpy(matrix), "index": index}


def face_loader(crops: FaceCrops, batch_size: int, *, shuffle: bool = False, workers: int = 0,
                pin_memory: bool = False, drop_last: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader over face crops; `batch_size` is capped at the number of faces so no data is dropped."""
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(FaceCropDataset(crops), batch_size=max(1, min(batch_size, len(crops))), shuffle=shuffle,
                      num_workers=workers, pin_memory=pin_memory, drop_last=drop_last, generator=generator,
                      persistent_workers=False)
