"""The training loop of every torch model (both 3FabRec stages use it), with one way to report progress and
one way to resume.

`EpochLoop.run` goes over epochs whose randomness (order, augmentation, latent prior, dropout) depends only on
(seed, epoch), so a training resumed at an epoch boundary continues exactly as the uninterrupted one would;
it stops at an iteration cap or a time budget (checked before every batch, or at epoch ends where snapshots
must be whole epochs), records the losses in a `Curve` and reports every step to the run context's progress
callback as a `TrainingProgress`.

`TrainingState` is what a training keeps to continue after an interruption: optimiser states, epoch,
iteration, loss curve and a fingerprint of what must not change between the two runs, written atomically;
the weights go in the same file or, for stage 1, in the checkpoint it writes anyway (`latest.pt`).
"""

from __future__ import annotations

import csv
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.checkpoints import atomic_write
from fabrec_bench.models import TrainingProgress
from fabrec_bench.torch_helpers.distributed import World, agree


@dataclass
class Curve:
    """Loss values per iteration, written as CSV and a PNG plot."""

    rows: list[dict] = field(default_factory=list)

    def add(self, **values) -> None:
        self.rows.append(values)

    def write(self, folder: Path, name: str) -> tuple[Path, Path]:
        folder.mkdir(parents=True, exist_ok=True)
        csv_path, png_path = folder / f"{name}.csv", folder / f"{name}.png"
        keys = list(dict.fromkeys(k for r in self.rows for k in r))
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, keys)
            writer.writeheader()
            writer.writerows(self.rows)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        for key in keys:
            if key in ("iteration", "epoch"):
                continue
            values = [r.get(key, np.nan) for r in self.rows]
            ax.plot([r["iteration"] for r in self.rows], values, label=key, linewidth=1)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_title(name)
        fig.tight_layout()
        fig.savefig(png_path, dpi=100)
        plt.close(fig)
        return csv_path, png_path


class Throughput:
    """Images per second over a sliding run of steps."""

    def __init__(self):
        self.start = time.perf_counter()
        self.images = 0

    def add(self, n: int) -> float:
        self.images += n
        return self.images / max(time.perf_counter() - self.start, 1e-9)


@dataclass
class LoopResult:
    epochs_done: int  # the epoch count reached (epochs completed, counting those before a resume)
    stopped_by_time_budget: bool
    images_per_second: float


@dataclass
class EpochLoop:
    """Epochs over `loader`; `step(batch)` trains on one batch and returns its losses."""

    stage: str
    trainer: object  # has `.iteration`; `.start_epoch()` too if it keeps a per-epoch schedule
    loader: object
    crops: object  # has `set_epoch(epoch)`
    seed: int
    epochs: int
    world: World = field(default_factory=World)
    iterations: int = 0  # stop after this many iterations (0: no cap)
    max_seconds: float = 0.0  # time budget (0: none)
    budget_at_epoch_end: bool = False  # stage 1: only whole epochs, so the budget is checked after each
    progress: Callable[[TrainingProgress], None] | None = None
    curve: Curve = field(default_factory=Curve)

    def total_iterations(self) -> int:
        return self.iterations or self.epochs * len(self.loader)

    def run(self, step: Callable[[dict], dict], start_epoch: int = 0,
            end_of_epoch: Callable[[int, bool], None] | None = None) -> LoopResult:
        """Train from `start_epoch`; `end_of_epoch(epochs_done, stopping)` runs after every epoch (snapshots,
        grids, resume state), `stopping` true when no epoch follows."""
        started, speed = time.perf_counter(), Throughput()
        out_of_time, done = False, start_epoch
        start_schedule = getattr(self.trainer, "start_epoch", None)
        for epoch in range(start_epoch, self.epochs):
            self.crops.set_epoch(epoch)
            if start_schedule:
                start_schedule()  # epochs always start (and resume) at their first batch
            self.loader.generator.manual_seed(self.seed * 100_003 + epoch)
            torch.manual_seed(self.seed * 100_019 + epoch)
            for batch in self.loader:
                if self.iterations and self.trainer.iteration >= self.iterations:
                    break
                if (self.max_seconds > 0 and not self.budget_at_epoch_end
                        and agree(time.perf_counter() - started > self.max_seconds, self.world)):
                    out_of_time = True
                    break
                losses = step(batch)
                rate = speed.add(len(batch["index"]))
                self.curve.add(iteration=self.trainer.iteration, epoch=epoch, **losses)
                if self.progress:
                    self.progress(TrainingProgress(self.stage, epoch + 1, self.epochs, self.trainer.iteration,
                                                   self.total_iterations(), losses, rate))
            done = epoch + 1
            if self.max_seconds > 0 and self.budget_at_epoch_end:
                out_of_time = agree(time.perf_counter() - started > self.max_seconds, self.world)
            stopping = out_of_time or done == self.epochs
            if end_of_epoch:
                end_of_epoch(done, stopping)
            if out_of_time:
                break
        return LoopResult(done, out_of_time, round(speed.add(0), 1))


