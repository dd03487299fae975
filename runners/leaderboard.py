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


def reported_rows(rows, dataset, split, model, extra_files, bundled: bool = True) -> list[reference.ReportedResult]:
    """Published results for the datasets the measured rows cover (or the --dataset filter)."""
    from fabrec_bench.reports import reference

    results = published_results(extra_files, bundled)
    datasets = {dataset} if dataset else {r.dataset for r in rows}
    found = [r for r in reference.matching(results, split=split, model=model) if r.dataset in datasets]
    return sorted(found, key=lambda r: (r.protocol or "", r.dataset))  # by protocol: compare within one


def published_results(extra_files, bundled: bool = True) -> list[reference.ReportedResult]:
    """The bundled published results (unless `bundled` is False) and those of the --reference files."""
    from fabrec_bench.reports import reference

    return (reference.bundled() if bundled else []) + [r for f in extra_files for r in reference.load(Path(f))]


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
              help="Show the field's published results (cited, marked †) beside the measured rows "
                   "(table, markdown, latex and html formats).")
@click.option("--reported-format", type=click.Choice(["paper", "long"]), default="paper", show_default=True,
              help="paper: published rows inside each dataset's paper table, with footnotes; long: also the "
                   "per-number list (model, split, metric, value, source), as the HTML page keeps folded.")
@click.option("--reference", "reference_files", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="More reported results, in the bundled reference_results.toml format (repeatable).")
@click.option("--bundled/--no-bundled", default=True, show_default=True,
              help="Include the published results bundled with fabrec-bench (--no-bundled: only --reference files).")
@click.option("--gallery", type=click.IntRange(min=0), default=6, show_default=True,
              help="html: each row's N worst faces as embedded thumbnails (0: none).")
@click.option("--gallery-tile", type=click.IntRange(min=32), default=96, show_default=True,
              help="html: thumbnail side in pixels.")
@click.pass_obj
def leaderboard_command(obj, dataset, split, model, train_count, label, protocol_name, fmt, out, reported,
                        reported_format, reference_files, bundled, gallery, gallery_tile):
    """Show finished runs beside the field's published numbers, one table per dataset and protocol as a paper
    prints it.

    Rows: one per configuration (model, label and options), training size and initialisation, the same
    configuration at several seeds averaged; then the published rows under the same protocol, marked and
    cited. With no results yet, the published table for --dataset (or the list of datasets that have one)."""
    from fabrec_bench.reports.leaderboard import build_rows
    from fabrec_bench.store import ResultsStore, store_path

    path = store_path(obj.work_dir)
    rows, any_run, figures, galleries = [], False, [], {}
    if path.exists():
        with ResultsStore(path) as store:
            store.mark_stale()
            runs = store.runs(status="finished", dataset=dataset, split=split, model=model,
                              train_count=train_count, label=label)
            any_run = bool(runs) or bool(store.runs(status="finished"))
            rows = [r for r in build_rows(runs) if protocol_name == "all" or r.protocol.name == protocol_name]
            if fmt == "html" and rows:
                from fabrec_bench.reports.gallery import row_galleries
                from fabrec_bench.reports.html import ced_figures

                figures, galleries = ced_figures(store, rows), row_galleries(rows, gallery, gallery_tile)
    if not any_run:
        _without_runs(path, dataset, split, protocol_name, fmt, out, published_results(reference_files, bundled))
        return
    published = reported_rows(rows, dataset, split, None, reference_files, bundled) if reported else []
    if protocol_name != "all":
        published = [r for r in published if r.protocol == protocol_name]
    _show(rows, published, reported_format, fmt, out, str(path), figures, galleries)


def _show(rows, published, reported_format, fmt, out, source, figures=(), galleries=None, hint=""):
    """Every format: the measured rows (one table per protocol), then the paper tables; the long list of
    published numbers with --reported-format long (and folded at the end of the HTML page)."""
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.reports import paper
    from fabrec_bench.reports.leaderboard import compact, protocol_groups, render, to_table

    tables = paper.build_paper_tables(rows, published) if rows or published else []
    long = reported_format == "long"
    if fmt == "html":
        from fabrec_bench.reports.html import leaderboard_page

        text = leaderboard_page(rows, figures=figures, reported=published, source=source,
                                galleries=galleries or {}, paper_tables=tables, note=hint)
    elif fmt in ("markdown", "latex"):
        parts = [render(rows, fmt)] if rows else []
        parts += [paper.to_markdown(t) if fmt == "markdown" else paper.to_latex(t) for t in tables]
        if long and published and fmt == "markdown":
            from tabulate import tabulate

            parts.append("Reported in papers (not measured here; never ranked with the rows above):\n\n"
                         + tabulate(_reported_body(published), headers=REPORTED_HEADERS, tablefmt="github"))
        text = "\n\n".join(parts)
    elif fmt in ("csv", "json"):
        text = render(rows, fmt) if rows else _reported_records(published, fmt)
    if fmt != "table":
        _write(text, out)
        return
    if out:
        raise click.UsageError("--out needs a file format (--format markdown, csv, json, latex or html)")
    if not rows and not hint:
        console.print("no finished runs match")
    if rows:
        groups = protocol_groups(rows, get_registry())
        for title, members in groups:  # one table per protocol: a column never mixes two protocols' numbers
            headers, body, caption = compact(*to_table(members))
            name = f"Leaderboard ({source})" + (f": {title}" if len(groups) > 1 else "")
            console.print(results_table(headers, body, name, caption))
    for table in tables:
        console.print(_rich_paper_table(table))
    if long and published:
        console.print(_rich_reported(published))
    if hint:
        console.print(hint)


