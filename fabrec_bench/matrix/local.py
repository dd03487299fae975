"""Running a plan: pretrainings first, then the jobs here, in local worker processes (each with its own
GPUs), or on a Ray cluster (fabrec_bench.matrix.ray_executor)."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from fabrec_bench.errors import UserError
from fabrec_bench.matrix.plan import Plan, pending_jobs, run_job, run_pretraining


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
            gpus: list[str] | None = None, on_pretrained=None) -> list[tuple[str, list[str], str]]:
    """Run every job with unfinished cells; returns the failures as (job, splits, error). `on_done(job, splits,
    error)` is told as each job ends, `on_pretrained(name, seconds)` as each shared pretraining does.

    executor "local": sequentially (workers=0) or in `workers` processes, each given its own share of `gpus`
    (CUDA_VISIBLE_DEVICES, recorded with every run it makes); "ray": as Ray tasks on the cluster at
    `address` (None starts a local Ray instance).
    """
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}; use local or ray")
    todo = pending_jobs(the_plan)
    failures = []

    def finished(name, splits, error):
        if error:
            failures.append((name, splits, error))
        if on_done:
            on_done(name, splits, error)

    # Shared pretrainings first, here, once each; the cells of a failed one fail with its error.
    artefacts, broken = {}, {}
    for name, spec in dict(p for job, _ in todo for p in job.pretrain).items():
        started = time.perf_counter()
        try:
            artefacts[name] = str(run_pretraining(name, spec, Path(work_dir)))
        except Exception as e:
            broken[name] = f"pretraining {name!r}: {type(e).__name__}: {e}"
        if on_pretrained:
            on_pretrained(name, time.perf_counter() - started)
    runnable = []
    for job, pending in todo:
        errors = [broken[name] for name, _ in job.pretrain if name in broken]
        if errors:
            finished(job.describe(), list(pending), errors[0])
        else:
            runnable.append((job, pending))
    todo = runnable

    if executor == "ray":
        from fabrec_bench.matrix.ray_executor import execute_on_ray

        execute_on_ray(todo, Path(work_dir), finished, address, cpus_per_cell, gpus_per_cell, artefacts)
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
