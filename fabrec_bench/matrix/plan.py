"""Matrix plans: which cells are done, the shared pretrainings, and running one job (one training evaluated
on its pending splits) in this process."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from fabrec_bench.errors import UserError
from fabrec_bench.matrix.spec import Job
from fabrec_bench.models import DatasetFacts, RunContext
from fabrec_bench.runs import ProtocolChoice, RunRequest, TrainingPlan
from fabrec_bench.store import ResultsStore, store_path


@dataclass
class Plan:
    jobs: list[Job]
    done: dict[str, bool] = field(default_factory=dict)  # cell key -> finished

    def cells(self) -> list[tuple[Job, str]]:
        return [(job, split) for job in self.jobs for split in job.splits]


def plan(jobs: list[Job], work_dir: Path) -> Plan:
    """Which cells the store already holds as finished results."""
    result = Plan(jobs)
    with ResultsStore(store_path(work_dir)) as store:
        store.mark_stale()
        finished = {r.cell_key for r in store.runs(status="finished") if r.cell_key}
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
    options = model.make_pretrain_options(spec.get("config", {}), where=f"matrix.pretrain {name!r}.config")
    adapter = api.get_adapter(spec["dataset"], spec.get("options"))
    split = spec.get("split") or adapter.train_split
    if split is None:
        raise UserError(f"matrix.pretrain {name!r}: dataset '{spec['dataset']}' has no training split; set split")
    data = api.load_split(spec["dataset"], split, data_root=spec.get("data_root"), options=spec.get("options"))
    folder.mkdir(parents=True, exist_ok=True)
    context = RunContext(device=device, work_dir=Path(work_dir), run_dir=folder, cache_dir=folder / "crop-cache",
                         dataset=DatasetFacts.of(adapter))
    artefact = model.pretrain(data.samples, options, context)
    from fabrec_bench.checkpoints import atomic_write

    record = json.dumps({"spec": spec, "artefact": str(artefact), "faces": len(data.samples)}, indent=2)
    atomic_write(marker, lambda f: f.write(record), binary=False)
    return Path(artefact)


def resolve_config(job: Job, artefacts: dict[str, str]) -> dict:
    """The job's model config with "@name" references replaced by the pretrained artefacts' paths."""
    config = {k: json.loads(v) for k, v in job.config}
    return {k: artefacts[v[1:]] if isinstance(v, str) and v.startswith("@") else v for k, v in config.items()}


def request_for(job: Job, pending: tuple[str, ...], config: dict, work_dir: Path) -> RunRequest:
    """The run request of one job: one training evaluated on its pending splits, each split's run tagged with
    its cell key, resuming from the job's own folder."""
    return RunRequest(
        model=job.model, dataset=job.dataset, splits=tuple(pending), model_options=config,
        dataset_options={k: json.loads(v) for k, v in job.options}, label=job.label,
        training=TrainingPlan(count=job.train_count, selection=job.train_selection, seed=job.seed),
        data_root=job.data_root, cells={split: job.cell_key(split) for split in pending},
        protocol=ProtocolChoice(job.protocol),
        # A folder per job for models that can resume a training, so a killed cell continues where it was.
        resume_dir=Path(work_dir) / "resume" / job.cell_key("+".join(job.splits)))


def run_job(job: Job, work_dir: str, pending: tuple[str, ...], artefacts: dict[str, str] | None = None
            ) -> tuple[str, list[str], str | None]:
    """Run one training and its pending splits (in this or a worker process); returns (job, splits, error)."""
    from fabrec_bench import runs

    try:
        config = resolve_config(job, artefacts if artefacts is not None else
                                {name: str(run_pretraining(name, spec, Path(work_dir))) for name, spec in job.pretrain})
    except Exception as e:  # a failed pretraining fails the cells that need it
        return job.describe(), list(pending), f"pretraining: {type(e).__name__}: {e}"
    try:
        runs.execute(request_for(job, pending, config, Path(work_dir)), Path(work_dir))
        return job.describe(), list(pending), None
    except Exception as e:  # recorded and reported; the matrix goes on
        return job.describe(), list(pending), f"{type(e).__name__}: {e}"


def pending_jobs(the_plan: Plan) -> list[tuple[Job, tuple[str, ...]]]:
    """Each job with the splits it still has to evaluate (finished cells are skipped)."""
    todo = []
    for job in the_plan.jobs:
        pending = tuple(s for s in job.splits if not the_plan.done[job.cell_key(s)])
        if pending:
            todo.append((job, pending))
    return todo
