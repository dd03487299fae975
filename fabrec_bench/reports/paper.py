"""The table a paper prints: per dataset, protocol and main split, one line per measured configuration and one
per published result, the main split's NME, FR and AUC (where the protocol has them), then each subset's NME.

Measured rows come first (best main-split NME first), then the published rows of the same protocol, each its
own line: never averaged with, nor ranked among, the measured rows (a published line is marked and carries a
footnote naming its source and protocol). The best value of each column is marked among all lines alike.
Published numbers filed under no protocol of ours get one more table per dataset, "protocol not stated".

Rendered here as Markdown, LaTeX and HTML; the terminal table is drawn by the CLI from the same `PaperTable`.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field

from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.reports.leaderboard import LeaderboardRow, named_protocol_title, protocol_groups, row_label
from fabrec_bench.reports.reference import ReportedResult

PAPER_METRICS = ("nme", "fr", "auc")  # the main split's columns, in a paper's order
NOT_STATED = "protocol not stated"
PUBLISHED_MARK = "†"


@dataclass(frozen=True)
class Column:
    split: str
    metric: str  # nme, fr or auc
    header: str

    @property
    def higher_is_better(self) -> bool:
        return self.metric == "auc"

    def shown(self, value: float) -> str:
        """The value as the table prints it (NME and FR in percent, AUC as a fraction)."""
        return "–" if math.isnan(value) else f"{value:.4f}" if self.metric == "auc" else f"{value:.2f}"


@dataclass
class PaperRow:
    name: str
    values: list[float]  # per column, display units (percent for NME and FR); NaN: none
    published: bool = False
    footnote: int | None = None  # 1-based index into the table's footnotes (published rows)

    @property
    def marked_name(self) -> str:
        """The name with the published marker and footnote number, for plain-text formats."""
        return f"{self.name} {PUBLISHED_MARK}{self.footnote}" if self.published else self.name


@dataclass
class PaperTable:
    dataset: str
    main: str  # the main split (WFLW's test, 300-W's full, ...)
    protocol: str  # the protocol's name, or NOT_STATED
    title: str
    columns: list[Column]
    threshold: float | None = None  # the FR and AUC columns' threshold
    rows: list[PaperRow] = field(default_factory=list)
    footnotes: list[str] = field(default_factory=list)

    def best(self) -> list[float]:
        """Per column, the best value shown (lowest NME and FR, highest AUC) among every row."""
        out = []
        for i, column in enumerate(self.columns):
            values = [float(column.shown(r.values[i])) for r in self.rows if not math.isnan(r.values[i])]
            out.append(math.nan if not values else max(values) if column.higher_is_better else min(values))
        return out

    def is_best(self, row: PaperRow, i: int, best: list[float] | None = None) -> bool:
        best = self.best() if best is None else best
        return not math.isnan(row.values[i]) and float(self.columns[i].shown(row.values[i])) == best[i]


def _splits(dataset: str, registry: Registry) -> list[tuple[str, list[str]]]:
    """The dataset's main evaluation splits, each with its subsets, in the adapter's order."""
    try:
        adapter = registry.dataset(dataset)
    except Exception:  # a dataset whose plugin is gone: every split its rows name is a main split
        return []
    splits = [s for s in adapter.splits if getattr(s, "role", None) != "train"]
    return [(s.name, [c.name for c in splits if c.parent == s.name]) for s in splits if s.parent is None]


def _columns(main: str, subsets: list[str], metrics: list[str], threshold: float | None) -> list[Column]:
    at = f"@{threshold:g}" if threshold is not None else ""
    names = {"nme": f"{main} NME (%)", "fr": f"FR{at} (%)", "auc": f"AUC{at}"}
    return [Column(main, m, names[m]) for m in PAPER_METRICS if m in metrics] + \
        [Column(s, "nme", f"{s} NME (%)") for s in subsets]


def _rule(registry: Registry, dataset: str, protocol: str, split: str):
    """The protocol's resolved rules on `dataset`/`split` (threshold, metrics), or None where it has none."""
    from fabrec_bench.protocol import resolve_protocols

    try:
        return resolve_protocols(registry.dataset(dataset), registry, protocol, split)[0]
    except Exception:  # no rule for this dataset (or its plugin is gone)
        return None


