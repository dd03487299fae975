"""Which torch device a run computes on."""

from __future__ import annotations

from fabrec_bench.errors import UserError


def resolve_device(device: str = "auto") -> str:
    """Turn 'auto', 'cpu', 'cuda' or 'cuda:N' into a concrete device string; a missing GPU is a user error."""
    if device == "cpu":
        return "cpu"
    if device != "auto" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    import torch  # imported here: models that never touch torch keep the CLI fast

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise UserError(f"device {device!r} was asked for, but torch sees no CUDA GPU; use --device cpu")
    if ":" in device:
        index = device.split(":", 1)[1]
        if not index.isdigit() or int(index) >= torch.cuda.device_count():
            raise UserError(f"device {device!r}: there are {torch.cuda.device_count()} CUDA device(s)")
    return device
