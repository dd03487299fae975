"""How a run learns that torchrun launched it, without importing torch unless it did."""

from __future__ import annotations

import os


def launched_by_torchrun() -> bool:
    """Whether this process is one of several torchrun started (WORLD_SIZE > 1)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join_torchrun(device: str):
    """Join torchrun's process group: (fabrec_bench.torch_helpers.distributed.World, this process's device)."""
    from fabrec_bench.torch_helpers.distributed import setup

    return setup(device)
