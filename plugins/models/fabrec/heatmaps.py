"""Heatmap targets and decoding (../shared/docs/3fabrec.md sections 2.7 and 2.8), batched on the device.

Targets: one 128 x 128 channel per landmark with a Gaussian of sigma 7 heatmap pixels, peak 1, truncated to a
35 x 35 window centred on round-half-up(p) with p the landmark in heatmap pixels (crop coordinate x
heatmap_size / input_size), positions clamped to <= 127. The reference's +1 px shift for points within
17.5 heatmap pixels of the top/left border is not ported.

Decoding (the reference protocol, `argmax`): a 9 x 9 box blur with a zero border, the integer argmax, then
division by heatmap_size / input_size. Optional `quarter`: shift the argmax a quarter pixel towards the larger
neighbour in x and in y (Newell et al.), a sub-pixel refinement recorded with every result that uses it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

SIGMA = 7.0
WINDOW = 35  # int(5 * sigma)
DECODINGS = ("argmax", "quarter")


def render_targets(landmarks_crop: torch.Tensor, input_size: int, heatmap_size: int = 128,
                   sigma: float = SIGMA) -> torch.Tensor:
    """(B, L, 2) landmarks in crop pixels -> (B, L, H, H) target heatmaps, on the landmarks' device."""
    scale = heatmap_size / input_size
    centre = torch.floor(landmarks_crop * scale + 0.5).clamp(max=heatmap_size - 1)  # round half up
    grid = torch.arange(heatmap_size, device=landmarks_crop.device, dtype=landmarks_crop.dtype)
    dx = grid.view(1, 1, 1, -1) - centre[..., 0, None, None]
    dy = grid.view(1, 1, -1, 1) - centre[..., 1, None, None]
    half = WINDOW // 2
    inside = (dx.abs() <= half) & (dy.abs() <= half)
    return torch.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)) * inside


def smooth(heatmaps: torch.Tensor) -> torch.Tensor:
    """The reference's 9 x 9 box blur with a constant zero border (cv2.blur with BORDER_CONSTANT).

    Done as a 1 x 9 then a 9 x 1 mean over channels-last maps: an 81-tap window over single-channel maps
    was slower than the network itself on CPUs (21 against 163 images/s for 98 maps of 128 x 128)."""
    x = heatmaps.float().contiguous(memory_format=torch.channels_last)
    x = F.avg_pool2d(x, (1, 9), stride=1, padding=(0, 4), count_include_pad=True)
    return F.avg_pool2d(x, (9, 1), stride=1, padding=(4, 0), count_include_pad=True)


def decode(heatmaps: torch.Tensor, input_size: int, method: str = "argmax") -> torch.Tensor:
    """(B, L, H, W) heatmaps -> (B, L, 2) landmarks in crop pixels; no Python loop over images or points."""
    if method not in DECODINGS:
        raise ValueError(f"unknown decoding {method!r}; choose one of {', '.join(DECODINGS)}")
    blurred = smooth(heatmaps.float())
    h, w = blurred.shape[-2:]
    index = blurred.flatten(2).argmax(dim=-1)
    y, x = index // w, index % w
    coords = torch.stack([x, y], dim=-1).to(blurred.dtype)
    if method == "quarter":
        flat = blurred.flatten(2)

        def at(yy, xx):
            return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)).unsqueeze(-1)).squeeze(-1)

        sx = torch.sign(at(y, x + 1) - at(y, x - 1)) * ((x > 0) & (x < w - 1))
        sy = torch.sign(at(y + 1, x) - at(y - 1, x)) * ((y > 0) & (y < h - 1))
        coords = coords + 0.25 * torch.stack([sx, sy], dim=-1)
    return coords / (h / input_size)
