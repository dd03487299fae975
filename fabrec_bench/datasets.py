"""The dataset-adapter contract and dataset-root resolution."""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass
from pathlib import Path

from fabrec_bench.config import config_files, read_config
from fabrec_bench.errors import AnnotationError, DatasetError, UserError, refuse_unknown
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import LandmarkScheme
from fabrec_bench.types import Split
from fabrec_bench.warnings import warn


@dataclass(frozen=True)
class SplitInfo:
    """A named split: what it holds, its size in the official release, and whether it is for training."""

    name: str
    description: str
    official_size: int | None = None
    role: str = "test"  # "train" or "test"
    parent: str | None = None  # the split this one is a subset of (WFLW's attribute subsets: test)


class DatasetAdapter:
    """Reads one dataset in its official release layout.

    Subclasses set the class attributes and implement `load_split`. An adapter is one file you can read top
    to bottom; see `fabrec_bench_plugins.datasets.wflw` for the reference example.
    """

    name: str = ""
    description: str = ""
    scheme: LandmarkScheme
    splits: tuple[SplitInfo, ...] = ()
    protocol: EvalProtocol = EvalProtocol()
    # Files or folders that must exist below the root; checked before anything is read.
    required_paths: tuple[str, ...] = ()
    layout_hint: str = ""
    # Adapter options with their defaults (set in fabrec-bench.toml [datasets.NAME] or --dataset-option).
    option_defaults: dict = {}
    # Former option names still accepted (old name -> new name); a run records the new name.
    option_aliases: dict = {}
    # Crop-box extension before squaring, as fractions of the box height: (raise top by, lower bottom by).
    # These are 3FabRec's per-dataset adjustments (../shared/docs/3fabrec.md, section 4.1).
    crop_box_extension: tuple[float, float] = (0.0, 0.0)
    # Whether the faces carry landmarks to score against (VGGFace2 is for unsupervised training).
    labeled: bool = True
    # The coordinate of the top-left pixel's centre in the files as written (300-W's .pts: 1). The original
    # 3FabRec used every file's numbers as written, so its crops and scores live in this frame.
    file_origin: float = 0.0

    @property
    def coordinate_origin(self) -> float:
        """The coordinate of the top-left pixel's centre in the samples this adapter returns (0: 0-based)."""
        return 0.0

    @property
    def options(self) -> dict:
        return {**self.option_defaults, **getattr(self, "_options", {})}

    def with_options(self, **options) -> DatasetAdapter:
        """A copy of this adapter with some options changed; unknown names or wrong types are user errors.
        A former name (`option_aliases`) is read as the new one, with a warning."""
        options = self.canonical_options(options, warn_renamed=True)
        refuse_unknown(options, self.option_defaults, f"dataset '{self.name}'")
        for key, value in options.items():
            default = self.option_defaults[key]
            if default is not None and not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int)
            ):
                raise UserError(
                    f"dataset '{self.name}': option {key} = {value!r} should be a {type(default).__name__}"
                )
        clone = copy.copy(self)
        clone._options = {**getattr(self, "_options", {}), **options}
        return clone

    def canonical_options(self, options: dict, warn_renamed: bool = False) -> dict:
        """Options with former names replaced by current ones (stored runs keep the names they were made with)."""
        out = {}
        for key, value in options.items():
            new = self.option_aliases.get(key, key)
            if new != key and warn_renamed:
                warn(f"dataset '{self.name}': option {key} is now called {new}")
            out[new] = value
        return out

    def load_split(self, root: Path, split: str, *, skip_bad: bool = False) -> Split:
        """Read split `split` below `root`; malformed lines raise `AnnotationError` unless `skip_bad`."""
        raise NotImplementedError

    # -- helpers shared by every adapter -------------------------------------------------------------------

    def split_info(self, split: str) -> SplitInfo:
        """The `SplitInfo` called `split`, or a user error listing the valid names."""
        for info in self.splits:
            if info.name == split:
                return info
        names = ", ".join(s.name for s in self.splits)
        raise UserError(f"dataset '{self.name}' has no split '{split}'; its splits are: {names}")

    @property
    def train_split(self) -> str | None:
        """The split models train on by default (the first split with role 'train')."""
        return next((s.name for s in self.splits if s.role == "train"), None)

    def check_root(self, root: Path, origin: str) -> None:
        """Raise a one-line error if `root` or a required file below it is missing."""
        if not root.is_dir():
            raise DatasetError(
                f"dataset '{self.name}': root {root} (from {origin}) is not a directory; "
                f"{how_to_set_root(self.name)}"
            )
        for rel in self.required_paths:
            if not (root / rel).exists():
                raise DatasetError(
                    f"dataset '{self.name}': {root / rel} not found below root {root} (from {origin}); "
                    f"expected the official layout{': ' + self.layout_hint if self.layout_hint else ''}"
                )

    def describe(self) -> dict:
        """A JSON-friendly summary (name, scheme, splits, protocol)."""
        return {
            "name": self.name,
            "description": self.description,
            "landmarks": self.scheme.num_points,
            "scheme": self.scheme.name,
            "splits": [
                {"name": s.name, "role": s.role, "official_size": s.official_size, "description": s.description,
                 "parent": s.parent}
                for s in self.splits
            ],
            "protocol": self.protocol.to_dict(),
            "root_env_var": root_env_var(self.name),
            "labeled": self.labeled,
            "options": self.options,
            "coordinate_origin": self.coordinate_origin,
            "file_origin": self.file_origin,
        }


def path_inside(base: Path, relative: str) -> Path | None:
    """`base / relative` resolved, or None if `relative` is absolute or leads outside `base` (e.g. '../x').

    Annotation files name images by relative path; this keeps a malformed or hostile file from reaching
    anything outside the dataset's image folder.
    """
    relative = relative.replace("\\", "/")
    base = Path(base).resolve()
    target = (base / relative).resolve()
    if os.path.isabs(relative) or not target.is_relative_to(base):
        return None
    return target


def printable_path(path) -> str:
    """A path as text even when its name is not valid UTF-8 (undecodable bytes shown as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_utf8_name(path: Path) -> None:
    """Refuse a file whose name is not valid UTF-8: face ids, the results store and CSV files are text."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise AnnotationError(printable_path(path), None, "file name is not valid UTF-8; rename it") from None


def read_text_lines(path: Path) -> list[str]:
    """A UTF-8 annotation file as lines; bytes that are not UTF-8 are reported with their line number."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise AnnotationError(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} at column {column}); "
                                          "save the file as UTF-8") from None


def is_number(text: str) -> bool:
    """Whether `float(text)` succeeds (to name the offending token in parse errors)."""
    try:
        float(text)
        return True
    except ValueError:
        return False


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
