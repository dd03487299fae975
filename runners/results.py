"""`fabrec-bench results export/import`: move finished runs between machines as JSON lines."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from fabrec_bench.store import ResultsStore, export_runs, import_runs, store_path
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
    with ResultsStore(store_path(obj.work_dir)) as store:
        for path in files:
            with open(path, encoding="utf-8") as f:
                added, present = import_runs(store, f, source=str(Path(path)))
            console.print(f"{path}: added {added} run(s), {present} already present")


COMMANDS = (results_group,)
