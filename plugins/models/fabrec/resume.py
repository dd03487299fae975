"""Where each 3FabRec stage keeps the state it resumes from (one mechanism: `loop.TrainingState`).

Stage 1 continues `latest.pt` (the autoencoder checkpoint it writes every epoch anyway) with the optimiser
states in `latest.optim.pt`; a later run may train longer or switch presets. Stage 2 keeps everything in the
run's resume folder (`stage2_state.pt`), used only by a training with the same config, faces and seed, and
removed once the training completes.
"""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.torch_helpers.distributed import World
from fabrec_bench.torch_helpers.loop import TrainingState, fingerprint
from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint, save_checkpoint


def stage1_state(out: Path, net, meta_of, world: World, input_size: int) -> TrainingState:
    """Stage 1's state: optimisers in `out/latest.optim.pt`, weights in `out/latest.pt` (written after them,
    with `meta_of(epoch)` as its metadata)."""
    latest = Path(out) / "latest.pt"

    def write(epoch: int) -> None:
        save_checkpoint(latest, net, meta_of(epoch))

    def read():
        if not latest.is_file():
            return None
        state, meta = read_checkpoint(latest)
        weights = {k: v for k, v in state.items() if not k.startswith("optim.") and k in net.state_dict()}
        return weights, int(meta["epoch"])

    return TrainingState(Path(out) / "latest.optim.pt", fingerprint(stage="autoencoder", input_size=input_size),
                         world=world, weights=(write, read))


def stage2_state(folder: Path, cfg: dict, samples, seed: int, world: World) -> TrainingState:
    """Stage 2's state in the run's resume folder, saved at most every `resume_every_seconds`.

    A state written before stage 2 followed the original's flip and last-batch rules has the same identity
    without `flip_rule`; it is still continued (`TrainingState.restored_legacy` says so)."""
    ident = {k: v for k, v in cfg.items() if k not in ("resume_every_seconds", "workers")}
    ident.update(seed=seed, faces=[s.id for s in samples], processes=world.size)
    legacy = fingerprint(**{k: v for k, v in ident.items() if k != "flip_rule"})
    return TrainingState(Path(folder) / "stage2_state.pt", fingerprint(**ident), world=world,
                         every_seconds=float(cfg["resume_every_seconds"]), legacy_fingerprint=legacy)
