"""What a 3FabRec autoencoder has learned, as the original's stage-1 training shows it each epoch:
reconstructions (SSIM and pixel error in the corner), random faces decoded from the prior N(0, I) the latent
discriminator matches codes to, interpolations between pairs of reconstructions, and, when the structural loss
trains, its error maps (1 - the contrast-structure SSIM term, per pixel)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from fabrec_bench_plugins.models.fabrec.losses import ssim_maps
from fabrec_bench_plugins.models.fabrec.networks import Fabrec

PICTURES = ("reconstructions", "random", "interpolations", "ssim_errors")


def to_bgr_uint8(images: torch.Tensor) -> np.ndarray:
    """Normalised RGB batches (B, 3, H, W) -> BGR uint8 (B, H, W, 3) for writing."""
    from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB

    mean = torch.as_tensor(IMAGE_MEAN_RGB, dtype=torch.float32).view(1, 3, 1, 1)
    rgb = ((images.detach().float().cpu() + mean).clamp(0, 1) * 255).round().byte()
    return np.ascontiguousarray(rgb.permute(0, 2, 3, 1).numpy()[..., ::-1])


def label(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of a BGR image with `text` in its bottom-left corner (white, outlined)."""
    out = np.ascontiguousarray(image.copy())
    scale = image.shape[0] / 320
    origin = (3, image.shape[0] - 5)
    for colour, thickness in (((0, 0, 0), 3), ((255, 255, 255), 1)):
        cv2.putText(out, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return out


def _row(images) -> np.ndarray:
    return np.concatenate(list(images), axis=1)


@torch.no_grad()
def reconstructions(net: Fabrec, images: torch.Tensor) -> np.ndarray:
    """Inputs on top, reconstructions below, each with its SSIM and mean absolute pixel error (in 0-255 grey
    levels) in the corner."""
    recon = net.reconstruct(images)
    ssim, _ = ssim_maps(images, recon)
    l1 = (recon.float() - images.float()).abs().flatten(1).mean(dim=1) * 255
    bottom = [label(r, f"SSIM {s:.2f} L1 {e:.1f}")
              for r, s, e in zip(to_bgr_uint8(recon), ssim.flatten(1).mean(dim=1).tolist(), l1.tolist(), strict=True)]
    return np.concatenate([_row(to_bgr_uint8(images)), _row(bottom)], axis=0)


@torch.no_grad()
def random_faces(net: Fabrec, count: int = 8, seed: int = 0, device: str = "cpu") -> np.ndarray:
    """Faces decoded from codes drawn from the prior N(0, I)."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.randn(count, net.P.fc.in_features, generator=generator).to(device)
    return _row(to_bgr_uint8(net.P(codes)))


@torch.no_grad()
def interpolations(net: Fabrec, images: torch.Tensor, steps: int = 8) -> np.ndarray:
    """One row per pair of consecutive images: the reconstructions of codes on the straight line between
    the two faces' codes."""
    codes = net.Q(images)
    rows = []
    for a, b in zip(codes[0::2], codes[1::2], strict=False):
        weights = torch.linspace(0, 1, steps, device=codes.device).view(-1, 1)
        rows.append(_row(to_bgr_uint8(net.P((1 - weights) * a + weights * b))))
    return np.concatenate(rows, axis=0)


@torch.no_grad()
def ssim_errors(net: Fabrec, images: torch.Tensor) -> np.ndarray:
    """Reconstructions on top, the structural loss's per-pixel error 1 - cs below (colour-mapped, 0 blue to
    1 red), padded to the image size (the SSIM window's valid region is smaller)."""
    recon = net.reconstruct(images)
    _, cs = ssim_maps(images, recon)  # as the loss is computed (C2 from the input's range)
    size = images.shape[-1]
    maps = []
    for error in (1 - cs).clamp(0, 1).cpu().numpy():
        coloured = cv2.applyColorMap((error * 255).astype(np.uint8), cv2.COLORMAP_JET)
        pad = (size - coloured.shape[0]) // 2
        maps.append(cv2.copyMakeBorder(coloured, pad, size - coloured.shape[0] - pad, pad,
                                       size - coloured.shape[1] - pad, cv2.BORDER_CONSTANT, value=(0, 0, 0)))
    return np.concatenate([_row(to_bgr_uint8(recon)), _row(maps)], axis=0)


def write_pictures(net: Fabrec, images: torch.Tensor, folder: Path, suffix: str, *, structural: bool,
                   seed: int = 0) -> dict[str, Path]:
    """The four pictures (the error maps only with `structural`) as `<name><suffix>.png` in `folder`."""
    was_training = net.training
    net.eval()
    try:
        pictures = {"reconstructions": reconstructions(net, images),
                    "random": random_faces(net, len(images), seed, str(images.device)),
                    "interpolations": interpolations(net, images)}
        if structural:
            pictures["ssim_errors"] = ssim_errors(net, images)
    finally:
        net.train(was_training)
    written = {}
    for name, picture in pictures.items():
        written[name] = Path(folder) / f"{name}{suffix}.png"
        cv2.imwrite(str(written[name]), picture)
    return written
