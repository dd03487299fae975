"""Heatmap targets and decoding (../shared/docs/3fabrec.md sections 2.7 and 2.8), batched on the device.

Targets, as the original renders them (landmarks/lmutils.py): one 128 x 128 channel per landmark with a
Gaussian of sigma 7 heatmap pixels, peak 1, in a window of int(5 sigma) = 35 pixels. With p the landmark in
heatmap pixels (crop coordinate x heatmap_size / input_size), capped at 127, the window starts at
int(p - 17.5) (truncated towards zero) and its peak is 18 pixels in, so the window reaches 18 pixels before
the peak and 16 after it. Away from the border the peak is round-half-up(p); within 17.5 pixels of the
top/left border the truncation moves it one pixel further in (the original's +1 px shift), which released
models learned.

Decoding (the reference protocol, `argmax`): a 9 x 9 box blur with a zero border, the integer argmax, then
division by heatmap_size / input_size. Optional `quarter`: shift the argmax a quarter pixel towards the larger
neighbour in x and in y (Newell et al.), a sub-pixel refinement recorded with every result that uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIGMA = 7.0
DECODINGS = ("argmax", "quarter")


def render_targets(landmarks_crop: torch.Tensor, input_size: int, heatmap_size: int = 128,
                   sigma: float = SIGMA) -> torch.Tensor:
    """(B, L, 2) landmarks in crop pixels -> (B, L, H, H) target heatmaps, on the landmarks' device."""
    scale = heatmap_size / input_size
    window = int(sigma * 5)
    before = -((-window) // 2)  # the template spans -ceil(w/2) .. floor(w/2) - 1 about its peak
    position = (landmarks_crop * scale).clamp(max=heatmap_size - 1)
    centre = torch.trunc(position - window / 2) + before
    grid = torch.arange(heatmap_size, device=landmarks_crop.device, dtype=landmarks_crop.dtype)
    dx = grid.view(1, 1, 1, -1) - centre[..., 0, None, None]
    dy = grid.view(1, 1, -1, 1) - centre[..., 1, None, None]
    after = window - 1 - before
    inside = (dx >= -before) & (dx <= after) & (dy >= -before) & (dy <= after)
    return torch.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) * inside


# Maps blurred and searched per block on CPUs: 64 maps of 137 x 137 float32 (4.8 MB) stay in cache, where one
# pass over a whole batch (51M values for 32 images of 98 maps) is bound by memory traffic. One block on GPUs.
CPU_BLOCK_MAPS = 64


def _box_blur(maps: torch.Tensor) -> torch.Tensor:
    """(N, H, W) -> (N, H, W) float32: the 9 x 9 mean with a zero border, as differences of running sums
    (two passes over the data whatever the window, against nine shifted adds per direction)."""
    x = F.pad(maps.float(), (5, 4, 5, 4))
    x = x.cumsum(-1)
    x = x[..., 9:] - x[..., :-9]
    x = x.cumsum(-2)
    x = x[..., 9:, :] - x[..., :-9, :]
    return x / 81.0


def _blocks(heatmaps: torch.Tensor):
    """(B, L, H, W) -> slices of the (B*L, H, W) maps, one block per cache-sized run of maps."""
    maps = heatmaps.reshape(-1, *heatmaps.shape[-2:])  # one copy if the maps come channels-last
    step = maps.shape[0] if maps.is_cuda else CPU_BLOCK_MAPS
    for start in range(0, maps.shape[0], max(step, 1)):
        yield start, maps[start:start + step]


def smooth(heatmaps: torch.Tensor) -> torch.Tensor:
    """The reference's 9 x 9 box blur with a constant zero border (cv2.blur with BORDER_CONSTANT), float32."""
    return _box_blur(heatmaps.reshape(-1, *heatmaps.shape[-2:])).view(heatmaps.shape)


def decode(heatmaps: torch.Tensor, input_size: int, method: str = "argmax") -> torch.Tensor:
    """(B, L, H, W) heatmaps -> (B, L, 2) landmarks in crop pixels (float32).

    Blur, argmax and the optional quarter-pixel shift run on whole blocks of maps (a fixed number of maps,
    not one image or one landmark at a time), so nothing is done per map in Python."""
    if method not in DECODINGS:
        raise ValueError(f"unknown decoding {method!r}; choose one of {', '.join(DECODINGS)}")
    h, w = heatmaps.shape[-2:]
    index = torch.empty(heatmaps.shape[:-2].numel(), dtype=torch.long, device=heatmaps.device)
    shift = torch.zeros(index.shape + (2,), dtype=torch.float32, device=heatmaps.device)
    for start, block in _blocks(heatmaps):
        flat = _box_blur(block).flatten(1)
        best = flat.argmax(dim=-1)
        index[start:start + len(block)] = best
        if method == "quarter":
            y, x = best // w, best % w

            def at(yy, xx, flat=flat):
                return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(-1)).squeeze(-1)

            sx = torch.sign(at(y, x + 1) - at(y, x - 1)) * ((x > 0) & (x < w - 1))
            sy = torch.sign(at(y + 1, x) - at(y - 1, x)) * ((y > 0) & (y < h - 1))
            shift[start:start + len(block)] = 0.25 * torch.stack([sx, sy], dim=-1)
    coords = torch.stack([index % w, index // w], dim=-1).float() + shift
    return (coords / (h / input_size)).view(*heatmaps.shape[:-2], 2)
