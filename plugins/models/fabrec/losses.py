"""3FabRec's losses beyond plain L1/MSE: the contrast-structure SSIM term of stage 1 and the discriminators'
binary cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrast_structure_loss(x: torch.Tensor, y: torch.Tensor, window: int = 31, sigma: float = 1.5) -> torch.Tensor:
    """1 - mean contrast*structure SSIM term per image (no luminance term), Gaussian window, valid convolution.

    C2 = (0.03 L)^2 with L = 2 for inputs reaching below -0.5 (the reference's guess for normalised images).
    Always float32 and NCHW, outside autocast: the variances are differences of means (bf16 would cancel
    them away), and depthwise convolutions over channels-last 3-channel maps take a path thousands of times
    slower on CPUs.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _contrast_structure_loss(x.float().contiguous(), y.float().contiguous(), window, sigma)


def _contrast_structure_loss(x: torch.Tensor, y: torch.Tensor, window: int, sigma: float) -> torch.Tensor:
    coords = torch.arange(window, dtype=x.dtype, device=x.device) - window // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = (g / g.sum())
    channels = x.shape[1]
    # The 2-D Gaussian is separable: a 31 x 1 then a 1 x 31 pass, 62 taps per pixel instead of 961.
    column = g.view(1, 1, window, 1).expand(channels, 1, window, 1).contiguous()
    row = g.view(1, 1, 1, window).expand(channels, 1, 1, window).contiguous()
    value_range = 2.0 if x.min() < -0.5 else 1.0
    c2 = (0.03 * value_range) ** 2

    def filt(t):
        return F.conv2d(F.conv2d(t, column, groups=channels), row, groups=channels)

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x ** 2
    syy = filt(y * y) - mu_y ** 2
    sxy = filt(x * y) - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return 1 - cs.flatten(1).mean(dim=1).mean()


def bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of sigmoid outputs against a constant label, in float32 (F.binary_cross_entropy
    is refused under CUDA autocast; the discriminators end in a sigmoid, as in the reference)."""
    p = p.float().clamp(1e-7, 1 - 1e-7)
    return -(target * torch.log(p) + (1 - target) * torch.log1p(-p)).mean()
