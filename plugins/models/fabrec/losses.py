"""3FabRec's losses beyond plain L1/MSE: the contrast-structure SSIM term of stage 1 and the discriminators'
binary cross-entropy."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def contrast_structure_loss(x: torch.Tensor, y: torch.Tensor, window: int = 31, sigma: float = 1.5) -> torch.Tensor:
    """1 - mean contrast*structure SSIM term per image (no luminance term), Gaussian window, valid convolution,
    averaged over the batch.

    C2 = (0.03 L)^2 with L guessed from each input image's own values, as the reference computes it image by
    image (csl_common/metrics/ssim.py, called per image by aae_training.loss_struct): the top is 255 if the
    image's maximum exceeds 128, else 1; the bottom is -1 if its minimum is below -0.5, else 0; L = top -
    bottom. Mean-subtracted crops that reach below -0.5 (dark pixels) get L = 2, the others L = 1, so one
    batch mixes both. Always float32 and NCHW, outside autocast: the variances are differences of means (bf16
    would cancel them away), and depthwise convolutions over channels-last 3-channel maps take a path
    thousands of times slower on CPUs.
    """
    with torch.autocast(x.device.type, enabled=False):
        return _contrast_structure_loss(x.float().contiguous(), y.float().contiguous(), window, sigma)


def _contrast_structure_loss(x: torch.Tensor, y: torch.Tensor, window: int, sigma: float) -> torch.Tensor:
    _, cs = _ssim_terms(x, y, window, sigma, luminance=False)
    return 1 - cs.flatten(1).mean(dim=1).mean()


def _ssim_terms(x: torch.Tensor, y: torch.Tensor, window: int, sigma: float, *, luminance: bool
                ) -> tuple[torch.Tensor | None, torch.Tensor]:
    """Per-pixel SSIM terms over a Gaussian window (valid convolution): the luminance term (if asked) and the
    contrast-structure term, with C1 = (0.01 L)^2 and C2 = (0.03 L)^2 from each image's own value range."""
    coords = torch.arange(window, dtype=x.dtype, device=x.device) - window // 2
    g = torch.exp(-(coords ** 2) / (2 * sigma ** 2))
    g = (g / g.sum())
    channels = x.shape[1]
    # The 2-D Gaussian is separable: a 31 x 1 then a 1 x 31 pass, 62 taps per pixel instead of 961.
    column = g.view(1, 1, window, 1).expand(channels, 1, window, 1).contiguous()
    row = g.view(1, 1, 1, window).expand(channels, 1, 1, window).contiguous()
    c2 = ((0.03 * value_range(x)) ** 2).view(-1, 1, 1, 1)

    def filt(t):
        return F.conv2d(F.conv2d(t, column, groups=channels), row, groups=channels)

    mu_x, mu_y = filt(x), filt(y)
    sxx = filt(x * x) - mu_x ** 2
    syy = filt(y * y) - mu_y ** 2
    sxy = filt(x * y) - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    if not luminance:
        return None, cs
    c1 = ((0.01 * value_range(x)) ** 2).view(-1, 1, 1, 1)
    return (2 * mu_x * mu_y + c1) / (mu_x ** 2 + mu_y ** 2 + c1), cs


def ssim_maps(x: torch.Tensor, y: torch.Tensor, window: int = 31, sigma: float = 1.5
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """(SSIM map, contrast-structure map), each (B, H', W') averaged over channels, in float32: for pictures
    of reconstructions (the SSIM in their corner) and of the structural loss's errors (1 - the second)."""
    with torch.autocast(x.device.type, enabled=False):
        lum, cs = _ssim_terms(x.float().contiguous(), y.float().contiguous(), window, sigma, luminance=True)
    return (lum * cs).mean(dim=1), cs.mean(dim=1)


def value_range(images: torch.Tensor) -> torch.Tensor:
    """Each image's value range L as the reference guesses it: (255 if max > 128 else 1) - (-1 if min < -0.5
    else 0); shape (B,)."""
    flat = images.flatten(1)
    top = torch.where(flat.amax(dim=1) > 128, 255.0, 1.0)
    bottom = torch.where(flat.amin(dim=1) < -0.5, -1.0, 0.0)
    return (top - bottom).to(images.dtype)


BCE_EPS = 1e-8  # the reference's `eps`, added inside every log


def bce(p: torch.Tensor, target: float) -> torch.Tensor:
    """Binary cross-entropy of sigmoid outputs against a constant label 1 or 0, as the reference writes it
    (-mean log(p + eps), -mean log(1 - p + eps)), in float32 (F.binary_cross_entropy is refused under CUDA
    autocast; the discriminators end in a sigmoid, as in the reference)."""
    if target not in (0.0, 1.0):
        raise ValueError(f"bce takes the label 1 or 0, got {target!r}")
    p = p.float()
    return -torch.log(p + BCE_EPS).mean() if target == 1.0 else -torch.log(1.0 - p + BCE_EPS).mean()
