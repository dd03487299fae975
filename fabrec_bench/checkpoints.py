"""Safe, atomic files: written to a temporary name beside the target and renamed, so a crash or kill never
leaves a half-written file; NumPy .npz checkpoints without pickles."""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from fabrec_bench.errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[IO], None], *, binary: bool = True, durable: bool = True) -> None:
    """Call `write(file)` on a temporary file beside `path`, then rename it over `path`.

    `durable` also fsyncs before the rename (for checkpoints; caches and exports can skip it).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w", **({} if binary else {"newline": "", "encoding": "utf-8"})) as f:
            write(f)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_npz(path: Path, **arrays) -> None:
    """Write arrays to `path` as .npz, atomically."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def read_npz(path: Path, required: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """Read an .npz without allowing pickled objects; missing arrays or a corrupt file name the path."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise UserError(f"{path}: not a readable .npz file without pickles ({e})") from None
    missing = [k for k in required if k not in arrays]
    if missing:
        raise UserError(f"{path}: missing array(s) {', '.join(missing)}")
    return arrays
