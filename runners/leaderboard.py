"""`fabrec-bench leaderboard`: the stored results as a table, Markdown or CSV."""

from __future__ import annotations

import click
from rich.table import Table

from fabrec_bench.leaderboard import FORMATS, build_rows, compact, render, to_table
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench_runners.options import console


@click.command("leaderboard")
@click.option("--dataset", "-d", default=None, help="Only this dataset.")
@click.option("--split", "-s", default=None, help="Only this split.")
@click.option("--model", "-m", default=None, help="Only this model.")
@click.option("--train-count", type=int, default=None, help="Only runs trained on this many faces.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
              show_default=True, help="latex: a booktabs tabular.")
@click.pass_obj
def leaderboard_command(obj, dataset, split, model, train_count, fmt):
    """Show finished runs, one row per model, dataset, split, training size and protocol (seeds averaged)."""
    path = store_path(obj.work_dir)
    if not path.exists():
        raise click.UsageError(f"no results yet: {path} does not exist (run `fabrec-bench run` first)")
    with ResultsStore(path) as store:
        store.mark_stale()
        runs = store.runs(status="finished", dataset=dataset, split=split, model=model, train_count=train_count)
    rows = build_rows(runs)
    if fmt != "table":
        click.echo(render(rows, fmt), nl=fmt != "csv")
        return
    if not rows:
        console.print("no finished runs match")
        return
    headers, body, caption = compact(*to_table(rows))
    table = Table(title=f"Leaderboard ({path})", caption=caption)
    for h in headers:
        table.add_column(h, justify="right" if h not in ("model", "dataset", "split", "normaliser", "AUC rule") else "left")
    for r in body:
        table.add_row(*("–" if c is None else str(c) for c in r))
    console.print(table)


COMMANDS = (leaderboard_command,)
