"""Resumable stage 2: the training state saved at epoch ends and restored by a training with the same
config, faces and seed, so a killed cell continues exactly where it was."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import torch

from fabrec_bench.checkpoints import atomic_write


class Stage2State:
    """Stage-2 training state in the run's resume folder (weights, optimiser states, iteration, loss curve), saved at
    epoch ends (atomically, at most every `resume_every_seconds`) and removed when training completes. It
    is used only by a training with the same config, faces and seed (a fingerprint is stored with it)."""

    FORMAT = "fabrec-bench/3fabrec-stage2-state/1"

    def __init__(self, folder: Path, cfg: dict, samples, seed: int, world):
        self.path = Path(folder) / "stage2_state.pt"
        self.every = float(cfg["resume_every_seconds"])
        self.world = world
        ident = {k: v for k, v in cfg.items() if k not in ("resume_every_seconds", "workers")}
        ident.update(seed=seed, faces=[s.id for s in samples], processes=world.size)
        self.fingerprint = hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()
        self.last_save = time.monotonic()

    def restore(self, net, trainer, curve) -> int:
        """Load a matching saved state into the network and trainer; returns the epoch to start from."""
        if not self.path.is_file():
            return 0
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception:  # unreadable (should not happen: writes are atomic): start over
            return 0
        if state.get("format") != self.FORMAT or state.get("fingerprint") != self.fingerprint:
            return 0
        net.load_state_dict(state["model"])
        for name, opt in trainer.optimizers().items():
            opt.load_state_dict(state["optim"][name])
        trainer.iteration = int(state["iteration"])
        curve.rows = list(state["curve"])
        return int(state["epoch"])

    def save(self, net, trainer, curve, epoch: int) -> None:
        if not self.world.is_main or time.monotonic() - self.last_save < self.every:
            return
        state = {"format": self.FORMAT, "fingerprint": self.fingerprint, "epoch": epoch,
                 "iteration": trainer.iteration, "curve": curve.rows,
                 "model": {k: v.detach().cpu() for k, v in net.state_dict().items()},
                 "optim": {name: opt.state_dict() for name, opt in trainer.optimizers().items()}}
        atomic_write(self.path, lambda f: torch.save(state, f))
        self.last_save = time.monotonic()

    def finished(self) -> None:
        if self.world.is_main:
            self.path.unlink(missing_ok=True)
