"""`fabrec-bench plot`: figures from the results store."""

from __future__ import annotations

from pathlib import Path

import click

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
    """Cumulative error distribution of each configuration on DATASET/SPLIT (every seed's faces)."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.reports.figures import ced_curves
    from fabrec_bench.reports.plots import ced_plot
    from fabrec_bench.store import ResultsStore, store_path

    rows = [r for r in _rows(obj, dataset=dataset, split=split) if not models or r.runs[0].model in models]
    if not rows:
        raise UserError(f"no finished runs on {dataset}/{split} in {store_path(obj.work_dir)}")
    normalisers = {r.protocol.normaliser for r in rows}
    if len(normalisers) > 1:
        raise UserError(f"runs on {dataset}/{split} use different normalisers ({', '.join(sorted(normalisers))}); "
                        "their curves are not comparable: filter with --model")
    with ResultsStore(store_path(obj.work_dir)) as store:
        curves = ced_curves(store, rows)
    first = rows[0].protocol
    path = ced_plot(curves, Path(out), threshold=threshold or first.threshold, auc_rule=first.auc_rule,
                    title=f"{dataset} / {split} ({first.normaliser} NME)")
    console.print(f"wrote {path}")


COMMANDS = (plot_group,)


def _rows(obj, **filters):
    from fabrec_bench.errors import UserError
    from fabrec_bench.reports.leaderboard import build_rows
    from fabrec_bench.store import ResultsStore, store_path

    path = store_path(obj.work_dir)
    if not path.exists():
        raise UserError(f"no results yet: {path} does not exist (run `fabrec-bench run` first)")
    with ResultsStore(path) as store:
        return build_rows(store.runs(status="finished", **filters))


@plot_group.command("attributes")
@click.option("--dataset", "-d", default="wflw", show_default=True)
@click.option("--split", "-s", "splits", multiple=True,
              help="Splits to show, in order (default: the dataset's evaluation splits that have results).")
@click.option("--train-count", type=int, default=None, help="Only runs trained on this many faces.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="attributes.png, .svg, ...")
@click.pass_obj
def attributes_command(obj, dataset, splits, train_count, out):
    """NME per split (the WFLW attribute subsets) as grouped bars, one bar per model and training size."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.reports.figures import subset_bars
    from fabrec_bench.reports.plots import attribute_bars
    from fabrec_bench.store import store_path

    rows = _rows(obj, dataset=dataset, train_count=train_count)
    if not rows:
        raise UserError(f"no finished runs on {dataset} in {store_path(obj.work_dir)}")
    if not splits:
        try:
            order = [info.name for info in get_registry().dataset(dataset).splits]
        except UserError:  # a dataset whose plugin is no longer installed: alphabetical
            order = []
        present = {r.split for r in rows}
        splits = [s for s in order if s in present] + sorted(present - set(order))
    values = subset_bars(rows, list(splits))
    if not values:
        raise UserError(f"no NME results on {dataset} for split(s) {', '.join(splits)}")
    path = attribute_bars(values, list(splits), Path(out), title=f"{dataset}: NME per subset")
    console.print(f"wrote {path}")


@plot_group.command("fewshot")
@click.option("--dataset", "-d", required=True)
@click.option("--split", "-s", required=True)
@click.option("--metric", default="nme", show_default=True)
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="fewshot.png, .svg, ...")
@click.pass_obj
def fewshot_command(obj, dataset, split, metric, out):
    """NME against the number of training images (log x), mean ± std over seeds, one line per model."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.reports.figures import fewshot_series
    from fabrec_bench.reports.plots import fewshot_plot
    from fabrec_bench.store import store_path

    series = fewshot_series(_rows(obj, dataset=dataset, split=split), split, metric)
    if not series:
        raise UserError(f"no runs with a training-set size on {dataset}/{split} in {store_path(obj.work_dir)}")
    path = fewshot_plot(series, Path(out), title=f"{dataset} / {split}: {metric.upper()} vs. training images",
                        ylabel=f"{metric.upper()} (%)")
    console.print(f"wrote {path}")


@plot_group.command("landmarks")
@click.option("--dataset", "-d", required=True)
@click.option("--split", "-s", required=True)
@click.option("--model", "-m", required=True)
@click.option("--train-count", type=int, default=None)
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="landmarks.png, .svg, ...")
@click.pass_obj
def landmarks_command(obj, dataset, split, model, train_count, out):
    """Per-landmark NME of the latest matching run, drawn on the split's mean face."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.reports.leaderboard import run_label
    from fabrec_bench.reports.plots import landmark_error_plot
    from fabrec_bench.store import ResultsStore, store_path

    with ResultsStore(store_path(obj.work_dir)) as store:
        runs = store.runs(dataset=dataset, split=split, model=model, train_count=train_count)
        stored = [(run, store.landmark_errors(run.id)) for run in runs]
    stored = [(run, e) for run, e in stored if e is not None]
    if not stored:
        raise UserError(f"no finished run of {model} on {dataset}/{split} with per-landmark errors "
                        f"in {store_path(obj.work_dir)}")
    run, (errors, face) = stored[-1]
    path = landmark_error_plot(errors, face, Path(out),
                               title=f"{run_label(run)} on {dataset} / {split}: per-landmark NME")
    console.print(f"wrote {path}")
