"""Released weights as they are downloaded: a state dict, perhaps wrapped in a dict or prefixed by
nn.DataParallel, read without unpickling anything but tensors and plain data."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch

from fabrec_bench.errors import UserError

WRAPPERS = ("state_dict", "model", "net")  # {"state_dict": {...}, "meta": ..., "optimizer": ...} and the like
PREFIXES = ("module.",)  # nn.DataParallel's

# Training frameworks store a few NumPy scalars in a checkpoint's metadata (mmcv's best score, a seed); these
# rebuild numbers only, so they are allowed beside tensors.
_NUMPY_SCALARS = [np.dtype, type(np.dtype(np.float64)), type(np.dtype(np.int64)), type(np.dtype(np.float32))]
try:
    from numpy._core.multiarray import scalar as _scalar
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import scalar as _scalar
_NUMPY_SCALARS.append(_scalar)


def read_state_dict(path: str | Path, wrappers: tuple[str, ...] = WRAPPERS) -> dict[str, torch.Tensor]:
    """The tensors of a released checkpoint: a plain state dict, one wrapped under the first of `wrappers`
    present (state_dict/model/net), or one whose every key carries DataParallel's `module.`; every other file
    gets one line saying why."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:  # objects beyond tensors and plain data: never unpickled
        raise UserError(f"{path}: refused: it holds Python objects besides weights (an unsafe pickle); "
                        "fabrec-bench loads checkpoints with weights_only=True") from None
    except Exception as e:  # truncated, not a torch file...
        first = (str(e).splitlines() or [""])[0].split(". ")[0]  # torch's messages run on for several sentences
        raise UserError(f"{path}: not a readable PyTorch checkpoint, truncated or not a torch file "
                        f"({type(e).__name__}: {first})") from None
    for key in wrappers:
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            payload = payload[key]
            break
    if not isinstance(payload, dict) or not payload or \
            not all(isinstance(v, torch.Tensor) for v in payload.values()):
        held = f" (it holds {few([str(k) for k in payload])})" if isinstance(payload, dict) and payload else ""
        raise UserError(f"{path}: not a state dict (a mapping of names to tensors), nor one wrapped under "
                        f"{', '.join(wrappers)}{held}")
    for prefix in PREFIXES:
        if all(k.startswith(prefix) for k in payload):
            payload = {k[len(prefix):]: v for k, v in payload.items()}
    return dict(payload)


def few(keys: list[str], shown: int = 4) -> str:
    """Up to `shown` names, then how many more."""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def check_covers(own: dict[str, torch.Tensor], given: dict[str, torch.Tensor], source, what: str) -> None:
    """Refuse, in one line naming `source`, weights `given` for the part `own` of a network (an ImageNet
    backbone) that miss one of its keys (BatchNorm step counters aside) or hold another shape."""
    missing = [k for k in own if k not in given and not k.endswith(BATCH_COUNTS)]
    wrong = [k for k in own if k in given and own[k].shape != given[k].shape]
    if missing:
        raise UserError(f"{source}: not the weights of {what} (missing {few(missing)})")
    if wrong:
        k = wrong[0]
        raise UserError(f"{source}: not the weights of {what} ({k} has shape {tuple(given[k].shape)}, "
                        f"{what}'s has {tuple(own[k].shape)})")


def file_sha256(path: str | Path) -> str:
    """The file's SHA-256, read in 1 MiB blocks (released checkpoints are up to a few hundred MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


BATCH_COUNTS = ".num_batches_tracked"  # BatchNorm's step counter, saved since PyTorch 0.4.1


def load_checked(net: torch.nn.Module, state: dict[str, torch.Tensor], source: str | Path, layout: str,
                 owner: str, hint: str = "", before_041: bool = False) -> torch.nn.Module:
    """`state` loaded into `net`, which is returned in eval mode; a key set or a shape that does not fit is
    one line: "<source>: not <layout>: missing ...; unexpected ..." or "<source>: <key> has shape ..., <owner>'s
    has ...<hint>".

    `before_041`: the model's releases may have been saved by PyTorch before 0.4.1, whose BatchNorm kept no
    `num_batches_tracked`; those keys alone may be missing, and are filled with 0 as `load_state_dict` fills a
    state dict of that age (BatchNorm in eval mode never reads them)."""
    expected = net.state_dict()
    if before_041:
        state = dict(state)
        for key in expected:
            if key.endswith(BATCH_COUNTS) and key not in state and key[: -len(BATCH_COUNTS)] + ".running_mean" in state:
                state[key] = torch.zeros_like(expected[key])
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"missing {few(missing)}" if missing else "", f"unexpected {few(unexpected)}" if unexpected else ""]
        raise UserError(f"{source}: not {layout}: " + "; ".join(p for p in parts if p))
    wrong = [k for k in expected if expected[k].shape != state[k].shape]
    if wrong:
        k = wrong[0]
        raise UserError(f"{source}: {k} has shape {tuple(state[k].shape)}, {owner}'s has "
                        f"{tuple(expected[k].shape)}{hint}")
    net.load_state_dict(state)
    return net.eval()
