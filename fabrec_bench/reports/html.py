"""The leaderboard as one self-contained HTML page: a sortable table whose rows open to the runs' config, code
version and library versions; a per-subset breakdown per dataset; CED plots embedded as PNG data; and the
published results beside them, marked as reported.

Every user-supplied string (model, dataset and split names, configs) is HTML-escaped, and the page's
Content-Security-Policy only runs its own script (by nonce) and loads nothing from outside the file.
"""

from __future__ import annotations

import base64
import html
import json
import math
import secrets
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from fabrec_bench.errors import UserError
from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.reports.leaderboard import (
    LeaderboardRow,
    protocol_groups,
    protocol_label,
    row_label,
    to_table,
)
from fabrec_bench.reports.reference import ReportedResult
from fabrec_bench.store import ResultsStore


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def ced_figures(store: ResultsStore, rows: list[LeaderboardRow]) -> list[tuple[str, bytes]]:
    """One CED plot (PNG bytes) per dataset, split and normaliser, from the per-face NME of every row's runs
    (all seeds pooled)."""
    from fabrec_bench.reports.plots import ced_plot

    groups: dict[tuple, list[LeaderboardRow]] = defaultdict(list)
    for row in rows:
        if row.runs:
            groups[(row.dataset, row.split, protocol_label(row.protocol))].append(row)
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, ((dataset, split, normaliser), members) in enumerate(sorted(groups.items())):
            curves = []
            for row in members:
                nme = np.concatenate([np.array(list(store.face_errors(r.id).values()), dtype=float)
                                      for r in row.runs])
                if nme.size:
                    curves.append((row_label(row), nme))
            if not curves:
                continue
            protocol = members[0].protocol
            title = f"{dataset} / {split} ({normaliser} NME)"
            path = ced_plot(curves, Path(tmp) / f"ced-{i}.png", threshold=protocol.threshold,
                            auc_rule=protocol.auc_rule, title=title)
            figures.append((title, path.read_bytes()))
    return figures


def _details(row: LeaderboardRow) -> dict:
    """What a reader needs to reproduce a row: per run, its options, seed, provenance, code and library versions."""
    return {
        "protocol": row.protocol.to_dict(),
        "label": row.label,
        "runs": [{"uid": r.uid, "seed": r.seed, "code_version": r.code_version, "versions": r.versions,
                  "model_options": r.model_options, "dataset_options": r.dataset_options, "cell_key": r.cell_key,
                  "train_selection": r.train_selection, "provenance": r.provenance, "model": r.model_info,
                  "train_seconds": r.train_seconds,
                  "finished_at": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.finished_at))
                  if r.finished_at else None} for r in row.runs],
    }


def _sort_key(value) -> str:
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return repr(float(value))
    return "" if value is None else str(value)


def _measured_tables(rows: list[LeaderboardRow], registry: Registry | None) -> str:
    """One sortable table per protocol (the first keeps the id `leaderboard` that #sort= links address)."""
    groups = protocol_groups(rows, registry)
    if len(groups) == 1:
        return _measured_table(rows, registry)
    return "".join(f"<h3>{esc(title)}</h3>{_measured_table(members, registry, i)}"
                   for i, (title, members) in enumerate(groups))


