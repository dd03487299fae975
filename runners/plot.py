"""`fabrec-bench plot`: figures from the results store."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.plots import ced_plot, run_label
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench_runners.options import console


@click.group("plot")
def plot_group():
    """Figures from stored results (PNG, SVG or PDF by the file extension)."""


@plot_group.command("ced")
@click.option("--dataset", "-d", required=True)
@click.option("--split", "-s", required=True)
@click.option("--model", "-m", "models", multiple=True, help="Only these models (repeatable).")
@click.option("--threshold", type=float, default=None, help="Default: the runs' protocol threshold.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="ced.png, ced.svg, ...")
@click.pass_obj
def ced_command(obj, dataset, split, models, threshold, out):
    """Cumulative error distribution of the latest finished run of each model on DATASET/SPLIT."""
    with ResultsStore(store_path(obj.work_dir)) as store:
        runs = [r for r in store.runs(dataset=dataset, split=split) if not models or r.model in models]
        latest = {}
        for run in runs:  # oldest first, so the newest of each label wins
            latest[(run_label(run), json.dumps(run.protocol, sort_keys=True))] = run
        if not latest:
            raise UserError(f"no finished runs on {dataset}/{split} in {store.path}")
        normalisers = {r.protocol.get("normaliser") for r in latest.values()}
        if len(normalisers) > 1:
            raise UserError(f"runs on {dataset}/{split} use different normalisers ({', '.join(sorted(normalisers))}); "
                            "their curves are not comparable: filter with --model")
        curves = [(label, np.array(list(store.face_errors(run.id).values()))) for (label, _), run in latest.items()]
    first = next(iter(latest.values()))
    t = threshold or first.protocol.get("threshold", 0.1)
    path = ced_plot(curves, Path(out), threshold=t, auc_rule=first.protocol.get("auc_rule", "trapezoid"),
                    title=f"{dataset} / {split} ({first.protocol.get('normaliser')} NME)")
    console.print(f"wrote {path}")


COMMANDS = (plot_group,)
