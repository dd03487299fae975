"""The torch side of face crops: a Dataset of normalised tensors and a DataLoader with worker processes."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fabrec_bench.faces.facedata import FaceCrops


def normalise(images: torch.Tensor, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32, mean_rgb=(0.0, 0.0, 0.0)) -> torch.Tensor:
    """Loader batches (B x H x W x 3 uint8 BGR, as OpenCV decodes) -> B x 3 x H x W RGB `dtype` in [0, 1]
    minus the model's `mean_rgb` (3FabRec's is fabrec_bench_plugins.models.fabrec.defaults.IMAGE_MEAN_RGB).
    Done per batch on `device`: workers and the host-to-GPU copy move 1 byte per pixel instead of 4, and no
    per-image transpose is paid."""
    images = images.to(device, non_blocking=True) if device is not None else images
    mean = torch.as_tensor(np.asarray(mean_rgb, np.float32), device=images.device, dtype=dtype).view(1, 3, 1, 1)
    rgb = images.flip(-1).permute(0, 3, 1, 2)
    return rgb.to(dtype) / 255.0 - mean


class FaceCropDataset(Dataset):
    """Items are dicts: image (S x S x 3 uint8 BGR; see `normalise`), landmarks (L x 2, crop pixels),
    matrix (image -> crop), index."""

    def __init__(self, crops: FaceCrops):
        self.crops = crops

    def __len__(self) -> int:
        return len(self.crops)

    def set_epoch(self, epoch: int) -> None:
        self.crops.set_epoch(epoch)

    def __getitem__(self, index: int) -> dict:
        image, landmarks, matrix = self.crops.item(index)
        return {"image": torch.from_numpy(image), "landmarks": torch.from_numpy(landmarks.astype(np.float32)),
                "matrix": torch.from_numpy(matrix), "index": index}


def face_loader(crops: FaceCrops, batch_size: int, *, shuffle: bool = False, workers: int = 0,
                pin_memory: bool = False, drop_last: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader over face crops; `batch_size` is capped at the number of faces so no data is dropped."""
    generator = torch.Generator().manual_seed(seed)
    # Workers forked from a process that holds a CUDA context crash; spawn them then (the dataset pickles).
    context = "spawn" if workers > 0 and torch.cuda.is_initialized() else None
    return DataLoader(FaceCropDataset(crops), batch_size=max(1, min(batch_size, len(crops))), shuffle=shuffle,
                      num_workers=workers, pin_memory=pin_memory, drop_last=drop_last, generator=generator,
                      persistent_workers=workers > 0,  # no worker start-up cost every epoch
                      multiprocessing_context=context)