def _published_rows(table: PaperTable, reported: list[ReportedResult]) -> None:
    """Add one row per published source and model, after the measured ones; a value goes into a column only if
    its split, metric and (for FR and AUC) threshold are the column's. Footnotes are numbered top down."""
    lines: dict[tuple[str, str], PaperRow] = {}
    for r in reported:
        for i, column in enumerate(table.columns):
            if (r.split, r.metric) != (column.split, column.metric):
                continue
            if column.metric != "nme" and None not in (r.threshold, table.threshold) \
                    and abs(r.threshold - table.threshold) > 1e-9:
                continue
            lines.setdefault((r.model, r.paper), PaperRow(r.model, [math.nan] * len(table.columns), True)) \
                .values[i] = r.value
    published = sorted(lines.items(), key=lambda item: _order(item[1]))
    table.footnotes = list(dict.fromkeys(paper for (_, paper), _ in published))
    for (_, paper), row in published:
        row.footnote = table.footnotes.index(paper) + 1
    table.rows += [row for _, row in published]


def _order(row: PaperRow) -> tuple:
    main = row.values[0] if row.values else math.nan
    return (math.isnan(main), main, row.name)


def _measured_rows(rows: list[LeaderboardRow], columns: list[Column]) -> list[PaperRow]:
    """One line per configuration and training size: its rows' metrics, by split."""
    by_line: dict[str, dict[str, LeaderboardRow]] = {}
    for row in rows:
        by_line.setdefault(row_label(row), {})[row.split] = row
    out = []
    for name, by_split in by_line.items():
        values = []
        for column in columns:
            row = by_split.get(column.split)
            value = math.nan if row is None else row.metrics.get(column.metric, math.nan)
            values.append(value if math.isnan(value) or column.metric == "auc" else 100.0 * value)
        out.append(PaperRow(name, values))
    return sorted(out, key=_order)


def build_paper_tables(rows: list[LeaderboardRow], reported: list[ReportedResult],
                       registry: Registry | None = None) -> list[PaperTable]:
    """Every paper table the measured rows and the published results make, dataset by dataset: one per
    protocol (and box source) and main split, then one of published numbers under no protocol of ours."""
    registry = registry or get_registry()
    measured: dict[tuple[str, str], tuple[str, str, list[LeaderboardRow]]] = {}  # (dataset, key) -> (name, title, rows)
    for title, members in protocol_groups(rows, registry):
        for row in members:
            p = row.protocol
            key = json.dumps([p.name, p.box_source]) if p.name != "standard" else title
            measured.setdefault((row.dataset, key), (p.name, title, []))[2].append(row)
    published_keys = {(r.dataset, json.dumps([r.protocol, "ground-truth"])): r.protocol
                      for r in reported if r.protocol}
    for (dataset, key), name in published_keys.items():
        measured.setdefault((dataset, key), (name, named_protocol_title(name), []))
    order = {p.name: i for i, p in enumerate(registry.protocols_in_order())}
    tables: list[PaperTable] = []
    datasets = sorted({d for d, _ in measured} | {r.dataset for r in reported})
    for dataset in datasets:
        base = dataset.split(" [", 1)[0]  # a row's dataset may carry its options
        keys = sorted((k for d, k in measured if d == dataset), key=lambda k: (order.get(measured[dataset, k][0],
                                                                                          len(order)), k))
        for key in keys:
            name, title, members = measured[dataset, key]
            published = [r for r in reported if r.dataset == base and r.protocol == name
                         and key == json.dumps([name, "ground-truth"])]
            tables += _tables_for(base, dataset, name, title, members, published, registry)
        unstated = [r for r in reported if r.dataset == dataset and not r.protocol]
        if unstated:
            tables += _tables_for(dataset, dataset, NOT_STATED, NOT_STATED, [], unstated, registry)
    return tables


def _tables_for(base: str, dataset: str, protocol: str, title: str, rows: list[LeaderboardRow],
                published: list[ReportedResult], registry: Registry) -> list[PaperTable]:
    mains = _splits(base, registry) or [(s, []) for s in dict.fromkeys(
        [r.split for r in rows] + [r.split for r in published])]
    out = []
    for main, subsets in mains:
        splits = {main, *subsets}
        members = [r for r in rows if r.split in splits]
        numbers = [r for r in published if r.split in splits]
        if not members and not numbers:
            continue
        main_rows = [r for r in members if r.split == main]
        if main_rows:
            metrics = [m for m in PAPER_METRICS if any(m in r.protocol.metrics for r in main_rows)]
            threshold = main_rows[0].protocol.threshold
        elif protocol != NOT_STATED and (rule := _rule(registry, base, protocol, main)) is not None:
            metrics, threshold = [m for m in PAPER_METRICS if m in rule.metrics], rule.threshold
        else:
            on_main = [r for r in numbers if r.split == main]
            metrics = [m for m in PAPER_METRICS if any(r.metric == m for r in on_main)] or ["nme"]
            found = {r.threshold for r in on_main if r.metric != "nme" and r.threshold is not None}
            threshold = next(iter(found)) if len(found) == 1 else None
        shown_subsets = [s for s in subsets if any(r.split == s for r in members) or
                         any(r.split == s for r in numbers)]
        table = PaperTable(dataset, main, protocol, f"{dataset} ({main}): {title}",
                           _columns(main, shown_subsets, metrics, threshold), threshold)
        table.rows = _measured_rows(members, table.columns)
        _published_rows(table, numbers)
        if any(not math.isnan(v) for r in table.rows for v in r.values):
            out.append(table)
    return out


