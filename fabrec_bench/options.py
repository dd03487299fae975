"""A model's options as one typed declaration (llm's model `Options`, with a dataclass).

A model declares its options once, as a frozen dataclass subclassing `Options` whose fields are made with
`option(default, help, ...)`. Everything else is derived from that declaration: `--config KEY=VALUE` parsing
(text is read by each field's type), the checks of a matrix spec's `config` tables, the defaults and help
`fabrec-bench models info` prints, and what a run records.

    @dataclass(frozen=True)
    class MyOptions(Options):
        width: int = option(64, "channels of the first layer", minimum=1)
        mode: str = option("fast", "how to decode", choices=("fast", "exact"))

Supported field types: bool, int, float, str, and unions of them (`bool | str` for a switch that also takes
"auto"). Importable without torch.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fabrec_bench.errors import UserError, refuse_unknown

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def option(default: Any, help: str, *, choices: tuple | None = None, minimum: float | None = None,
           changes_results: bool = True) -> Any:
    """A field of an `Options` dataclass: its default, one line of help, and optionally the values it may take
    or the smallest number it accepts. `changes_results=False` marks an option that only changes how a result
    is computed (worker processes, the inference batch size): runs that differ only there are one
    configuration in leaderboards."""
    return field(default=default, metadata={"help": help, "choices": choices, "minimum": minimum,
                                            "changes_results": changes_results})


@dataclass(frozen=True)
class Options:
    """The base of every model's options (a model without options uses it as it is)."""


@dataclass(frozen=True)
class RecipeTraining(Options):
    """The budget options of a model trained by its own code's recipe (PIPNet, HRNet: 60 epochs of batch 16),
    declared once for both."""

    epochs: int = option(60, "training epochs (the recipe: 60; its learning-rate steps stay at their epochs)",
                         minimum=1)
    iterations: int = option(0, "stop training after this many batches (0: the epochs)", minimum=0)
    max_seconds: float = option(0.0, "stop training at the first batch that starts past this many seconds "
                                     "(0: no budget)", minimum=0.0)
    train_batch_size: int = option(16, "training batch (the recipe: 16; fewer faces than one batch train as one "
                                       "batch)", minimum=1)
    resume_every_seconds: float = option(0.0, "write the resume state at most this often (0: every epoch)",
                                         minimum=0.0, changes_results=False)


@dataclass(frozen=True)
class OptionInfo:
    """One declared option, as `models info` shows it."""

    name: str
    type: str
    default: Any
    help: str
    choices: tuple | None = None
    minimum: float | None = None
    changes_results: bool = True

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _types(cls: type[Options]) -> dict[str, tuple[type, ...]]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
            out[f.name] = typing.get_args(hint)
        else:
            out[f.name] = (hint,)
    return out


def describe_options(cls: type[Options]) -> list[OptionInfo]:
    """Every option `cls` declares, in declaration order."""
    kinds = _types(cls)
    return [OptionInfo(f.name, " | ".join(t.__name__ for t in kinds[f.name]), f.default, f.metadata.get("help", ""),
                       f.metadata.get("choices"), f.metadata.get("minimum"), f.metadata.get("changes_results", True))
            for f in dataclasses.fields(cls)]


def configuration(cls: type[Options], given: Mapping[str, Any]) -> dict:
    """The options in `given` that set a configuration apart: those that change results and differ from
    their defaults (what leaderboards group runs by)."""
    infos = {info.name: info for info in describe_options(cls)}
    return {k: v for k, v in given.items()
            if k not in infos or (infos[k].changes_results and infos[k].default != v)}


def defaults(cls: type[Options]) -> dict:
    """Each option's default, by name."""
    return dataclasses.asdict(cls())


def _coerce(value: Any, kinds: tuple[type, ...]) -> Any:
    """`value` as one of `kinds`: text is read as that type (`--config` gives text); typed values (TOML, JSON)
    must already be one, except an int where a float is expected. Raises ValueError."""
    for kind in kinds:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
                return value.lower() in _TRUE
        elif kind is int:
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str):
                try:
                    return int(value)
                except ValueError:
                    pass
        elif kind is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if isinstance(value, str):
                try:
                    return float(value)
                except ValueError:
                    pass
        elif kind is str:
            if isinstance(value, str):
                return value
        elif kind is type(None):
            if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
                return None
    names = " or ".join(k.__name__ for k in kinds)
    raise ValueError(("an " if names[0] in "aeiou" else "a ") + names)


def make_options(cls: type[Options], given: Mapping[str, Any] | None = None, *, where: str = "") -> Options:
    """An instance of `cls` with `given` over its defaults, each value read as its field's type and checked;
    unknown names and bad values are user errors naming `where`, the option and the value."""
    given = dict(given or {})
    where = where or "options"
    kinds = _types(cls)
    refuse_unknown(given, kinds, where, "option")
    values = {}
    specs = {f.name: f for f in dataclasses.fields(cls)}
    for name, raw in given.items():
        try:
            value = _coerce(raw, kinds[name])
        except ValueError as e:
            raise UserError(f"{where}: option {name} = {raw!r} should be {e}") from None
        meta = specs[name].metadata
        if meta.get("choices") is not None and value not in meta["choices"]:
            shown = ", ".join(json.dumps(c) if not isinstance(c, str) else c for c in meta["choices"])
            raise UserError(f"{where}: option {name} = {raw!r} must be one of {shown}")
        if meta.get("minimum") is not None and value < meta["minimum"]:
            raise UserError(f"{where}: option {name} = {raw!r} must be at least {meta['minimum']:g}")
        values[name] = value
    return cls(**values)


def with_options(options: Options, given: Mapping[str, Any], *, where: str = "") -> Options:
    """`options` with some fields changed (checked as `make_options` checks them)."""
    changed = make_options(type(options), given, where=where)
    return dataclasses.replace(options, **{k: getattr(changed, k) for k in given})


def saved_options(cls: type[Options], saved: Mapping[str, Any]) -> Options:
    """Options read back from a checkpoint: the names `cls` still declares (a field a later version dropped is
    ignored, a field it added keeps its default)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return make_options(cls, {k: v for k, v in saved.items() if k in names}, where="saved options")


def non_default(options: Options) -> dict:
    """The options that differ from their defaults, by name (what sets a configuration apart)."""
    base = defaults(type(options))
    return {k: v for k, v in dataclasses.asdict(options).items() if base.get(k) != v}


def as_dict(options: Options) -> dict:
    """Every option, by name (for checkpoints and fingerprints)."""
    return dataclasses.asdict(options)
