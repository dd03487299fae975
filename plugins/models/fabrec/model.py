"""The `3fabrec` model plugin: few-shot landmark training on a frozen autoencoder, batched inference.

Options (`FabrecOptions`, `--config KEY=VALUE` on the CLI): `autoencoder` is a stage-1 checkpoint (written by
`fabrec-bench autoencoder`) or a released original snapshot folder; `init=scratch` trains the same network
from random weights instead. Predictions go through the one crop pipeline and are mapped back to
original-image pixels. The decoding (`argmax`, the reference protocol, or `quarter`) is recorded with each
result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.faces.augment import PRESETS
from fabrec_bench.faces.crops import to_image
from fabrec_bench.faces.facedata import FaceCrops
from fabrec_bench.models import LandmarkModel, RunContext
from fabrec_bench.options import as_dict, saved_options
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.torch_helpers.device import resolve_device
from fabrec_bench.torch_helpers.distributed import (
    broadcast_state,
    max_replica_difference,
    setup,
    shard,
)
from fabrec_bench.torch_helpers.loop import EpochLoop
from fabrec_bench.torch_helpers.precision import autocast_for, choose
from fabrec_bench.torch_helpers.torchdata import face_loader, normalise
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.fabrec.checkpoints import (
    load_weights,
    read_checkpoint,
    save_checkpoint,
)
from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB, FabrecOptions
from fabrec_bench_plugins.models.fabrec.heatmaps import decode
from fabrec_bench_plugins.models.fabrec.networks import Fabrec
from fabrec_bench_plugins.models.fabrec.resume import stage2_state
from fabrec_bench_plugins.models.fabrec.training import LandmarkTrainer


class FabrecModel(LandmarkModel):
    """3FabRec behind the fabrec-bench model contract."""

    def __init__(self, scheme: LandmarkScheme, options: FabrecOptions, context: RunContext | str = "auto"):
        super().__init__(scheme, options, context)
        self.device_name = resolve_device(self.context.device)
        self.net = Fabrec(scheme.num_points, options.input_size)
        self.trained = False
        self.history: dict = {}

    # device helpers
    def _channels_last(self, precision: str, *, training: bool) -> bool:
        setting = self.options.channels_last
        if setting == "auto":
            return training or choose(self.device_name, precision)[0] != "fp32"
        return bool(setting)

    def _prepare(self, channels_last: bool) -> None:
        self.net.to(self.device_name)
        self.net.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        if self.device_name.startswith("cuda"):
            # cuDNN's autotuner may pick kernels that round differently run to run: only for mixed precision.
            torch.backends.cudnn.benchmark = channels_last

    def _images(self, batch: dict, channels_last: bool) -> torch.Tensor:
        images = normalise(batch["image"], self.device_name, mean_rgb=IMAGE_MEAN_RGB)
        return images.contiguous(memory_format=torch.channels_last) if channels_last else images

    def _crops(self, samples, augment=None, seed=0) -> FaceCrops:
        opts, data = self.options, self.context.dataset
        return FaceCrops(samples, self.scheme, input_size=self.net.input_size,
                         extension=tuple(data.crop_box_extension), augment=augment, cache_root=self.context.cache_dir,
                         dataset_name=f"{self.scheme.name}", seed=seed, rule=opts.crop_rule,
                         frame_offset=opts.frame_origin - data.coordinate_origin, flip_rule=opts.flip_rule)

    def _inference_precision(self) -> str:
        return self.context.precision or self.options.inference_precision

    def train(self, samples: Sequence[FaceSample]) -> dict:
        seed = self.context.seed
        work_dir = Path(self.context.run_dir or ".")
        torch.manual_seed(seed)
        # The model learns the frame of the data it is trained on, and keeps it (saved with its options).
        self.options = replace(self.options, frame_origin=float(self.context.dataset.coordinate_origin))
        cfg = self.options
        scratch = cfg.init == "scratch"
        autoencoder = {}
        if not scratch:
            if not cfg.autoencoder:
                raise UserError("3fabrec needs a stage-1 autoencoder: --config autoencoder=PATH (from "
                                "`fabrec-bench autoencoder`, or a released snapshot folder), or --config init=scratch")
            autoencoder, meta = read_checkpoint(Path(cfg.autoencoder))
            if int(meta.get("input_size", 256)) != self.net.input_size:
                raise UserError(f"{cfg.autoencoder}: autoencoder is for {meta.get('input_size')} px input, "
                                f"the model uses {self.net.input_size} (set --config input_size=...)")
        # Initial weights come from the seed too (not from whatever ran before in this process).
        self.net = Fabrec.for_weights(autoencoder, self.scheme.num_points, self.net.input_size)
        # Under torchrun each process trains on its share of the faces; gradients are averaged before every
        # step (fabrec_bench.torch_helpers.distributed), so the replicas stay identical.
        world = self.context.process_group
        if world is None:
            world, self.device_name = setup(self.device_name)
        if world.distributed:
            count = len(samples)
            samples = shard(list(samples), world)
            if not samples:
                raise UserError(f"{count} training face(s) cannot be shared by {world.size} processes")
        if not scratch:
            load_weights(self.net, autoencoder, Path(cfg.autoencoder), head=False)
        channels_last = self._channels_last(cfg.precision, training=True)
        self._prepare(channels_last)
        broadcast_state(self.net, world)
        autocast = autocast_for(self.device_name, cfg.precision)
        trainer = LandmarkTrainer(self.net, lr_heatmaps=cfg.lr_heatmaps, lr_encoder=cfg.lr_encoder,
                                  train_encoder=cfg.train_encoder, scratch=scratch, sigma=cfg.sigma,
                                  autocast=autocast, world=world)
        crops = self._crops(samples, augment=PRESETS[cfg.daug], seed=seed)
        # The last partial batch of every epoch is dropped, as the original's loader does (drop_last): a few
        # faces must not make a full Adam step. With fewer faces than one batch (where the original trains on
        # nothing), face_loader makes the batch all of them.
        loader = face_loader(crops, cfg.batch_size, shuffle=True, workers=cfg.workers,
                             pin_memory=self.device_name.startswith("cuda"), seed=seed, drop_last=True)
        iterations = cfg.iterations
        epochs = -(-iterations // len(loader)) if iterations else cfg.epochs
        grid_every = cfg.grid_every or max(1, epochs // 10)
        grid_faces = list(samples[: cfg.images_per_epoch_grid])
        loop = EpochLoop("3fabrec stage 2", trainer, loader, crops, seed, epochs, world=world, iterations=iterations,
                         max_seconds=cfg.max_seconds, progress=self.context.progress)
        resume = stage2_state(self.context.resume_dir, as_dict(cfg), samples, seed, world) if self.context.resume_dir else None
        start_epoch = resume.restore(self.net, trainer, loop.curve) if resume else 0
        # A state written before stage 2 trained by the original's rules: its epochs used the pixel flip and kept
        # the last partial batch. They are continued, not thrown away, and the history says how many.
        earlier_rules = start_epoch if resume and resume.restored_legacy else 0

        def step(batch):
            return trainer.step(self._images(batch, channels_last), batch["landmarks"].to(self.device_name))

        def end_of_epoch(done: int, stopping: bool) -> None:
            if world.is_main and (done % grid_every == 0 or stopping):
                self._landmark_grid(grid_faces, work_dir / f"stage2_landmarks_epoch_{done:04d}.png", channels_last)
            if resume and not stopping:
                resume.save(self.net, trainer, loop.curve, done)

        result = loop.run(step, start_epoch, end_of_epoch)
        if resume:
            resume.finished()
        broadcast_state(self.net, world)  # BatchNorm statistics (from scratch) are per process; rank 0's win
        curve = loop.curve
        csv_path, png_path = curve.write(work_dir, "stage2_loss")
        self.trained = True
        self.history = {"iterations": trainer.iteration, "epochs": epochs,
                        "final_loss": curve.rows[-1]["heatmap_mse_x300"] if curve.rows else None,
                        "images_per_second": result.images_per_second, "train_faces": len(samples) * world.size,
                        "faces_per_process": len(samples),
                        "loss_csv": str(csv_path), "loss_png": str(png_path), "init": cfg.init,
                        "processes": world.size, "replica_max_difference": max_replica_difference(self.net, world),
                        "precision": choose(self.device_name, cfg.precision)[0],
                        "flip_rule": cfg.flip_rule, "last_partial_batch": "dropped",
                        "resumed_from_epoch": start_epoch, "stopped_by_time_budget": result.stopped_by_time_budget}
        if earlier_rules:
            self.history["epochs_under_earlier_rules"] = earlier_rules
        return self.history

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        precision = self._inference_precision()
        return self._predict(samples, self._channels_last(precision, training=False))

    @torch.no_grad()
    def _predict(self, samples: Sequence[FaceSample], channels_last: bool) -> np.ndarray:
        precision = self._inference_precision()
        self._prepare(channels_last)
        self.net.eval()
        autocast = autocast_for(self.device_name, precision)
        crops = self._crops(samples)
        loader = face_loader(crops, self.options.eval_batch_size, workers=self.options.workers,
                             pin_memory=self.device_name.startswith("cuda"))
        out = np.zeros((len(samples), self.scheme.num_points, 2))
        heatmaps_of = torch.compile(self.net.heatmaps) if self.options.compile else self.net.heatmaps
        for batch in loader:
            with autocast():
                heatmaps = heatmaps_of(self._images(batch, channels_last))
            in_crop = decode(heatmaps, self.net.input_size, self.options.decoding).cpu().numpy()
            for row, index in enumerate(batch["index"].tolist()):
                out[index] = to_image(in_crop[row].astype(np.float64), batch["matrix"][row].numpy())
        return out

    @torch.no_grad()
    def illustrate(self, samples: Sequence[FaceSample], *, truth: bool = False) -> list[dict[str, np.ndarray]]:
        """The original's demo pictures per face: five tiles (the input crop, its reconstruction, the heatmaps
        over the input, the prediction on the reconstruction, the prediction on the input), the predicted
        heatmaps collapsed into one image (their maximum over landmarks, coloured), the reconstruction with its
        SSIM and pixel error in the corner and, with `truth` (annotated faces), the ground-truth heatmaps."""
        from fabrec_bench.reports.drawing import PREDICTION_BGR, draw_points
        from fabrec_bench_plugins.models.fabrec.heatmaps import render_targets
        from fabrec_bench_plugins.models.fabrec.losses import ssim_maps
        from fabrec_bench_plugins.models.fabrec.pictures import label, to_bgr_uint8

        self._prepare(False)
        self.net.eval()
        size = self.net.input_size
        radius = max(1, size // 128)

        def collapsed(maps: torch.Tensor) -> np.ndarray:
            peak = maps.clamp(min=0).amax(dim=0).cpu().numpy()
            peak = peak / max(float(peak.max()), 1e-6)
            return cv2.applyColorMap(cv2.resize((peak * 255).astype(np.uint8), (size, size)), cv2.COLORMAP_JET)

        out: list[dict[str, np.ndarray]] = [{} for _ in samples]
        for batch in face_loader(self._crops(samples), self.options.eval_batch_size):
            images = self._images(batch, False)
            codes = self.net.Q(images)
            reconstructions = self.net.P(codes)
            heatmaps = self.net.LMH(self.net.P.stage1(codes), self.net.P).float()
            in_crop = decode(heatmaps, size, self.options.decoding).cpu().numpy()
            inputs, recons = to_bgr_uint8(images), to_bgr_uint8(reconstructions)
            ssim, _ = ssim_maps(images, reconstructions)
            l1 = (reconstructions.float() - images.float()).abs().flatten(1).mean(dim=1) * 255
            targets = render_targets(batch["landmarks"].float(), size) if truth else None
            for row, index in enumerate(batch["index"].tolist()):
                coloured = collapsed(heatmaps[row])
                overlay = cv2.addWeighted(np.ascontiguousarray(inputs[row]), 0.5, coloured, 0.5, 0)
                on_recon, on_input = recons[row].copy(), inputs[row].copy()  # drawn on: never the originals
                draw_points(on_recon, in_crop[row], PREDICTION_BGR, radius)
                draw_points(on_input, in_crop[row], PREDICTION_BGR, radius)
                pictures = {"tiles": np.concatenate([inputs[row], recons[row], overlay, on_recon, on_input], axis=1),
                            "heatmaps": coloured,
                            "reconstruction": label(recons[row], f"SSIM {float(ssim[row].mean()):.2f} "
                                                                 f"L1 {float(l1[row]):.1f}")}
                if targets is not None:
                    pictures["truth_heatmaps"] = collapsed(targets[row])
                out[index] = pictures
        return out

    def _landmark_grid(self, samples, path: Path, channels_last: bool) -> None:
        """A contact sheet of predictions during training, in the training's memory format (switching it
        mid-training would change how later steps round, and a resumed training would no longer match)."""
        if not samples:
            return
        from fabrec_bench.synth.sheet import contact_sheet

        contact_sheet(samples, self.scheme.groups, path, columns=min(8, len(samples)), tile=128,
                      predictions=self._predict(samples, channels_last))

    def save(self, path: Path) -> None:
        save_checkpoint(path, self.net, {"stage": "landmarks", "scheme": self.scheme.name,
                                         "num_points": self.scheme.num_points, "input_size": self.net.input_size,
                                         "config": as_dict(self.options), "history": self.history})

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> FabrecModel:
        from fabrec_bench.plugins import scheme_by_name

        state, meta = read_checkpoint(Path(path))
        if meta.get("stage") != "landmarks":
            raise UserError(f"{path}: an autoencoder without landmark head; train one with "
                            "`fabrec-bench run --model 3fabrec --config autoencoder=...`")
        if "scheme" in meta:
            scheme = scheme_by_name(meta["scheme"])
        else:  # a released snapshot knows only its number of points
            from fabrec_bench.schemes import scheme_for_points

            scheme = scheme_for_points(meta["num_points"])
        saved = dict(meta.get("config", {}))
        if meta.get("source") != "3fabrec-release" and "crop_rule" not in saved:
            saved["crop_rule"] = "affine"  # written before fabrec-bench made the original's crops: keep its own
        options = replace(saved_options(FabrecOptions, saved), input_size=int(meta.get("input_size", 256)))
        model = cls(scheme, options, context)
        model.history = meta.get("history", {})
        model.net = Fabrec.for_weights(state, scheme.num_points, model.net.input_size)
        load_weights(model.net, state, Path(path), head=True)
        model.trained = True
        return model

    def _trained_flip_rule(self) -> str:
        """The flip rule the landmark head was trained with: recorded in its history since fabrec-bench follows
        the original; `pixel` for a head trained here before; a released snapshot was trained by the original."""
        if "flip_rule" in self.history:
            return self.history["flip_rule"]
        return "pixel" if self.history else self.options.flip_rule

    def describe(self) -> dict:
        variant = "scratch" if self.options.init == "scratch" else "pretrained AE"
        if self.options.train_encoder and self.options.init != "scratch":
            variant += " + encoder"
        if self.options.decoding != "argmax":
            variant += f", {self.options.decoding} decoding"
        if self.options.tag:
            variant += f", {self.options.tag}"
        return {"variant": variant, "train_faces": self.history.get("train_faces"),
                "decoding": self.options.decoding, "input_size": self.net.input_size, "init": self.options.init,
                "precision": choose(self.device_name, self._inference_precision())[0],
                "train_precision": self.history.get("precision"), "device": self.device_name,
                "crop_rule": self.options.crop_rule, "frame_origin": self.options.frame_origin,
                "flip_rule": self._trained_flip_rule(),
                "autoencoder": self.options.autoencoder, "train_encoder": self.options.train_encoder}
