"""Data-parallel training under `torchrun`: process group set-up, gradient averaging, rank-0-only writes.

Launch any training command with `torchrun --nproc_per_node N -m fabrec_bench_runners ...`: each process
takes every N-th face, computes gradients on its share, and the gradients are averaged across processes
(all-reduce) before every optimiser step, so all replicas take identical steps — DistributedDataParallel's
arithmetic. (The wrapper itself is not used: 3FabRec's stage 1 runs the discriminators several times per
backward pass, which DistributedDataParallel does not allow.) NCCL on CUDA, gloo on CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def setup(device: str) -> tuple[World, str]:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1); returns the world and this
    process's device (cuda:LOCAL_RANK on GPUs)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World(), device
    cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    if cuda:
        torch.cuda.set_device(local)
        device = f"cuda:{local}"
    elif device == "auto":
        device = "cpu"
    return World(dist.get_rank(), dist.get_world_size(), local), device


def shard(items: list, world: World) -> list:
    """This process's share: every world.size-th item starting at its rank, all shares of equal length (so
    every process runs the same number of iterations; up to size - 1 items are left out)."""
    if not world.distributed:
        return items
    return items[world.rank::world.size][: len(items) // world.size]


def agree(flag: bool, world: World) -> bool:
    """True on every process if it is true on any (e.g. a time budget ran out)."""
    if not world.distributed:
        return flag
    value = torch.tensor(float(flag))
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def average_gradients(parameters, world: World) -> None:
    """All-reduce and average the gradients of `parameters` across processes (no-op on one process)."""
    if not world.distributed:
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1).float() for g in grads])
    dist.all_reduce(flat)
    flat /= world.size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset:offset + n].view_as(g))
        offset += n


def broadcast_state(module: torch.nn.Module, world: World) -> None:
    """Copy rank 0's parameters and buffers (e.g. BatchNorm statistics) to every process."""
    if world.distributed:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, 0)


def max_replica_difference(module: torch.nn.Module, world: World) -> float:
    """The largest difference between any process's parameters and rank 0's (0 when in sync)."""
    if not world.distributed:
        return 0.0
    worst = torch.zeros(())
    for p in module.parameters():
        reference = p.detach().clone()
        dist.broadcast(reference, 0)
        worst = torch.maximum(worst, (p.detach() - reference).abs().max().cpu().float())
    worst = worst.to(next(module.parameters()).device)
    dist.all_reduce(worst, op=dist.ReduceOp.MAX)
    return float(worst)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
