"""The dataset-adapter contract: what an adapter declares (splits, scheme, protocol, options, crop rule and
frame) and the helpers every adapter shares. Root lookup lives in fabrec_bench.roots, safe reading of
annotation files in fabrec_bench.files."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from fabrec_bench.errors import DatasetError, UserError, refuse_unknown
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.roots import how_to_set_root, root_env_var
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
