"""Where a dataset lives and which options it gets: --data-root, FABREC_BENCH_<NAME>_ROOT, fabrec-bench.toml."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fabrec_bench.config import config_files, read_config
from fabrec_bench.errors import DatasetError


def root_env_var(dataset: str) -> str:
    """The environment variable that holds a dataset's root, e.g. FABREC_BENCH_WFLW_ROOT."""
    return "FABREC_BENCH_" + re.sub(r"[^A-Za-z0-9]", "_", dataset).upper() + "_ROOT"


def how_to_set_root(dataset: str) -> str:
    return (
        f"pass --data-root, set {root_env_var(dataset)}, or add [datasets.{dataset}] root = \"...\" "
        f"to fabrec-bench.toml"
    )


def resolve_options(dataset: str, cli_options: dict | None = None) -> dict:
    """Adapter options from fabrec-bench.toml ([datasets.NAME], every key but root), then the command line."""
    options: dict = {}
    for path in reversed(config_files()):  # the working directory's file wins over the user's
        entry = read_config(path).get("datasets", {}).get(dataset, {})
        options.update({k: v for k, v in entry.items() if k != "root"})
    options.update(cli_options or {})
    return options


def resolve_root(dataset: str, data_root: str | os.PathLike | None = None) -> tuple[Path, str]:
    """Find a dataset's root: --data-root, then the environment variable, then fabrec-bench.toml files.

    Returns the path and a phrase saying where it came from (for error messages).
    """
    if data_root:
        return Path(data_root).expanduser(), "--data-root"
    env = root_env_var(dataset)
    if os.environ.get(env):
        return Path(os.environ[env]).expanduser(), env
    for path in config_files():
        cfg = read_config(path)
        entry = cfg.get("datasets", {}).get(dataset, {})
        if "root" in entry:
            root = Path(str(entry["root"])).expanduser()
            if not root.is_absolute():
                root = path.parent / root
            return root, str(path)
    tried = ", ".join(str(p) for p in config_files(existing_only=False))
    raise DatasetError(
        f"dataset '{dataset}': no root is set (tried --data-root, {env}, {tried}); {how_to_set_root(dataset)}"
    )
