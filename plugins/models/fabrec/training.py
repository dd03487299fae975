"""3FabRec's trainers: one `step` per batch for stage 1 (adversarial autoencoder) and stage 2 (interleaved
transfer layers); the epochs around them are `loop.EpochLoop`.

Stage 1, per batch (../shared/docs/3fabrec.md 3.1): encode; every 4th iteration update D_z on prior N(0, I)
vs the codes; every 2nd iteration add the encoder's latent adversarial loss; decode; L1 reconstruction on the
0-255 scale; optionally the contrast-structure SSIM loss (loss = 0.5 L1 + 0.5 * 60 L_cs) and the image GAN
(D every 2nd iteration on inputs vs reconstructions; generator term every iteration); one backward, then Q
and P step. Adam with betas (0, 0.999): lr 2e-5 for Q, P, D_z, half for D. "Every 2nd / 4th iteration"
counts the iterations of the current epoch, which restart at 0 with every epoch (the reference's
`iter_in_epoch`), so each epoch starts with a D_z, an encoder and a D update; the loop calls `start_epoch`.

Stage 2 (3.2): the autoencoder frozen in eval mode (BatchNorm statistics fixed), the transfer layers trained
with 300 * MSE against Gaussian target heatmaps, Adam lr 1e-3, betas (0.9, 0.999); optionally Q fine-tuned by
its own Adam (lr 2e-5), still in eval mode. `scratch` trains Q, P and the head together from random weights
(the baseline of the few-shot claim).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from fabrec_bench.torch_helpers.distributed import World, average_gradients
from fabrec_bench_plugins.models.fabrec.heatmaps import render_targets
from fabrec_bench_plugins.models.fabrec.losses import bce, contrast_structure_loss
from fabrec_bench_plugins.models.fabrec.networks import Fabrec

# The three-step recipe of the reference README, as presets.
STAGE1_PRESETS = {
    "recon": {"with_gan": False, "with_ssim": False},
    "recon+gan": {"with_gan": True, "with_ssim": False},
    "recon+gan+ssim": {"with_gan": True, "with_ssim": True},
}


class AutoencoderTrainer:
    """Stage 1 on unlabeled faces; call `step(images)` once per batch."""

    def __init__(self, model: Fabrec, *, lr: float = 2e-5, with_zgan: bool = True, with_gan: bool = False,
                 with_ssim: bool = False, w_rec: float = 1.0, w_ssim: float = 60.0, update_d_freq: int = 2,
                 autocast: Callable | None = None, world: World | None = None):
        self.model = model
        self.world = world or World()
        self.with_zgan, self.with_gan, self.with_ssim = with_zgan, with_gan, with_ssim
        self.w_rec, self.w_ssim, self.update_d_freq = w_rec, w_ssim, update_d_freq
        betas = (0.0, 0.999)
        self.opt_q = torch.optim.Adam(model.Q.parameters(), lr=lr, betas=betas)
        self.opt_p = torch.optim.Adam(model.P.parameters(), lr=lr, betas=betas)
        self.opt_dz = torch.optim.Adam(model.D_z.parameters(), lr=lr, betas=betas)
        self.opt_d = torch.optim.Adam(model.D.parameters(), lr=lr * 0.5, betas=betas)
        self.iteration = 0  # iterations trained in all (the loop's cap and the loss curve count these)
        self.iteration_in_epoch = 0  # what the schedules count
        self.autocast = autocast or (lambda: torch.autocast("cpu", enabled=False))

    def start_epoch(self) -> None:
        """A new epoch starts: the D_z / encoder / D schedules count from 0 again."""
        self.iteration_in_epoch = 0

    def optimizers(self) -> dict:
        return {"Q": self.opt_q, "P": self.opt_p, "D_z": self.opt_dz, "D": self.opt_d}

    def _discriminator_step(self, disc, opt, real: torch.Tensor, fake: torch.Tensor) -> float:
        """One BCE update of a discriminator (D_z on prior vs codes, or D on images vs reconstructions)."""
        loss = bce(disc(real), 1.0) + bce(disc(fake), 0.0)
        loss.backward()
        average_gradients(disc.parameters(), self.world)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    def step(self, images: torch.Tensor) -> dict[str, float]:
        m = self.model
        m.train()
        for opt in self.optimizers().values():
            opt.zero_grad(set_to_none=True)
        it = self.iteration_in_epoch
        losses: dict[str, float] = {}
        with self.autocast():
            z = m.Q(images)
            loss = torch.zeros((), device=images.device)
            if self.with_zgan:
                if it % 4 == 0:
                    losses["d_z"] = self._discriminator_step(m.D_z, self.opt_dz, torch.randn_like(z), z.detach())
                if it % 2 == 0:
                    e_loss = bce(m.D_z(z), 1.0)
                    loss = loss + e_loss
                    losses["enc_adv"] = e_loss.item()
            recon = m.P(z)
            l_rec = (images - recon).abs().flatten(1).mean(dim=1).mean() * 255
            losses["recon_l1"] = l_rec.item()
            rec_term = self.w_rec * l_rec
            if self.with_ssim:
                l_cs = contrast_structure_loss(images, recon)
                losses["cs"] = l_cs.item()
                rec_term = 0.5 * rec_term + 0.5 * self.w_ssim * l_cs
            loss = loss + rec_term
            if self.with_gan:
                if it % self.update_d_freq == 0:
                    losses["d_img"] = self._discriminator_step(m.D, self.opt_d, images, recon.detach())
                for p in m.D.parameters():
                    p.requires_grad_(False)
                g_loss = bce(m.D(recon), 1.0)
                for p in m.D.parameters():
                    p.requires_grad_(True)
                loss = loss + g_loss
                losses["gen_adv"] = g_loss.item()
        # Clear any gradient the latent step left in D_z before the shared backward.
        self.opt_dz.zero_grad(set_to_none=True)
        loss.backward()
        average_gradients(list(m.Q.parameters()) + list(m.P.parameters()), self.world)
        self.opt_q.step()
        self.opt_p.step()
        self.iteration += 1
        self.iteration_in_epoch += 1
        return losses


class LandmarkTrainer:
    """Stage 2: train the transfer layers (and optionally Q), or everything for `scratch`."""

    def __init__(self, model: Fabrec, *, lr_heatmaps: float = 1e-3, lr_encoder: float = 2e-5,
                 train_encoder: bool = False, scratch: bool = False, sigma: float = 7.0,
                 autocast: Callable | None = None, world: World | None = None):
        self.model = model
        self.world = world or World()
        self.scratch = scratch
        self.train_encoder = train_encoder or scratch
        self.sigma = sigma
        head = list(model.LMH.parameters())
        if scratch:  # everything learns from the labeled faces alone, with the head's optimiser settings
            head += list(model.Q.parameters()) + list(model.P.parameters())
        self.opt_head = torch.optim.Adam(head, lr=lr_heatmaps, betas=(0.9, 0.999))
        self.opt_q = (torch.optim.Adam(model.Q.parameters(), lr=lr_encoder, betas=(0.9, 0.999))
                      if train_encoder and not scratch else None)
        for p in model.Q.parameters():
            p.requires_grad_(self.train_encoder)
        for p in model.P.parameters():
            p.requires_grad_(scratch)
        self.autocast = autocast or (lambda: torch.autocast("cpu", enabled=False))
        self.iteration = 0

    def optimizers(self) -> dict:
        return {k: v for k, v in (("head", self.opt_head), ("Q", self.opt_q)) if v is not None}

    def step(self, images: torch.Tensor, landmarks_crop: torch.Tensor) -> dict[str, float]:
        m = self.model
        # The pretrained autoencoder stays in eval mode (BatchNorm statistics frozen); from scratch it trains.
        m.eval()
        if self.scratch:
            m.Q.train()
            m.P.train()
        m.LMH.train()
        for opt in self.optimizers().values():
            opt.zero_grad(set_to_none=True)
        targets = render_targets(landmarks_crop.float(), m.input_size, sigma=self.sigma)
        with self.autocast():
            predicted = m.heatmaps(images)
        loss = 300.0 * F.mse_loss(predicted.float(), targets)
        loss.backward()
        for opt in self.optimizers().values():
            average_gradients([p for group in opt.param_groups for p in group["params"]], self.world)
            opt.step()
        self.iteration += 1
        return {"heatmap_mse_x300": loss.item()}
