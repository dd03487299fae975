"""Matrix specs: reading and checking the TOML file into jobs (one training each) and their cell keys."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fabrec_bench.errors import UserError, refuse_unknown

MATRIX_KEYS = {"seeds", "train_counts", "train_selection", "protocol", "models", "datasets", "pretrain"}
PRETRAIN_KEYS = {"name", "model", "dataset", "split", "data_root", "options", "config"}
MODEL_KEYS = {"name", "label", "config"}
DATASET_KEYS = {"name", "splits", "data_root", "options"}


@dataclass(frozen=True)
class Job:
    """One training (model config x dataset x size x seed) and the splits it is evaluated on."""

    label: str | None  # the spec's label (None: the model's name stands for it in cell keys)
    model: str
    config: tuple  # sorted (key, value) pairs, JSON-encoded values
    dataset: str
    splits: tuple[str, ...]
    train_count: int | None
    seed: int
    data_root: str | None = None
    options: tuple = ()
    pretrain: tuple = ()  # (name, spec JSON) of each shared pretraining the config refers to
    train_selection: str = "random"  # which train_count faces: seeded random draw, or the first in file order
    protocol: str = "standard"  # what each split is scored under (`--protocol`: a name, or all)

    def cell_key(self, split: str) -> str:
        ident = [self.label or self.model, self.model, list(self.config), self.dataset, split, self.train_count, self.seed,
                 list(self.options)]
        if self.pretrain:
            ident.append(list(self.pretrain))
        if self.train_selection != "random":  # keys of specs written before the option stay as they were
            ident.append(self.train_selection)
        if self.protocol != "standard":
            ident.append(["protocol", self.protocol])
        return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> str:
        size = "all" if self.train_count is None else self.train_count
        return f"{self.label or self.model} on {self.dataset} (N={size}, seed {self.seed})"


def _check_keys(where: str, table: dict, allowed: set[str]) -> None:
    refuse_unknown(table, allowed, where, "key")


def load_spec(path: Path) -> list[Job]:
    """Parse and check a matrix spec; unknown keys and wrong types name the file and the key."""
    try:
        with open(path, "rb") as f:
            spec = tomllib.load(f)
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{path}: not valid TOML ({e})") from None
    _check_keys(str(path), spec, {"matrix"})
    matrix = spec.get("matrix")
    if not isinstance(matrix, dict):
        raise UserError(f"{path}: needs a [matrix] table")
    _check_keys(f"{path} [matrix]", matrix, MATRIX_KEYS)
    seeds = matrix.get("seeds", [0])
    counts = matrix.get("train_counts", ["all"])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: matrix.seeds must be a list of integers, got {seeds!r}")
    if not isinstance(counts, list) or not all(c == "all" or (isinstance(c, int) and c > 0) for c in counts):
        raise UserError(f"{path}: matrix.train_counts must list positive integers or \"all\", got {counts!r}")
    protocol = matrix.get("protocol", "standard")
    if not isinstance(protocol, str):
        raise UserError(f"{path}: matrix.protocol must be a protocol's name or \"all\", got {protocol!r}")
    if protocol != "all":
        from fabrec_bench.plugins import get_registry

        if protocol not in get_registry().protocols:
            raise UserError(f"{path}: matrix.protocol {protocol!r} is no registered protocol (`fabrec-bench "
                            "protocols` lists them; \"all\" scores under each)")
    selection = matrix.get("train_selection", "random")
    if selection not in ("random", "first"):
        raise UserError(f"{path}: matrix.train_selection must be \"random\" or \"first\", got {selection!r}")
    models, datasets = matrix.get("models", []), matrix.get("datasets", [])
    if not models or not datasets:
        raise UserError(f"{path}: needs at least one [[matrix.models]] and one [[matrix.datasets]]")
    pretrains: dict[str, dict] = {}
    for i, entry in enumerate(matrix.get("pretrain", [])):
        _check_keys(f"{path} matrix.pretrain[{i}]", entry, PRETRAIN_KEYS)
        for key in ("name", "model", "dataset"):
            if not isinstance(entry.get(key), str):
                raise UserError(f"{path}: matrix.pretrain[{i}] needs a {key} (a string)")
        if not isinstance(entry.get("config", {}), dict) or not isinstance(entry.get("options", {}), dict):
            raise UserError(f"{path}: matrix.pretrain[{i}].config and .options must be tables")
        if entry["name"] in pretrains:
            raise UserError(f"{path}: matrix.pretrain[{i}]: the name {entry['name']!r} is used twice")
        pretrains[entry["name"]] = entry
    jobs = []
    for i, model in enumerate(models):
        _check_keys(f"{path} matrix.models[{i}]", model, MODEL_KEYS)
        if not isinstance(model.get("name"), str):
            raise UserError(f"{path}: matrix.models[{i}] needs a name")
        if "label" in model and not isinstance(model["label"], str):
            raise UserError(f"{path}: matrix.models[{i}].label must be a string, got {model['label']!r}")
        config = model.get("config", {})
        if not isinstance(config, dict):
            raise UserError(f"{path}: matrix.models[{i}].config must be a table")
        refs = []
        for key, value in config.items():
            if isinstance(value, str) and value.startswith("@"):
                if value[1:] not in pretrains:
                    raise UserError(f"{path}: matrix.models[{i}].config.{key} = {value!r} names no [[matrix.pretrain]]"
                                    f" (declared: {', '.join(sorted(pretrains)) or 'none'})")
                refs.append((value[1:], json.dumps(pretrains[value[1:]], sort_keys=True)))
        for j, dataset in enumerate(datasets):
            _check_keys(f"{path} matrix.datasets[{j}]", dataset, DATASET_KEYS)
            splits = dataset.get("splits")
            if not isinstance(dataset.get("name"), str) or not isinstance(splits, list) or not splits:
                raise UserError(f"{path}: matrix.datasets[{j}] needs a name and a non-empty list of splits")
            for count in counts:
                for seed in seeds:
                    jobs.append(Job(
                        label=model.get("label"), model=model["name"],
                        config=tuple(sorted((k, json.dumps(v)) for k, v in config.items())),
                        dataset=dataset["name"], splits=tuple(splits),
                        train_count=None if count == "all" else count, seed=seed,
                        data_root=dataset.get("data_root"),
                        options=tuple(sorted((k, json.dumps(v)) for k, v in dataset.get("options", {}).items())),
                        pretrain=tuple(sorted(refs)), train_selection=selection, protocol=protocol,
                    ))
    _check_options(path, models, pretrains)
    return jobs


def _check_options(path: Path, models: list[dict], pretrains: dict[str, dict]) -> None:
    """Model and pretraining options are checked when the spec is read, against each model's declared options
    (names, types, allowed values), naming the file and the table, so a typo fails in a second rather than
    after hours of other cells. A "@name" value stands for a pretrained artefact's path."""
    from fabrec_bench.plugins import get_registry

    registry = get_registry()

    def model_spec(name: str, where: str):
        try:
            return registry.model(name)
        except UserError as e:
            raise UserError(f"{path}: {where}: {e}") from None

    for i, model in enumerate(models):
        spec = model_spec(model["name"], f"matrix.models[{i}]")
        config = {k: ("" if isinstance(v, str) and v.startswith("@") else v) for k, v in model.get("config", {}).items()}
        spec.make_options(config, where=f"{path}: matrix.models[{i}].config (model '{spec.name}')")
    for name, entry in pretrains.items():
        spec = model_spec(entry["model"], f"matrix.pretrain {name!r}")
        if spec.pretrain is None:
            raise UserError(f"{path}: matrix.pretrain {name!r}: model '{spec.name}' has no shared pretraining")
        spec.make_pretrain_options(entry.get("config", {}),
                                   where=f"{path}: matrix.pretrain {name!r}.config (model '{spec.name}')")