def _rich_paper_table(table) -> Table:
    """A paper table on the terminal: best values bold, published rows italic with † and their footnote."""
    from rich.markup import escape

    from fabrec_bench.reports.paper import footnote_text

    notes = [footnote_text(table, i) for i in range(1, len(table.footnotes) + 1)]
    out = Table(title=escape(table.title), caption="\n".join(escape(n) for n in notes) or None,
                caption_justify="left")
    # numbers keep their full width and names wrap only at spaces: a table wider than the terminal runs past
    # its edge instead of cutting a value
    widest_word = max([len(w) for r in table.rows for w in r.marked_name.split()] + [5])
    out.add_column("model", min_width=widest_word)
    for i, column in enumerate(table.columns):
        width = max([len(column.shown(r.values[i])) for r in table.rows] + [len(w) for w in column.header.split()])
        out.add_column(escape(column.header), justify="right", min_width=width, no_wrap=False)
    best = table.best()
    for row in table.rows:
        cells = [f"[bold]{c.shown(v)}[/bold]" if table.is_best(row, i, best) else c.shown(v)
                 for i, (c, v) in enumerate(zip(table.columns, row.values, strict=True))]
        out.add_row(f"[italic]{escape(row.name)}[/italic] {row.marked_name[len(row.name) + 1:]}" if row.published
                    else escape(row.name), *cells)
    return out


def _rich_reported(published) -> Table:
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
    return table


def _reported_records(published, fmt: str) -> str:
    """The published numbers as CSV or JSON records (a store without runs)."""
    import csv
    import io
    import json

    records = [dict(zip(REPORTED_HEADERS, row, strict=True)) for row in _reported_body(published)]
    if fmt == "json":
        return json.dumps(records, indent=2)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=REPORTED_HEADERS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def _write(text: str, out) -> None:
    from fabrec_bench.checkpoints import atomic_write

    if out:
        text = text if text.endswith("\n") else text + "\n"
        atomic_write(Path(out), lambda f: f.write(text), binary=False, durable=False)
        console.print(f"wrote {out}")
    else:
        click.echo(text, nl=not text.endswith("\n"))


def _without_runs(path, dataset, split, protocol_name, fmt, out, results) -> None:
    """No run stored yet: the field's published table for --dataset, else the datasets that have one."""
    from fabrec_bench.reports import reference

    if dataset is None:
        by_dataset: dict[str, list] = {}
        for r in results:
            by_dataset.setdefault(r.dataset, []).append(r)
        table = Table(title=f"No runs in {path} yet; published numbers are bundled for these datasets")
        for column in ("dataset", "numbers", "models", "protocols"):
            table.add_column(column)
        for name, numbers in sorted(by_dataset.items()):
            table.add_row(name, str(len(numbers)), str(len({r.model for r in numbers})),
                          ", ".join(sorted({r.protocol or "not stated" for r in numbers})))
        console.print(table)
        console.print("`fabrec-bench leaderboard -d DATASET` prints a dataset's published table; "
                      "`fabrec-bench run -m MODEL -d DATASET -s SPLIT` adds measured rows beside it.")
        return
    published = [r for r in reference.matching(results, dataset=dataset, split=split)
                 if protocol_name == "all" or r.protocol == protocol_name]
    hint = (f"No runs in {path} yet: these are the published numbers for {dataset}; "
            f"`fabrec-bench run -m MODEL -d {dataset} -s SPLIT` adds measured rows beside them.")
    if not published:
        console.print(f"No runs in {path} yet, and no published numbers for {dataset} are bundled.")
        return
    if fmt != "table":
        click.echo(hint, err=True)
    _show([], published, "paper", fmt, out, str(path), hint=hint if fmt == "table" else "")


COMMANDS = (leaderboard_command,)