class RecipeTrainer:
    """The trainer of a model trained by its own code's recipe, for `EpochLoop`: one optimiser, a learning rate
    per epoch set when the epoch starts (the recipe's schedule), and `loss(outputs, targets) -> (total, parts)`;
    fp32, as the originals train; gradients are averaged across torchrun processes before each step. A model
    brings its network, optimiser, schedule and loss; the loop brings everything else."""

    def __init__(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer, learning_rate: Callable[[int], float],
                 loss: Callable, world: World | None = None):
        self.net, self.optimizer, self.learning_rate, self.loss = net, optimizer, learning_rate, loss
        self.world = world or World()
        self.iteration = 0
        self.epoch = 0  # the epoch the next start_epoch() begins (set to the resumed epoch on a resume)

    def optimizers(self) -> dict:
        return {"optimizer": self.optimizer}

    def start_epoch(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.learning_rate(self.epoch)
        self.epoch += 1

    def step(self, inputs: torch.Tensor, targets) -> dict[str, float]:
        from fabrec_bench.torch_helpers.distributed import average_gradients

        self.net.train()
        total, parts = self.loss(self.net(inputs), targets)
        self.optimizer.zero_grad()
        total.backward()
        average_gradients(self.net.parameters(), self.world)
        self.optimizer.step()
        self.iteration += 1
        return {"loss": total.item(), **{name: value.item() for name, value in parts.items()}}


def multistep_rate(epoch: int, init_lr: float, milestones, gamma: float) -> float:
    """MultiStepLR's rate in `epoch` (0-based): init_lr * gamma ** (milestones passed), as PyTorch 1.0's
    MultiStepLR stepped before each epoch and today's stepped after it both give (PIPNet's and HRNet-Facial's
    schedules)."""
    import bisect

    return init_lr * gamma ** bisect.bisect_right(sorted(milestones), epoch)


def face_seed(seed: int, epoch: int, index: int) -> int:
    """The seed of one face's augmentation draws in one epoch: a training resumed at an epoch boundary draws
    what the uninterrupted one draws, whatever the order or the workers that load the faces."""
    return (seed * 1_000_003 + epoch) * 1_000_033 + index


def training_world(context, device: str, items: list) -> tuple[World, str, list]:
    """The processes a training shares its work with (the run's torchrun group, or joined here), this process's
    device, and its share of `items` (one line when there are fewer items than processes)."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.torch_helpers.distributed import setup, shard

    world = context.process_group
    if world is None:
        world, device = setup(device)
    mine = shard(list(items), world)
    if not mine:
        raise UserError(f"{len(items)} training face(s) cannot be shared by {world.size} processes")
    return world, device, mine


def train_by_recipe(name: str, net: torch.nn.Module, faces, *, optimizer, learning_rate: Callable[[int], float],
                    loss: Callable, options, context, world: World, device: str, face_ids: list[str],
                    identity: dict, drop_last: bool) -> dict:
    """Train `net` on `faces` (a Dataset with `set_epoch` whose items are {"index", "input", "targets"}) in the
    one loop: the model's optimiser, schedule and loss in a `RecipeTrainer`; the budgets of `options`
    (`RecipeTraining`: epochs, iterations, max_seconds, train_batch_size, resume_every_seconds); resume at epoch
    ends in the run's resume folder (the options that change results, `identity` and the faces name what must
    match); progress to the context. Returns the training's facts and writes its loss curve into the run's
    folder."""
    from fabrec_bench.options import describe_options
    from fabrec_bench.torch_helpers.distributed import broadcast_state, max_replica_difference

    batch = min(options.train_batch_size, len(faces))  # fewer faces than a batch: one batch of all of them
    loader = torch.utils.data.DataLoader(faces, batch_size=batch, shuffle=True, drop_last=drop_last,
                                         generator=torch.Generator())
    net.to(device)
    broadcast_state(net, world)
    trainer = RecipeTrainer(net, optimizer, learning_rate, loss, world)
    epochs = min(options.epochs, -(-options.iterations // len(loader))) if options.iterations else options.epochs
    loop = EpochLoop(name, trainer, loader, faces, context.seed, epochs, world=world, iterations=options.iterations,
                     max_seconds=options.max_seconds, progress=context.progress)
    resume = None
    if context.resume_dir:
        kept = {o.name: getattr(options, o.name) for o in describe_options(type(options)) if o.changes_results}
        ident = dict(identity, options=kept, seed=context.seed, faces=face_ids, processes=world.size)
        resume = TrainingState(Path(context.resume_dir) / f"{name}_state.pt", fingerprint(**ident), world=world,
                               every_seconds=options.resume_every_seconds)
    start_epoch = resume.restore(net, trainer, loop.curve, device=device) if resume else 0
    trainer.epoch = start_epoch

    def step(items: dict) -> dict:
        targets = items["targets"]
        targets = tuple(t.to(device) for t in targets) if isinstance(targets, (tuple, list)) else targets.to(device)
        return trainer.step(items["input"].to(device), targets)

    def end_of_epoch(done: int, stopping: bool) -> None:
        if resume and not stopping:
            resume.save(net, trainer, loop.curve, done)

    result = loop.run(step, start_epoch, end_of_epoch)
    if resume:
        resume.finished()
    broadcast_state(net, world)
    net.eval()
    csv_path, png_path = loop.curve.write(Path(context.run_dir or "."), f"{name}_loss")
    return {"iterations": trainer.iteration, "epochs_planned": epochs, "epochs_run": result.epochs_done,
            "batch_size": batch, "last_partial_batch": "dropped" if drop_last else "kept",
            "stopped_by_time_budget": result.stopped_by_time_budget, "resumed_from_epoch": start_epoch,
            "images_per_second": result.images_per_second, "processes": world.size, "precision": "fp32",
            "replica_max_difference": max_replica_difference(net, world),
            "final_loss": loop.curve.rows[-1]["loss"] if loop.curve.rows else None, "loss_csv": str(csv_path),
            "loss_png": str(png_path)}


class TrainingState:
    """The state a training keeps in `path` to continue after an interruption.

    `fingerprint` names what must match for a saved state to be used (a different config, faces or seed starts
    over). With `weights=None` the network's weights are in the state file; otherwise `weights` is a pair
    (write(epoch), read() -> (state_dict, epoch)) for a checkpoint the training writes anyway, written after
    the state so that it never runs ahead of it. Saves happen at most every `every_seconds` (0: every epoch
    end asked for); only the main process writes.
    """

    FORMAT = "fabrec-bench/3fabrec-training-state/1"  # its first user's name, kept: saved states stay readable

    def __init__(self, path: Path, fingerprint: str, *, world: World | None = None, every_seconds: float = 0.0,
                 weights: tuple[Callable[[int], None], Callable[[], tuple[dict, int] | None]] | None = None,
                 legacy_fingerprint: str | None = None):
        self.path = Path(path)
        self.fingerprint = fingerprint
        # The identity the same training had under an earlier version: such a state is continued too.
        self.legacy_fingerprint = legacy_fingerprint
        self.restored_legacy = False
        self.world = world or World()
        self.every = float(every_seconds)
        self.weights = weights
        self.last_save = time.monotonic()

    def restore(self, net, trainer, curve: Curve | None = None, device: str = "cpu") -> int:
        """Load a matching saved state into the network and trainer; returns the epoch to start from (0 when
        nothing usable is saved)."""
        external = self.weights[1]() if self.weights else None
        if self.weights and external is None:
            return 0
        state = self._read(device)
        if state is None:
            if external is not None:  # weights without a readable state: continue them, optimisers fresh
                warnings.warn(f"{self.path}: no usable optimiser state; continuing the weights of epoch "
                              f"{external[1]} with fresh optimisers", stacklevel=2)
                net.load_state_dict(external[0], strict=False)
                return external[1]
            return 0
        if external is not None:
            weights, epoch = external
            if epoch != state["epoch"]:  # interrupted between the two writes: the weights are what counts
                warnings.warn(f"{self.path}: optimiser state of epoch {state['epoch']}, weights of epoch {epoch}; "
                              "continuing the weights with fresh optimisers", stacklevel=2)
                net.load_state_dict(weights, strict=False)
                return epoch
            net.load_state_dict(weights, strict=False)
        else:
            net.load_state_dict(state["model"])
        for name, opt in trainer.optimizers().items():
            opt.load_state_dict(state["optim"][name])
        trainer.iteration = int(state["iteration"])
        if curve is not None:
            curve.rows = list(state.get("curve", []))
        return int(state["epoch"])

    def _read(self, device: str) -> dict | None:
        if not self.path.is_file():
            return None
        try:
            state = torch.load(self.path, map_location=device, weights_only=True)
        except Exception:  # unreadable (writes are atomic, so only a foreign file): not ours to continue
            return None
        if state.get("format") != self.FORMAT:
            return None
        if state.get("fingerprint") != self.fingerprint:
            if self.legacy_fingerprint is None or state.get("fingerprint") != self.legacy_fingerprint:
                return None
            warnings.warn(f"{self.path}: resume state written by an earlier fabrec-bench; its {state['epoch']} "
                          "epoch(s) are continued under the current training rules", stacklevel=3)
            self.restored_legacy = True
        return state

    def save(self, net, trainer, curve: Curve | None, epoch: int, *, force: bool = False) -> None:
        """Save the state after `epoch` epochs (throttled by `every_seconds` unless `force`)."""
        if not self.world.is_main or (not force and time.monotonic() - self.last_save < self.every):
            return
        state = {"format": self.FORMAT, "fingerprint": self.fingerprint, "epoch": epoch,
                 "iteration": trainer.iteration, "curve": curve.rows if curve is not None else [],
                 "optim": {name: opt.state_dict() for name, opt in trainer.optimizers().items()}}
        if self.weights is None:
            state["model"] = {k: v.detach().cpu() for k, v in net.state_dict().items()}
        atomic_write(self.path, lambda f: torch.save(state, f))
        if self.weights is not None:
            self.weights[0](epoch)
        self.last_save = time.monotonic()

    def finished(self) -> None:
        """Training completed: a state kept only for resuming is no longer needed."""
        if self.world.is_main:
            self.path.unlink(missing_ok=True)


def fingerprint(**identity) -> str:
    """A stable digest of what identifies a training (config, faces, seed, processes)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
