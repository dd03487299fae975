"""The leaderboard as one self-contained HTML page: first the table a paper prints (per dataset, one line per
model and training size: the main split's NME, FR and AUC, then each subset's NME); then every row, sortable,
each opening to its worst faces (embedded JPEG thumbnails) and its runs' config, code and library versions;
CED plots embedded as PNG data; and the published results beside them, marked as reported.

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

from fabrec_bench.plugins import Registry
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


def _measured_tables(rows: list[LeaderboardRow], registry: Registry | None, galleries: dict) -> str:
    """One sortable table per protocol (the first keeps the id `leaderboard` that #sort= links address)."""
    groups = protocol_groups(rows, registry)
    if len(groups) == 1:
        return _measured_table(rows, registry, 0, galleries)
    return "".join(f"<h3>{esc(title)}</h3>{_measured_table(members, registry, i, galleries)}"
                   for i, (title, members) in enumerate(groups))


def _gallery(gallery) -> str:
    """A row's worst faces as embedded JPEG thumbnails (or why there are none)."""
    if gallery is None:
        return ""
    if isinstance(gallery, str):
        return f'<p class="gallery">no faces to show: {esc(gallery)}</p>'
    caption, thumbnails = gallery
    images = "".join(f'<img alt="{esc(alt)}" title="{esc(alt)}" src="data:image/jpeg;base64,'
                     f'{base64.b64encode(jpeg).decode()}">' for alt, jpeg in thumbnails)
    return f'<div class="gallery"><p>{esc(caption)}</p>{images}</div>'


def _measured_table(rows: list[LeaderboardRow], registry: Registry | None, index: int = 0,
                    galleries: dict | None = None) -> str:
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
        gallery = _gallery((galleries or {}).get(id(row)))
        groups.append(f'<tbody class="group"><tr class="row">{"".join(tds)}</tr>'
                      f'<tr class="details" hidden><td colspan="{len(headers)}">{gallery}<pre>{details}</pre></td>'
                      "</tr></tbody>")
    table_id = "leaderboard" if index == 0 else f"leaderboard-{index + 1}"
    return (f'<table id="{table_id}" class="sortable"><thead><tr>{head}</tr></thead>{"".join(groups)}</table>')


def _reported_table(reported: list[ReportedResult]) -> str:
    if not reported:
        return ""
    body = "".join(
        f"<tr><td>{esc(r.model)}</td><td>{esc(r.dataset)}</td><td>{esc(r.split)}</td><td>{esc(r.metric)}</td>"
        f'<td class="num">{r.value:g}</td><td>{esc(r.normaliser or "")}</td><td>{esc(r.protocol or "")}</td>'
        f'<td>{esc("" if r.train_count is None else r.train_count)}</td><td>{esc(r.paper)}</td>'
        f"<td>{esc(r.where)}</td></tr>" for r in reported)
    return ('<details id="reported-long"><summary><h2>Reported in papers, number by number '
            '<span class="tag">not measured here</span></h2></summary>'
            "<p>Numbers as published, for orientation; they come from other code, data and boxes and are never "
            "ranked or averaged with the measured rows above.</p>"
            '<table id="reported"><thead><tr><th>model</th><th>dataset</th><th>split</th><th>metric</th>'
            "<th>value</th><th>normaliser</th><th>protocol</th><th>train N</th><th>paper</th><th>where</th></tr></thead>"
            f"<tbody>{body}</tbody></table></details>")


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
#reported td:nth-child(9),#reported td:nth-child(10){min-width:12em}
table{max-width:100%}#reported td{overflow-wrap:anywhere}
details>summary{cursor:pointer}details>summary h2{display:inline}
table.paper th{cursor:default;white-space:normal}
table.paper tr.published td{background:#fffbeb}table.paper tr.published td:first-child{font-style:italic}
ol.notes{font-size:.85em;margin-top:-1em;padding-left:1.5em}
p.hint{background:#eef6ff;padding:.4em .8em;border-left:3px solid #60a5fa}
figure{display:inline-block;margin:0 1em 1em 0}figure img{max-width:560px}
table.paper td:first-child{white-space:nowrap}
.gallery img{margin:0 2px 2px 0;vertical-align:top}.gallery p{margin:.2em 0;font-size:.85em}
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
                     source: str = "", registry: Registry | None = None, galleries: dict | None = None,
                     paper_tables: list | None = None, note: str = "") -> str:
    """The whole page as a string; nothing in it refers to another file. `galleries` maps id(row) to (caption,
    [(alt, JPEG bytes)]) or to a reason there is none (`row_galleries`); `paper_tables`
    (fabrec_bench.reports.paper) come first, measured and published rows together; `note`: a line above them."""
    from fabrec_bench.reports import paper

    if paper_tables is None:
        paper_tables = paper.build_paper_tables(rows, list(reported), registry)
    # tables holding measured rows first; those of published numbers alone after the measured rows' details
    with_runs = [t for t in paper_tables if any(not r.published for r in t.rows)]
    published_only = [t for t in paper_tables if t not in with_runs]
    nonce = secrets.token_urlsafe(16)
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'"
    versions = sorted({r.code_version or "unknown" for row in rows for r in row.runs})
    figure_html = "".join(
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>" for caption, png in figures)
    measured = _measured_tables(rows, registry, galleries or {}) if rows else "<p>No finished runs match.</p>"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f"<p>Generated {esc(time.strftime('%Y-%m-%d %H:%M'))} from {esc(source)}; code "
        f"{esc(', '.join(versions) or 'n/a')}. Seeds are averaged within a row; click a column to sort (the link "
        "then keeps the order, e.g. #sort=6-desc), a row's arrow for its worst faces and its runs' config and "
        "versions.</p>"
        + (f'<p class="hint">{esc(note)}</p>' if note else "")
        + (f"<h2>Results, as a paper prints them</h2><p>Measured rows first; published rows in italics, marked "
           f"{paper.PUBLISHED_MARK} with their source below each table, never ranked with or averaged into the "
           f"measured ones. The best value of each column is bold.</p>"
           + "".join(paper.to_html(t) for t in with_runs) if with_runs else "")
        + (f"<h2>Every row, with its runs</h2>{measured}" if rows or not paper_tables else "")
        + (f"<h2>{'What the field reports' if not rows else 'The field under the other protocols'}</h2>"
           + "".join(paper.to_html(t) for t in published_only) if published_only else "")
        + (f"<h2>Cumulative error distribution</h2>{figure_html}" if figures else "")
        + _reported_table(list(reported))
        + f'<script nonce="{nonce}">{SCRIPT}</script></body></html>\n'
    )
