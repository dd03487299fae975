"""Where a number came from: fabrec-bench's version (and git commit), the versions of the libraries that can
change a number, and the devices a run saw. Recorded with every stored run (fabrec_bench.store.Provenance)."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


@lru_cache(maxsize=1)
def code_version() -> str:
    """fabrec-bench's version, plus the git commit (and '-dirty') when running from a checkout."""
    try:
        version = metadata.version("fabrec-bench")
    except metadata.PackageNotFoundError:
        version = "unknown"
    src = Path(__file__).resolve().parent.parent
    if (src / ".git").exists():
        try:
            commit = subprocess.run(
                ["git", "-C", str(src), "describe", "--always", "--dirty"],
                capture_output=True, text=True, timeout=5, check=True,
            ).stdout.strip()
            return f"{version}+{commit}"
        except (OSError, subprocess.SubprocessError):
            pass
    return version


def library_versions() -> dict[str, str]:
    """Versions of the libraries that can change a number (read from metadata; nothing is imported)."""
    out = {}
    for dist in ("torch", "numpy", "opencv-python-headless", "opencv-python", "scipy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def devices(device: str) -> dict:
    """The device a run asked for and, when the environment restricts them (an executor's share, a scheduler),
    the GPUs it could see; nothing imports torch here."""
    out = {"device": device}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
        out["visible_gpus"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return out