def _measured_table(rows: list[LeaderboardRow], registry: Registry | None, index: int = 0) -> str:
    headers, body = to_table(rows, registry)
    head = "".join(f'<th data-col="{i}" title="sort by {esc(h)}">{esc(h)}</th>' for i, h in enumerate(headers))
    groups = []
    for row, cells in zip(rows, body, strict=True):
        versions = sorted({r.code_version or "unknown" for r in row.runs})
        hover = f"code {', '.join(versions)}; {len(row.runs)} run(s); click for config"
        tds = []
        for i, value in enumerate(cells):
            shown = "–" if value is None else value
            attrs = f' data-sort="{esc(_sort_key(value))}"'
            if i == 0:
                tds.append(f'<td{attrs} title="{esc(hover)}"><button class="toggle" aria-expanded="false">▸</button> '
                           f"{esc(shown)}</td>")
            else:
                tds.append(f'<td{attrs} class="{"num" if isinstance(value, (int, float)) else ""}">{esc(shown)}</td>')
        details = esc(json.dumps(_details(row), indent=2, sort_keys=True, default=str))
        groups.append(f'<tbody class="group"><tr class="row">{"".join(tds)}</tr>'
                      f'<tr class="details" hidden><td colspan="{len(headers)}"><pre>{details}</pre></td></tr></tbody>')
    table_id = "leaderboard" if index == 0 else f"leaderboard-{index + 1}"
    return (f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>{"".join(groups)}</table>')


def _breakdown(rows: list[LeaderboardRow], registry: Registry | None) -> str:
    """Per dataset: one line per model and training size, one column per split, NME in percent."""
    out = []
    by_dataset: dict[str, list[LeaderboardRow]] = defaultdict(list)
    for row in rows:
        by_dataset[row.dataset].append(row)
    for dataset, members in sorted(by_dataset.items()):
        splits = list(dict.fromkeys(r.split for r in members))
        try:  # the dataset's own split order (test before its subsets) where its plugin is installed
            order = [info.name for info in (registry or get_registry()).dataset(dataset).splits]
            splits.sort(key=lambda s: order.index(s) if s in order else len(order))
        except UserError:
            pass
        lines: dict[tuple, dict[str, float]] = defaultdict(dict)
        for row in members:
            lines[(row_label(row), protocol_label(row.protocol))][row.split] = row.metrics.get("nme", math.nan)
        if len(splits) < 2:
            continue
        head = "".join(f"<th>{esc(s)}</th>" for s in splits)
        body = []
        for (label, normaliser), values in lines.items():
            cells = "".join(
                f'<td class="num">{"–" if math.isnan(values.get(s, math.nan)) else f"{100 * values[s]:.2f}"}</td>'
                for s in splits)
            body.append(f"<tr><td>{esc(label)}</td><td>{esc(normaliser)}</td>{cells}</tr>")
        out.append(f"<h3>{esc(dataset)}: NME (%) per split</h3><table class=\"breakdown\"><thead><tr><th>model</th>"
                   f"<th>normaliser</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return "".join(out)


def _reported_table(reported: list[ReportedResult]) -> str:
    if not reported:
        return ""
    body = "".join(
        f"<tr><td>{esc(r.model)}</td><td>{esc(r.dataset)}</td><td>{esc(r.split)}</td><td>{esc(r.metric)}</td>"
        f'<td class="num">{r.value:g}</td><td>{esc(r.normaliser or "")}</td><td>{esc(r.protocol or "")}</td>'
        f'<td>{esc("" if r.train_count is None else r.train_count)}</td><td>{esc(r.paper)}</td>'
        f"<td>{esc(r.where)}</td></tr>" for r in reported)
    return ('<h2>Reported in papers <span class="tag">not measured here</span></h2>'
            "<p>Numbers as published, for orientation; they come from other code, data and boxes and are never "
            "ranked or averaged with the measured rows above.</p>"
            '<table id="reported"><thead><tr><th>model</th><th>dataset</th><th>split</th><th>metric</th>'
            "<th>value</th><th>normaliser</th><th>protocol</th><th>train N</th><th>paper</th><th>where</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:.25em .6em;font-size:.9em}
th{background:#f0f0f0;cursor:pointer;user-select:none}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.details pre{margin:0;font-size:.8em;white-space:pre-wrap;max-height:30em;overflow:auto}
button.toggle{border:none;background:none;cursor:pointer;padding:0}
th.asc::after{content:" \\25B2"}th.desc::after{content:" \\25BC"}
.tag{font-size:.6em;background:#fde68a;padding:.1em .4em;border-radius:.3em;vertical-align:middle}
#reported td{background:#fffbeb}
figure{display:inline-block;margin:0 1em 1em 0}figure img{max-width:560px}
"""

SCRIPT = """
document.querySelectorAll('button.toggle').forEach(function(b){b.addEventListener('click',function(){
  var d=b.closest('tbody').querySelector('tr.details');d.hidden=!d.hidden;
  b.textContent=d.hidden?'\\u25B8':'\\u25BE';b.setAttribute('aria-expanded',String(!d.hidden));});});
function key(g,col){var v=g.querySelector('tr.row').children[col].dataset.sort;
  return /^[-+]?[0-9.]+([eE][-+]?[0-9]+)?$/.test(v)?parseFloat(v):v;}
function sortBy(table,col,asc){
  var th=table.querySelector('th[data-col="'+col+'"]');if(!th)return;
  table.querySelectorAll('th').forEach(function(h){h.classList.remove('asc','desc');});
  th.classList.add(asc?'asc':'desc');
  var groups=Array.prototype.slice.call(table.querySelectorAll('tbody.group'));
  groups.sort(function(a,b){var x=key(a,col),y=key(b,col);
    if(x===''&&y!=='')return 1;if(y===''&&x!=='')return -1;
    var c=(typeof x==='number'&&typeof y==='number')?x-y:String(x).localeCompare(String(y));
    return asc?c:-c;});
  groups.forEach(function(g){table.appendChild(g);});
  history.replaceState(null,'','#sort='+col+(asc?'':'-desc'));}
document.querySelectorAll('table.sortable th').forEach(function(th){th.addEventListener('click',function(){
  sortBy(th.closest('table'),+th.dataset.col,!th.classList.contains('asc'));});});
var m=/^#sort=([0-9]+)(-desc)?$/.exec(location.hash),t=document.getElementById('leaderboard');
if(m&&t)sortBy(t,+m[1],!m[2]);
"""


def leaderboard_page(rows: list[LeaderboardRow], *, title: str = "fabrec-bench leaderboard",
                     figures: list[tuple[str, bytes]] = (), reported: list[ReportedResult] = (),
                     source: str = "", registry: Registry | None = None) -> str:
    """The whole page as a string; nothing in it refers to another file."""
    nonce = secrets.token_urlsafe(16)
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'"
    versions = sorted({r.code_version or "unknown" for row in rows for r in row.runs})
    figure_html = "".join(
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, png in figures)
    measured = _measured_tables(rows, registry) if rows else "<p>No finished runs match.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f"<p>Generated {esc(time.strftime('%Y-%m-%d %H:%M'))} from {esc(source)}; code "
        f"{esc(', '.join(versions) or 'n/a')}. Seeds are averaged within a row; click a column to sort (the link "
        "then keeps the order, e.g. #sort=6-desc), a row's arrow for its runs' config and versions.</p>"
        f"<h2>Measured</h2>{measured}"
        f"{_breakdown(rows, registry)}"
        + (f"<h2>Cumulative error distribution</h2>{figure_html}" if figures else "")
        + _reported_table(list(reported))
        + f'<script nonce="{nonce}">{SCRIPT}</script></body></html>\n'
    )
