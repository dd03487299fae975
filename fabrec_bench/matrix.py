"""Train/eval matrices: the cross product of models x datasets x splits x training-set sizes x seeds.

A spec (TOML):

    [matrix]
    seeds = [0, 1]
    train_counts = [10, 50]        # "all" (or omit) trains on the whole training split

    [[matrix.models]]
    name = "mean-shape"

    [[matrix.models]]
    name = "3fabrec"
    label = "3fabrec-ae"           # optional, to tell two configurations of one model apart
    config = { autoencoder = "runs/ae/latest.pt", input_size = 128 }

    [[matrix.datasets]]
    name = "wflw"
    splits = ["test", "pose", "make-up"]
    data_root = "data/WFLW"        # optional; else the usual root lookup
    options = {}                   # dataset options, optional

A cell is one (model, dataset, split, training size, seed); cells that share everything but the split train
once and are evaluated on each split. Every stored run carries its cell key, so re-running the same spec skips
finished cells, and a cell interrupted at any moment (Ctrl-C, SIGKILL) is simply run again: its half-done
run was never marked finished. A failing cell is recorded with its error and the matrix goes on.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fabrec_bench.errors import UserError
from fabrec_bench.store import ResultsStore, store_path

MATRIX_KEYS = {"seeds", "train_counts", "models", "datasets"}
MODEL_KEYS = {"name", "label", "config"}
DATASET_KEYS = {"name", "splits", "data_root", "options"}


@dataclass(frozen=True)
class Job:
    """One training (model config x dataset x size x seed) and the splits it is evaluated on."""

    label: str
    model: str
    config: tuple  # sorted (key, value) pairs, JSON-encoded values
    dataset: str
    splits: tuple[str, ...]
    train_count: int | None
    seed: int
    data_root: str | None = None
    options: tuple = ()

    def cell_key(self, split: str) -> str:
        ident = [self.label, self.model, list(self.config), self.dataset, split, self.train_count, self.seed,
                 list(self.options)]
        return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]

    def describe(self) -> str:
        size = "all" if self.train_count is None else self.train_count
        return f"{self.label} on {self.dataset} (N={size}, seed {self.seed})"


@dataclass
class Plan:
    jobs: list[Job]
    done: dict[str, bool] = field(default_factory=dict)  # cell key -> finished

    def cells(self) -> list[tuple[Job, str]]:
        return [(job, split) for job in self.jobs for split in job.splits]


def _check_keys(where: str, table: dict, allowed: set[str]) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}")


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
    models, datasets = matrix.get("models", []), matrix.get("datasets", [])
    if not models or not datasets:
        raise UserError(f"{path}: needs at least one [[matrix.models]] and one [[matrix.datasets]]")
    jobs = []
    for i, model in enumerate(models):
        _check_keys(f"{path} matrix.models[{i}]", model, MODEL_KEYS)
        if not isinstance(model.get("name"), str):
            raise UserError(f"{path}: matrix.models[{i}] needs a name")
        config = model.get("config", {})
        if not isinstance(config, dict):
            raise UserError(f"{path}: matrix.models[{i}].config must be a table")
        for j, dataset in enumerate(datasets):
            _check_keys(f"{path} matrix.datasets[{j}]", dataset, DATASET_KEYS)
            splits = dataset.get("splits")
            if not isinstance(dataset.get("name"), str) or not isinstance(splits, list) or not splits:
                raise UserError(f"{path}: matrix.datasets[{j}] needs a name and a non-empty list of splits")
            for count in counts:
                for seed in seeds:
                    jobs.append(Job(
                        label=model.get("label", model["name"]), model=model["name"],
                        config=tuple(sorted((k, json.dumps(v)) for k, v in config.items())),
                        dataset=dataset["name"], splits=tuple(splits),
                        train_count=None if count == "all" else count, seed=seed,
                        data_root=dataset.get("data_root"),
                        options=tuple(sorted((k, json.dumps(v)) for k, v in dataset.get("options", {}).items())),
                    ))
    return jobs


def plan(jobs: list[Job], work_dir: Path) -> Plan:
    """Which cells the store already holds as finished results."""
    result = Plan(jobs)
    with ResultsStore(store_path(work_dir)) as store:
        store.mark_stale()
        finished = {r.config.get("matrix_cell") for r in store.runs(status="finished")}
    for job, split in result.cells():
        result.done[job.cell_key(split)] = job.cell_key(split) in finished
    return result


def run_job(job: Job, work_dir: str, pending: tuple[str, ...]) -> tuple[str, list[str], str | None]:
    """Run one training and its pending splits (in this or a worker process); returns (job, splits, error)."""
    from fabrec_bench import api

    config = {k: json.loads(v) for k, v in job.config}
    options = {k: json.loads(v) for k, v in job.options}
    try:
        # One training, evaluated on every pending split; each split's run records its own cell key.
        api.run_model_on_splits(
            job.model, job.dataset, list(pending), work_dir=Path(work_dir), data_root=job.data_root,
            train_count=job.train_count, seed=job.seed, config=config, dataset_options=options,
            cell_keys={split: job.cell_key(split) for split in pending},
        )
        return job.describe(), list(pending), None
    except Exception as e:  # recorded and reported; the matrix goes on
        return job.describe(), list(pending), f"{type(e).__name__}: {e}"


def execute(the_plan: Plan, work_dir: Path, workers: int = 0, on_done=None) -> list[tuple[str, list[str], str]]:
    """Run every job with unfinished cells, sequentially or in `workers` processes; returns the failures."""
    todo = []
    for job in the_plan.jobs:
        pending = tuple(s for s in job.splits if not the_plan.done[job.cell_key(s)])
        if pending:
            todo.append((job, pending))
    failures = []
    if workers <= 0:
        for job, pending in todo:
            name, splits, error = run_job(job, str(work_dir), pending)
            if error:
                failures.append((name, splits, error))
            if on_done:
                on_done(name, splits, error)
        return failures
    import multiprocessing

    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = [pool.submit(run_job, job, str(work_dir), pending) for job, pending in todo]
        for future in as_completed(futures):
            name, splits, error = future.result()
            if error:
                failures.append((name, splits, error))
            if on_done:
                on_done(name, splits, error)
    return failures
