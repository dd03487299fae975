"""`fabrec-bench leaderboard`: the stored results as a terminal table, Markdown, CSV, JSON, LaTeX or HTML."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from fabrec_bench.choices import LEADERBOARD_FORMATS as FORMATS
from fabrec_bench_runners.options import ProtocolName, console, results_table

if TYPE_CHECKING:
    from fabrec_bench.reports import reference

REPORTED_HEADERS = ["model", "dataset", "split", "metric", "value", "normaliser", "protocol", "paper", "where"]


def reported_rows(rows, dataset, split, model, extra_files) -> list[reference.ReportedResult]:
    """Published results for the datasets the measured rows cover (or the --dataset filter)."""
    from fabrec_bench.reports import reference

    results = reference.bundled() + [r for f in extra_files for r in reference.load(Path(f))]
    datasets = {dataset} if dataset else {r.dataset for r in rows}
    found = [r for r in reference.matching(results, split=split, model=model) if r.dataset in datasets]
    return sorted(found, key=lambda r: (r.protocol or "", r.dataset))  # by protocol: compare within one


def _reported_body(reported) -> list[list]:
    return [[r.model, r.dataset, r.split, r.metric, r.value, r.normaliser or "", r.protocol or "", r.paper, r.where]
            for r in reported]


@click.command("leaderboard")
@click.option("--dataset", "-d", default=None, help="Only this dataset.")
@click.option("--split", "-s", default=None, help="Only this split.")
@click.option("--model", "-m", default=None, help="Only this model.")
@click.option("--train-count", type=int, default=None, help="Only runs trained on this many faces.")
@click.option("--label", default=None, help="Only runs of the configuration with this label.")
@click.option("--protocol", "protocol_name", type=ProtocolName(known_only=False), default="all",
              show_default=True, help="Only results scored under this protocol (each protocol is its own rows; "
                                      "`run --protocol all` stores one result per protocol).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
              help="latex: a booktabs tabular; html: a self-contained page (sortable, CED plots embedded).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default=None,
              help="Write to this file instead of the terminal.")
@click.option("--reported/--no-reported", default=True, show_default=True,
              help="Show published results (cited, marked as reported) beside the measured rows "
                   "(table, markdown and html formats).")
@click.option("--reference", "reference_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="More reported results, in the bundled reference_results.toml format (repeatable).")
@click.option("--gallery", type=click.IntRange(min=0), default=6, show_default=True,
              help="html: each row's N worst faces as embedded thumbnails (0: none).")
@click.option("--gallery-tile", type=click.IntRange(min=32), default=96, show_default=True,
              help="html: thumbnail side in pixels.")
@click.pass_obj
def leaderboard_command(obj, dataset, split, model, train_count, label, protocol_name, fmt, out, reported,
                        reference_files, gallery, gallery_tile):
    """Show finished runs beside the field's published numbers, one table per dataset and protocol as a paper
    prints it.

    Rows: one per configuration (model, label and options), training size and initialisation, the same
    configuration at several seeds averaged; then the published rows under the same protocol, marked and
    cited. With no results yet, the published table for --dataset (or the list of datasets that have one)."""
    from fabrec_bench.checkpoints import atomic_write
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.reports.leaderboard import (
        build_rows,
        compact,
        protocol_groups,
        render,
        to_table,
    )
    from fabrec_bench.store import ResultsStore, store_path

    path = store_path(obj.work_dir)
    if not path.exists():
        raise click.UsageError(f"no results yet: {path} does not exist (run `fabrec-bench run` first)")
    with ResultsStore(path) as store:
        store.mark_stale()
        runs = store.runs(status="finished", dataset=dataset, split=split, model=model, train_count=train_count,
                          label=label)
        rows = build_rows(runs)
        if protocol_name != "all":
            rows = [r for r in rows if r.protocol.name == protocol_name]
        published = reported_rows(rows, dataset, split, None, reference_files) if reported else []
        if fmt == "html":
            from fabrec_bench.reports.gallery import row_galleries
            from fabrec_bench.reports.html import ced_figures, leaderboard_page

            text = leaderboard_page(rows, figures=ced_figures(store, rows), reported=published, source=str(path),
                                    galleries=row_galleries(rows, gallery, gallery_tile))
    if fmt == "markdown":
        text = render(rows, fmt)
        if published:
            from tabulate import tabulate

            text += ("\n\nReported in papers (not measured here; never ranked with the rows above):\n\n"
                     + tabulate(_reported_body(published), headers=REPORTED_HEADERS, tablefmt="github"))
    elif fmt not in ("table", "html"):
        text = render(rows, fmt)
    if fmt != "table":
        if out:
            text = text if text.endswith("\n") else text + "\n"
            atomic_write(Path(out), lambda f: f.write(text), binary=False, durable=False)
            console.print(f"wrote {out}")
        else:
            click.echo(text, nl=not text.endswith("\n"))
        return
    if out:
        raise click.UsageError("--out needs a file format (--format markdown, csv, json, latex or html)")
    if not rows:
        console.print("no finished runs match")
        return
    groups = protocol_groups(rows, get_registry())
    for title, members in groups:  # one table per protocol: a column never mixes two protocols' numbers
        headers, body, caption = compact(*to_table(members))
        name = f"Leaderboard ({path})" + (f": {title}" if len(groups) > 1 else "")
        console.print(results_table(headers, body, name, caption))
    if published:
        table = Table(title="Reported in papers (not measured here)", title_style="bold yellow",
                      caption="full citations: --format markdown or html")
        body = [r[:-1] for r in _reported_body(published)]  # 'where' only in the file formats
        for i, h in enumerate(REPORTED_HEADERS[:-1]):
            if h == "paper":
                table.add_column(h, no_wrap=True, overflow="ellipsis", max_width=36)
            else:
                table.add_column(h, no_wrap=True, min_width=max(len(h), *(len(str(r[i])) for r in body)))
        for r in body:
            table.add_row(*(str(c) for c in r))
        console.print(table)


COMMANDS = (leaderboard_command,)
