"""fabrec-bench.toml: per-user and per-directory settings (dataset roots, work directory)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fabrec_bench.errors import UserError, refuse_unknown

CONFIG_NAME = "fabrec-bench.toml"
KNOWN_SECTIONS = {"datasets", "work_dir"}


def user_config_dir() -> Path:
    """The per-user config folder ($XDG_CONFIG_HOME/fabrec-bench or ~/.config/fabrec-bench)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fabrec-bench"


def config_files(existing_only: bool = True) -> list[Path]:
    """Config files in lookup order: the working directory first, then the user config folder."""
    paths = [Path.cwd() / CONFIG_NAME, user_config_dir() / CONFIG_NAME]
    return [p for p in paths if p.is_file()] if existing_only else paths


def read_config(path: Path) -> dict:
    """Parse one config file; a syntax error or unknown top-level key names the file."""
    try:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    refuse_unknown(cfg, KNOWN_SECTIONS, str(path), "key")
    datasets = cfg.get("datasets", {})
    if not isinstance(datasets, dict) or any(not isinstance(v, dict) for v in datasets.values()):
        raise UserError(f"{path}: [datasets] must hold tables such as [datasets.wflw] with root = \"...\"")
    return cfg


def resolve_work_dir(work_dir: str | os.PathLike | None = None) -> Path:
    """Where results, predictions and checkpoints go: --work-dir, FABREC_BENCH_WORK_DIR, config, ./fabrec-results."""
    if work_dir:
        return Path(work_dir).expanduser()
    if os.environ.get("FABREC_BENCH_WORK_DIR"):
        return Path(os.environ["FABREC_BENCH_WORK_DIR"]).expanduser()
    for path in config_files():
        cfg = read_config(path)
        if "work_dir" in cfg:
            wd = Path(str(cfg["work_dir"])).expanduser()
            return wd if wd.is_absolute() else path.parent / wd
    return Path.cwd() / "fabrec-results"