# -- rendering ------------------------------------------------------------------------------------------


def footnote_text(table: PaperTable, index: int) -> str:
    where = "under no protocol of fabrec-bench's" if table.protocol == NOT_STATED else \
        f"protocol {table.protocol}"
    return f"{PUBLISHED_MARK}{index} {table.footnotes[index - 1]} ({where}; as published, not measured here)"


def to_markdown(table: PaperTable) -> str:
    """A GitHub table: published rows in italics with † and their footnote number, best values in bold."""
    from tabulate import tabulate

    best = table.best()
    body = []
    for row in table.rows:
        name = f"*{row.name}* {PUBLISHED_MARK}{row.footnote}" if row.published else row.name
        cells = [f"**{c.shown(v)}**" if table.is_best(row, i, best) else c.shown(v)
                 for i, (c, v) in enumerate(zip(table.columns, row.values, strict=True))]
        body.append([name, *cells])
    text = f"**{table.title}**\n\n" + tabulate(body, headers=["model", *(c.header for c in table.columns)],
                                               tablefmt="github", disable_numparse=True)
    notes = [footnote_text(table, i) for i in range(1, len(table.footnotes) + 1)]
    return text + ("\n\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


def to_latex(table: PaperTable) -> str:
    """A booktabs tabular: best values in \\textbf, published rows in \\textit with $^{\\dagger n}$, and the
    footnotes as lines after it."""
    from fabrec_bench.reports.leaderboard import latex_escape

    best = table.best()
    lines = [f"% {latex_escape(table.title)}", r"\begin{tabular}{l" + "r" * len(table.columns) + "}", r"\toprule",
             " & ".join(["model", *(latex_escape(c.header) for c in table.columns)]) + r" \\", r"\midrule"]
    for row in table.rows:
        name = rf"\textit{{{latex_escape(row.name)}}}$^{{\dagger {row.footnote}}}$" if row.published \
            else latex_escape(row.name)
        cells = [rf"\textbf{{{c.shown(v)}}}" if table.is_best(row, i, best) else c.shown(v).replace("–", "--")
                 for i, (c, v) in enumerate(zip(table.columns, row.values, strict=True))]
        lines.append(" & ".join([name, *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    for i in range(1, len(table.footnotes) + 1):
        lines.append(rf"\par\noindent{{\footnotesize $^{{\dagger {i}}}$ "
                     f"{latex_escape(footnote_text(table, i).split(' ', 1)[1])}}}")
    return "\n".join(lines) + "\n"


def to_html(table: PaperTable) -> str:
    """A table of class "paper": best values in <b>, published rows in <i> with † and a footnote link."""
    esc = html.escape
    best = table.best()
    head = "".join(f"<th>{esc(c.header)}</th>" for c in table.columns)
    body = []
    for row in table.rows:
        name = (f'<i>{esc(row.name)}</i> {PUBLISHED_MARK}<sup>{row.footnote}</sup>' if row.published
                else esc(row.name))
        cells = "".join(f'<td class="num">{"<b>" + c.shown(v) + "</b>" if table.is_best(row, i, best) else c.shown(v)}'
                        "</td>" for i, (c, v) in enumerate(zip(table.columns, row.values, strict=True)))
        body.append(f'<tr class="{"published" if row.published else "measured"}"><td>{name}</td>{cells}</tr>')
    notes = "".join(f"<li>{esc(footnote_text(table, i).split(' ', 1)[1])}</li>"
                    for i in range(1, len(table.footnotes) + 1))
    return (f"<h3>{esc(table.title)}</h3><table class=\"paper\"><thead><tr><th>model</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>" + (f'<ol class="notes">{notes}</ol>' if notes else ""))
