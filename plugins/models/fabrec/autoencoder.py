"""Stage 1: train the adversarial autoencoder on unlabeled faces, resumable from its latest snapshot.

Writes into the output folder: `latest.pt` after every epoch (weights and iteration, with the optimiser
states in `latest.optim.pt`; loadable with weights_only=True, written atomically), `epoch_NNN.pt` every
`keep_every` epochs (0: none; a 256-px snapshot is about 100 MB), the original's four pictures per epoch
(pictures.py: `reconstructions_epoch_NNN.png` with SSIM and pixel error, `random_epoch_NNN.png` decoded from
the prior, `interpolations_epoch_NNN.png`, and `ssim_errors_epoch_NNN.png` when the structural loss trains), and
`stage1_loss.csv`/`.png`. Faces are cropped by the original's rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.faces.augment import PRESETS
from fabrec_bench.faces.facedata import FaceCrops
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.distributed import (
    barrier,
    broadcast_state,
    max_replica_difference,
    setup,
    shard,
)
from fabrec_bench.torch_helpers.loop import EpochLoop
from fabrec_bench.torch_helpers.precision import autocast_for
from fabrec_bench.torch_helpers.torchdata import face_loader, normalise
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint, save_checkpoint
from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB
from fabrec_bench_plugins.models.fabrec.networks import Fabrec
from fabrec_bench_plugins.models.fabrec.pictures import write_pictures
from fabrec_bench_plugins.models.fabrec.resume import stage1_state
from fabrec_bench_plugins.models.fabrec.training import STAGE1_PRESETS, AutoencoderTrainer


def train_autoencoder(samples: Sequence[FaceSample], scheme: LandmarkScheme, out: Path, *, input_size: int = 256,
                      epochs: int = 1, batch_size: int = 50, preset: str = "recon", lr: float = 2e-5,
                      daug: int = 4, device: str = "auto", precision: str = "auto", workers: int = 0,
                      crop_extension=(0.0, 0.0), cache_dir: Path | None = None, seed: int = 0,
                      resume: bool = True, progress=None, max_seconds: float | None = None,
                      keep_every: int = 10, crop_extensions=None) -> dict:
    """Train (or continue training) an autoencoder; returns a summary with the final reconstruction error.

    `max_seconds` stops after the first epoch that ends past that budget (snapshots are complete epochs).
    `progress` is told every step (a `fabrec_bench.models.TrainingProgress`).
    `keep_every` K keeps `epoch_NNN.pt` for every K-th epoch besides `latest.pt` (0: latest only).
    `crop_extensions` (one per face) crops faces of several datasets each by its own dataset's rule.
    """
    if keep_every < 0:
        raise UserError(f"keep_every must be 0 (latest only) or a positive number of epochs, got {keep_every}")
    if preset not in STAGE1_PRESETS:
        raise UserError(f"preset {preset!r} must be one of {', '.join(STAGE1_PRESETS)}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    world, device = setup(device)
    device = resolve_device(device)
    samples = shard(list(samples), world)
    crop_extensions = shard(list(crop_extensions), world) if crop_extensions is not None else None
    if not samples:
        raise UserError("no faces to train the autoencoder on")
    torch.manual_seed(seed)
    latest = out / "latest.pt"  # a training to continue decides the layout (mapped, not read: keys only)
    net = Fabrec.for_weights(read_checkpoint(latest, mmap=True)[0] if resume and latest.is_file() else {},
                             scheme.num_points, input_size)
    trainer = AutoencoderTrainer(net, lr=lr, autocast=autocast_for(device, precision), world=world,
                                 **STAGE1_PRESETS[preset])
    net.to(device).to(memory_format=torch.channels_last)

    def meta_of(epoch: int) -> dict:
        return {"stage": "autoencoder", "epoch": epoch, "iteration": trainer.iteration, "input_size": input_size,
                "preset": preset, "lr": lr, "daug": daug, "seed": seed, "faces": len(samples) * world.size,
                "processes": world.size}

    state = stage1_state(out, net, meta_of, world, input_size)
    start_epoch = state.restore(net, trainer, device=device) if resume else 0
    broadcast_state(net, world)
    crops = FaceCrops(samples, scheme, input_size=input_size, extension=tuple(crop_extension),
                      augment=PRESETS[daug], cache_root=cache_dir, dataset_name=f"ae-{scheme.name}", seed=seed,
                      rule="3fabrec", landmarks=False,  # labels are not used: faces of any scheme mix
                      extensions=crop_extensions)
    loader = face_loader(crops, batch_size, shuffle=True, workers=workers, pin_memory=device.startswith("cuda"),
                         drop_last=len(crops) > batch_size, seed=seed)
    fixed = normalise(next(iter(face_loader(crops, min(8, len(crops)))))["image"], device, mean_rgb=IMAGE_MEAN_RGB)
    # Snapshots are whole epochs, so the time budget is checked at epoch ends.
    loop = EpochLoop("3fabrec stage 1", trainer, loader, crops, seed, epochs, world=world,
                     max_seconds=float(max_seconds or 0), budget_at_epoch_end=True, progress=progress)

    def step(batch):
        images = normalise(batch["image"], device, mean_rgb=IMAGE_MEAN_RGB)
        return trainer.step(images.contiguous(memory_format=torch.channels_last))

    def end_of_epoch(done: int, stopping: bool) -> None:
        # BatchNorm statistics are per process (as DistributedDataParallel's default); rank 0's are kept.
        broadcast_state(net, world)
        if world.is_main:
            if keep_every and done % keep_every == 0:
                save_checkpoint(out / f"epoch_{done:03d}.pt", net, meta_of(done))
            write_pictures(net, fixed, out, f"_epoch_{done:03d}", structural=STAGE1_PRESETS[preset]["with_ssim"],
                           seed=seed)
        state.save(net, trainer, None, done, force=True)  # optimisers, then latest.pt
        barrier(world)

    result = loop.run(step, start_epoch, end_of_epoch)
    summary = {}
    if result.epochs_done > start_epoch:
        last = [r["recon_l1"] for r in loop.curve.rows if r["epoch"] == result.epochs_done - 1]
        summary = {"epoch": result.epochs_done, "recon_l1": float(np.mean(last)),
                   "images_per_second": result.images_per_second}
        if world.is_main:
            loop.curve.write(out, f"stage1_loss_epochs_{start_epoch + 1}-{result.epochs_done}")
    summary["checkpoint"] = str(out / "latest.pt")
    summary["processes"] = world.size
    summary["replica_max_difference"] = max_replica_difference(net, world)
    return summary
