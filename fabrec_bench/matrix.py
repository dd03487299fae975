"""Train/eval matrices: the cross product of models x datasets x splits x training-set sizes x seeds.

A spec (TOML):

    [matrix]
    seeds = [0, 1]
    train_counts = [10, 50]        # "all" (or omit) trains on the whole training split
    train_selection = "random"     # or "first": the first N faces in annotation order (the original's)

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

    [[matrix.pretrain]]            # optional: unsupervised pretraining shared by many cells, done once
    name = "ae"
    model = "3fabrec"              # the model whose pretraining this is (3FabRec: the stage-1 autoencoder)
    dataset = "vggface2"           # faces of this dataset's training split; labels, if any, are ignored
    data_root = "data/VGGFace2"    # optional
    config = { input_size = 128, epochs = 3 }

A model config value "@ae" stands for the artefact of the pretraining named "ae" (for 3FabRec:
`autoencoder = "@ae"`). It is trained before the first cell that needs it, in `<work dir>/pretrain/ae/`, and
marked done there, so every later cell and every resumed matrix reuses the same weights. Its spec is part of
those cells' keys: change it and the cells count as new.

A cell is one (model, dataset, split, training size, seed); cells that share everything but the split train
once and are evaluated on each split. Every stored run carries its cell key, so re-running the same spec skips
finished cells, and a cell interrupted at any moment (Ctrl-C, SIGKILL) is simply run again: its half-done
run was never marked finished. A failing cell is recorded with its error and the matrix goes on.

Executors: `local` runs trainings one after another in this process, or in N worker processes that all write
to the work directory's SQLite store. `ray` sends each training to a Ray cluster (`pip install
"fabrec-bench[ray]"`) with the CPUs and GPUs per cell asked for; Ray sets CUDA_VISIBLE_DEVICES, so a cell
sees exactly the GPUs it was given. A Ray task works in a folder local to its node and returns its finished
runs as export records, which the driver imports into the work directory's store: results land in the same
SQLite store whichever executor ran them, and no node needs to share the driver's disk (dataset roots must
be readable on every node). Run folders (checkpoints, predictions) stay on the node that made them, under
the path and host each run records.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from fabrec_bench.errors import UserError, refuse_unknown
from fabrec_bench.store import ResultsStore, export_runs, import_runs, store_path

MATRIX_KEYS = {"seeds", "train_counts", "train_selection", "models", "datasets", "pretrain"}
PRETRAIN_KEYS = {"name", "model", "dataset", "split", "data_root", "options", "config"}
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
    pretrain: tuple = ()  # (name, spec JSON) of each shared pretraining the config refers to
    train_selection: str = "random"  # which train_count faces: seeded random draw, or the first in file order

    def cell_key(self, split: str) -> str:
        ident = [self.label, self.model, list(self.config), self.dataset, split, self.train_count, self.seed,
                 list(self.options)]
        if self.pretrain:
            ident.append(list(self.pretrain))
        if self.train_selection != "random":  # keys of specs written before the option stay as they were
            ident.append(self.train_selection)
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
                        label=model.get("label", model["name"]), model=model["name"],
                        config=tuple(sorted((k, json.dumps(v)) for k, v in config.items())),
                        dataset=dataset["name"], splits=tuple(splits),
                        train_count=None if count == "all" else count, seed=seed,
                        data_root=dataset.get("data_root"),
                        options=tuple(sorted((k, json.dumps(v)) for k, v in dataset.get("options", {}).items())),
                        pretrain=tuple(sorted(refs)), train_selection=selection,
                    ))
    _check_options(path, models, pretrains)
    return jobs


def _check_options(path: Path, models: list[dict], pretrains: dict[str, dict]) -> None:
    """Model and pretraining options are checked when the spec is read, naming the file and the table, so a
    typo fails in a second rather than after hours of other cells."""
    from fabrec_bench.plugins import get_registry

    registry = get_registry()

    def model_spec(name: str, where: str):
        try:
            return registry.model(name)
        except UserError as e:
            raise UserError(f"{path}: {where}: {e}") from None

    for i, model in enumerate(models):
        spec = model_spec(model["name"], f"matrix.models[{i}]")
        refuse_unknown(model.get("config", {}), spec.default_config, f"{path}: matrix.models[{i}].config "
                       f"(model '{spec.name}')")
    for name, entry in pretrains.items():
        spec = model_spec(entry["model"], f"matrix.pretrain {name!r}")
        if spec.pretrain is None:
            raise UserError(f"{path}: matrix.pretrain {name!r}: model '{spec.name}' has no shared pretraining")
        refuse_unknown(entry.get("config", {}), spec.pretrain_options, f"{path}: matrix.pretrain {name!r}.config "
                       f"(model '{spec.name}')")


def plan(jobs: list[Job], work_dir: Path) -> Plan:
    """Which cells the store already holds as finished results."""
    result = Plan(jobs)
    with ResultsStore(store_path(work_dir)) as store:
        store.mark_stale()
        finished = {r.config.get("matrix_cell") for r in store.runs(status="finished")}
    for job, split in result.cells():
        result.done[job.cell_key(split)] = job.cell_key(split) in finished
    return result


def pretrain_dir(work_dir: Path, name: str) -> Path:
    return Path(work_dir) / "pretrain" / name


def run_pretraining(name: str, spec_json: str, work_dir: Path, device: str = "auto") -> Path:
    """Train a shared pretraining once (resuming a partial one); returns its artefact. A `done.json` beside
    it marks it complete, so it is never trained further once a cell has used it."""
    from fabrec_bench import api
    from fabrec_bench.plugins import get_registry

    spec = json.loads(spec_json)
    folder = pretrain_dir(work_dir, name)
    marker = folder / "done.json"
    if marker.is_file():
        done = json.loads(marker.read_text())
        if done.get("spec") == spec and Path(done["artefact"]).is_file():
            return Path(done["artefact"])
        raise UserError(f"{folder}: holds pretraining {name!r} of another spec; rename it in the matrix or remove "
                        f"the folder to train it again")
    model = get_registry().model(spec["model"])
    if model.pretrain is None:
        raise UserError(f"model '{spec['model']}' has no shared pretraining (matrix.pretrain {name!r})")
    adapter = api.get_adapter(spec["dataset"], spec.get("options"))
    split = spec.get("split") or adapter.train_split
    if split is None:
        raise UserError(f"matrix.pretrain {name!r}: dataset '{spec['dataset']}' has no training split; set split")
    data = api.load_split(spec["dataset"], split, data_root=spec.get("data_root"), options=spec.get("options"))
    folder.mkdir(parents=True, exist_ok=True)
    artefact = model.pretrain(data.samples, adapter.scheme, folder, dict(spec.get("config", {})), device,
                              crop_extension=adapter.crop_box_extension)
    from fabrec_bench.checkpoints import atomic_write

    record = json.dumps({"spec": spec, "artefact": str(artefact), "faces": len(data.samples)}, indent=2)
    atomic_write(marker, lambda f: f.write(record), binary=False)
    return Path(artefact)


def resolve_config(job: Job, artefacts: dict[str, str]) -> dict:
    """The job's model config with "@name" references replaced by the pretrained artefacts' paths."""
    config = {k: json.loads(v) for k, v in job.config}
    return {k: artefacts[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in config.items()}


def run_job(job: Job, work_dir: str, pending: tuple[str, ...], artefacts: dict[str, str] | None = None
            ) -> tuple[str, list[str], str | None]:
    """Run one training and its pending splits (in this or a worker process); returns (job, splits, error)."""
    from fabrec_bench import api

    try:
        config = resolve_config(job, artefacts if artefacts is not None else
                                {name: str(run_pretraining(name, spec, Path(work_dir))) for name, spec in job.pretrain})
    except Exception as e:  # a failed pretraining fails the cells that need it
        return job.describe(), list(pending), f"pretraining: {type(e).__name__}: {e}"
    options = {k: json.loads(v) for k, v in job.options}
    try:  # models that can resume a training get a folder per job, so a killed cell continues where it was
        from fabrec_bench.plugins import get_registry

        if "resume_dir" in get_registry().model(job.model).default_config:
            config.setdefault("resume_dir", str(Path(work_dir) / "resume" / job.cell_key("+".join(job.splits))))
    except UserError as e:
        return job.describe(), list(pending), f"{type(e).__name__}: {e}"
    try:
        # One training, evaluated on every pending split; each split's run records its own cell key.
        api.run_model_on_splits(
            job.model, job.dataset, list(pending), work_dir=Path(work_dir), data_root=job.data_root,
            train_count=job.train_count, seed=job.seed, config=config, dataset_options=options,
            cell_keys={split: job.cell_key(split) for split in pending}, train_selection=job.train_selection,
        )
        return job.describe(), list(pending), None
    except Exception as e:  # recorded and reported; the matrix goes on
        return job.describe(), list(pending), f"{type(e).__name__}: {e}"


def _todo(the_plan: Plan) -> list[tuple[Job, tuple[str, ...]]]:
    todo = []
    for job in the_plan.jobs:
        pending = tuple(s for s in job.splits if not the_plan.done[job.cell_key(s)])
        if pending:
            todo.append((job, pending))
    return todo


def _take_gpus(queue) -> None:
    """Worker-process initialiser: claim one GPU group for the life of this worker, before torch sees CUDA."""
    os.environ["CUDA_VISIBLE_DEVICES"] = queue.get()


def gpu_groups(gpus: list[str], workers: int) -> list[str]:
    """Split GPU ids over workers: each worker gets its own GPUs (several when there are more GPUs than
    workers); with fewer GPUs than workers, workers share them round robin."""
    if not gpus:
        return []
    if len(gpus) >= workers:
        per = len(gpus) // workers
        return [",".join(gpus[i * per:(i + 1) * per]) for i in range(workers)]
    return [gpus[i % len(gpus)] for i in range(workers)]


def execute(the_plan: Plan, work_dir: Path, workers: int = 0, on_done=None, *, executor: str = "local",
            address: str | None = None, cpus_per_cell: float = 1, gpus_per_cell: float = 0,
            gpus: list[str] | None = None) -> list[tuple[str, list[str], str]]:
    """Run every job with unfinished cells; returns the failures as (job, splits, error).

    executor "local": sequentially (workers=0) or in `workers` processes, each given its own share of `gpus`
    (CUDA_VISIBLE_DEVICES, recorded with every run it makes); "ray": as Ray tasks on the cluster at
    `address` (None starts a local Ray instance).
    """
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}; use local or ray")
    todo = _todo(the_plan)
    failures = []

    def finished(name, splits, error):
        if error:
            failures.append((name, splits, error))
        if on_done:
            on_done(name, splits, error)

    # Shared pretrainings first, here, once each; the cells of a failed one fail with its error.
    artefacts, broken = {}, {}
    for name, spec in dict(p for job, _ in todo for p in job.pretrain).items():
        try:
            artefacts[name] = str(run_pretraining(name, spec, Path(work_dir)))
        except Exception as e:
            broken[name] = f"pretraining {name!r}: {type(e).__name__}: {e}"
    runnable = []
    for job, pending in todo:
        errors = [broken[name] for name, _ in job.pretrain if name in broken]
        if errors:
            finished(job.describe(), list(pending), errors[0])
        else:
            runnable.append((job, pending))
    todo = runnable

    if executor == "ray":
        _execute_ray(todo, Path(work_dir), finished, address, cpus_per_cell, gpus_per_cell, artefacts)
        return failures
    if workers <= 0:
        for job, pending in todo:
            finished(*run_job(job, str(work_dir), pending, artefacts))
        return failures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    initializer, initargs = None, ()
    if gpus:
        queue = context.Manager().Queue()
        for group in gpu_groups(list(gpus), workers):
            queue.put(group)
        initializer, initargs = _take_gpus, (queue,)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer,
                             initargs=initargs) as pool:
        futures = [pool.submit(run_job, job, str(work_dir), pending, artefacts) for job, pending in todo]
        for future in as_completed(futures):
            finished(*future.result())
    return failures


def run_job_exported(job: Job, pending: tuple[str, ...], node_dir: str, blobs: dict[str, tuple[str, bytes]]
                     ) -> tuple[str, list[str], str | None, str]:
    """Run one job into a work directory on this node and return its finished runs as export records, one
    per cell. Cells this node already finished (a driver killed before it imported them) are not run again.
    `blobs` are the pretrained artefacts the driver made (name -> (file name, bytes)), written here once."""
    import io

    from fabrec_bench.checkpoints import atomic_write

    artefacts = {}
    for name, (filename, data) in blobs.items():
        if not any(name == n for n, _ in job.pretrain):
            continue
        path = Path(node_dir) / "pretrain" / hashlib.sha1(data).hexdigest()[:16] / filename
        if not path.is_file() or path.stat().st_size != len(data):
            atomic_write(path, lambda f, data=data: f.write(data))
        artefacts[name] = str(path)
    work = Path(node_dir) / job.cell_key("+".join(pending))
    keys = {job.cell_key(s): s for s in pending}

    def finished_here() -> dict[str, str]:
        if not store_path(work).exists():
            return {}
        with ResultsStore(store_path(work)) as store:
            return {r.config["matrix_cell"]: r.uid for r in store.runs(status="finished")
                    if r.config.get("matrix_cell") in keys}

    todo = tuple(split for key, split in keys.items() if key not in finished_here())
    error = run_job(job, str(work), todo, artefacts)[2] if todo else None
    out = io.StringIO()
    done = finished_here()
    if done:
        with ResultsStore(store_path(work)) as store:
            export_runs(store, out, uids=set(done.values()))
    return job.describe(), list(pending), error, out.getvalue()


def _execute_ray(todo, work_dir: Path, finished, address, cpus_per_cell, gpus_per_cell, artefacts) -> None:
    import tempfile

    try:
        import ray
    except ImportError:
        raise UserError('--executor ray needs Ray: pip install "fabrec-bench[ray]"') from None
    if not todo:
        return
    # Plugin selection and dataset roots travel with the tasks.
    env = {k: v for k, v in os.environ.items() if k.startswith("FABREC_BENCH_")}
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": env} if env else None)
    try:
        task = ray.remote(num_cpus=cpus_per_cell, num_gpus=gpus_per_cell, max_retries=0)(run_job_exported)
        node_dir = os.path.join(tempfile.gettempdir(), "fabrec-bench-ray")
        # Pretrained artefacts go through Ray's object store, so nodes need not share the driver's disk.
        blobs = ray.put({name: (Path(path).name, Path(path).read_bytes()) for name, path in artefacts.items()})
        refs = {task.remote(job, pending, node_dir, blobs): (job, pending) for job, pending in todo}
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            job, pending = refs.pop(done[0])
            try:
                name, splits, error, records = ray.get(done[0])
            except Exception as e:  # the task itself died (node lost, out of memory): the cell is retried next time
                finished(job.describe(), list(pending), f"{type(e).__name__}: {e}")
                continue
            with ResultsStore(store_path(work_dir)) as store:
                import_runs(store, records.splitlines(), source=f"ray task for {name}")
            finished(name, splits, error)
    finally:
        if started_here:
            ray.shutdown()
