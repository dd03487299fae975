"""The Ray executor: each job a Ray task in a folder on its node, its finished runs shipped back as export
records and imported into the driver's store."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

from fabrec_bench.errors import UserError
from fabrec_bench.matrix.plan import run_job
from fabrec_bench.matrix.spec import Job
from fabrec_bench.store import ResultsStore, export_runs, import_runs, store_path


def run_job_exported(job: Job, pending: tuple[str, ...], node_dir: str, blobs: dict[str, tuple[str, bytes]]
                     ) -> tuple[str, list[str], str | None, str]:
    """Run one job into a work directory on this node and return its finished runs as export records, one
    per cell. Cells this node already finished (a driver killed before it imported them) are not run again.
    `blobs` are the pretrained artefacts the driver made (name -> (file name, bytes)), written here once."""
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
            return {r.cell_key: r.uid for r in store.runs(status="finished") if r.cell_key in keys}

    todo = tuple(split for key, split in keys.items() if key not in finished_here())
    error = run_job(job, str(work), todo, artefacts)[2] if todo else None
    out = io.StringIO()
    done = finished_here()
    if done:
        with ResultsStore(store_path(work)) as store:
            export_runs(store, out, uids=set(done.values()))
    return job.describe(), list(pending), error, out.getvalue()


def execute_on_ray(todo, work_dir: Path, finished, address, cpus_per_cell, gpus_per_cell, artefacts) -> None:
    """Run `todo` as Ray tasks, calling `finished(job, splits, error)` as each ends."""
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
