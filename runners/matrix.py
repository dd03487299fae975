"""`fabrec-bench matrix`: run (or plan) a train/eval matrix from a TOML spec; resumable."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from fabrec_bench_runners.options import console


@click.command("matrix")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the plan (cells, what is done, what each needs) and stop.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Run trainings in this many worker processes (0: in this process, one after another).")
@click.option("--gpus", default=None,
              help="GPU ids for the local worker processes, e.g. 0,1,2,3: each worker gets its own share "
                   "(CUDA_VISIBLE_DEVICES), recorded with every run.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this machine (see --workers); ray: a Ray cluster (pip install \"fabrec-bench[ray]\").")
@click.option("--address", default=None,
              help="Ray cluster address (e.g. auto or ray://head:10001); default: start a local Ray instance.")
@click.option("--cpus-per-cell", type=click.FloatRange(min=0), default=1, show_default=True,
              help="CPUs Ray reserves for each training.")
@click.option("--gpus-per-cell", type=click.FloatRange(min=0), default=0, show_default=True,
              help="GPUs Ray gives each training (it sees only those, via CUDA_VISIBLE_DEVICES).")
@click.pass_obj
def matrix_command(obj, spec, dry_run, workers, gpus, executor, address, cpus_per_cell, gpus_per_cell):
    """Run every cell of SPEC not yet finished in the results store; failed cells are listed at the end."""
    from fabrec_bench.matrix import execute, load_spec, plan, pretrain_dir

    jobs = load_spec(Path(spec))
    the_plan = plan(jobs, obj.work_dir)
    cells = the_plan.cells()
    done = sum(the_plan.done.values())
    table = Table(title=f"{spec}: {len(cells)} cells, {done} done, {len(cells) - done} to run")
    for column in ("model", "dataset", "split", "train N", "seed", "state"):
        table.add_column(column)
    for job, split in cells:
        state = "done" if the_plan.done[job.cell_key(split)] else "to run"
        table.add_row(job.label, job.dataset, split, "all" if job.train_count is None else str(job.train_count),
                      str(job.seed), state)
    console.print(table)
    for name, spec in sorted({p for job in jobs for p in job.pretrain}):
        marker = pretrain_dir(obj.work_dir, name) / "done.json"
        state = "done" if marker.is_file() else "to train first"
        console.print(f"pretraining {name} ({json.loads(spec)['model']} on {json.loads(spec)['dataset']}): {state}")
    if dry_run:
        trainings = sum(1 for job in jobs if any(not the_plan.done[job.cell_key(s)] for s in job.splits))
        console.print(f"{trainings} training(s) would run, each evaluated on its unfinished splits")
        return

    def report(name, splits, error):
        status = f"[red]failed[/]: {error}" if error else "[green]done[/]"
        console.print(f"{name} on {', '.join(splits)}: {status}")

    if executor == "ray" and (workers or gpus):
        raise click.UsageError("--workers and --gpus are for the local executor; with Ray use --gpus-per-cell")
    gpu_ids = [g.strip() for g in gpus.split(",") if g.strip()] if gpus else []
    if gpu_ids and workers < 1:
        raise click.UsageError("--gpus needs --workers N (one process per GPU share)")
    failures = execute(the_plan, obj.work_dir, workers=workers, on_done=report, executor=executor,
                       address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell, gpus=gpu_ids)
    console.print(f"{len(cells) - done} cell(s) ran, {sum(len(f[1]) for f in failures)} failed")
    for name, splits, error in failures:
        console.print(f"  failed: {name} on {', '.join(splits)}: {error}", markup=False)
    if failures:
        raise SystemExit(1)


COMMANDS = (matrix_command,)
