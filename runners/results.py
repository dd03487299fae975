"""`fabrec-bench results export/import`: move finished runs between machines as JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fabrec_bench_runners.options import console


@click.group("results")
def results_group():
    """Export finished runs to JSON lines, or merge runs from another machine."""


@results_group.command("export")
@click.argument("out", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--dataset", "-d", default=None)
@click.option("--split", "-s", default=None)
@click.option("--model", "-m", default=None)
@click.pass_obj
def export_command(obj, out, dataset, split, model):
    """Write finished runs (with metrics and per-face errors) to OUT ('-' for stdout)."""
    from fabrec_bench.store import ResultsStore, export_runs, store_path

    with ResultsStore(store_path(obj.work_dir)) as store:
        if out == "-":
            count = export_runs(store, sys.stdout, dataset=dataset, split=split, model=model)
        else:
            with open(out, "w", encoding="utf-8") as f:
                count = export_runs(store, f, dataset=dataset, split=split, model=model)
    click.echo(f"exported {count} run(s)", err=True)


@results_group.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def import_command(obj, files):
    """Add the runs in FILES (from `results export`) that this store does not have; duplicates are skipped."""
    from fabrec_bench.store import ResultsStore, import_runs, store_path

    with ResultsStore(store_path(obj.work_dir)) as store:
        for path in files:
            with open(path, encoding="utf-8") as f:
                added, present = import_runs(store, f, source=str(Path(path)))
            console.print(f"{path}: added {added} run(s), {present} already present")


@results_group.command("predictions")
@click.argument("run_id", type=int)
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--frame", type=click.Choice(["ours", "original"]), default="ours", show_default=True,
              help="ours: 0-based image pixels, as predictions.csv holds them; original: the frame the model's own "
                   "code leaves them in (1-based files, PIPNet's crop fractions), for diffing with its raw output.")
@click.option("--data-root", type=click.Path(file_okay=False), default=None,
              help="Where the dataset is now, if not where the run read it.")
@click.pass_obj
def predictions_command(obj, run_id, out, frame, data_root):
    """Write run RUN_ID's predictions (id, image, x0, y0, ...) to the CSV file OUT, in `--frame`."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.models import DatasetFacts
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.predictions import write_landmarks_csv
    from fabrec_bench.reports.gallery import load_run_faces
    from fabrec_bench.store import ResultsStore, store_path
    from fabrec_bench_runners.show import select_run

    with ResultsStore(store_path(obj.work_dir)) as store:
        run = select_run(store, run_id, None, None, None, None, None, None)
    faces = load_run_faces(run, data_root)
    landmarks = faces.predictions
    if frame == "original":
        spec = get_registry().model(run.model)
        if spec.original_frame is None:
            raise UserError(f"model '{run.model}' has no frame of its own: predictions.csv holds its predictions "
                            "as they are")
        why_not = spec.original_frame.refuses(run.model_options) if spec.original_frame.refuses else None
        if why_not:
            raise UserError(f"run {run.id}: {why_not}")
        adapter = get_registry().dataset(run.dataset)
        landmarks = spec.original_frame.convert(landmarks, DatasetFacts.of(adapter), faces.split)
    samples = faces.split.samples
    write_landmarks_csv(Path(out), [s.id for s in samples], [str(s.image_path) for s in samples], landmarks)
    click.echo(f"wrote {len(samples)} face(s) of run {run.id} ({run.model} on {run.dataset}/{run.split}) in the "
               f"{frame} frame", err=True)


COMMANDS = (results_group,)
