"""Leaderboards: finished runs grouped into one row per configuration x dataset x split x training size x
protocol.

A configuration is a model with its label and the options that change its results (fabrec_bench.options:
`configuration`); two configurations are never one row. Runs that differ only in seed are averaged; the row
says which seeds it holds. Where one model name covers several configurations, each row's name says which
(its label, else its options). Metric columns are shown in the unit their metric declares (NME and FR in
percent, AUC as a fraction).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from fabrec_bench.choices import LEADERBOARD_FORMATS
from fabrec_bench.options import configuration
from fabrec_bench.plugins import Registry, get_registry
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.store import RunRecord

FORMATS = LEADERBOARD_FORMATS


@dataclass
class LeaderboardRow:
    model: str
    dataset: str
    split: str
    train_count: int | None
    protocol: EvalProtocol
    n_faces: int | None
    seeds: list[int | None]
    metrics: dict[str, float]  # mean over seeds, fractions
    metrics_std: dict[str, float]
    kind: str
    runs: list[RunRecord] = field(default_factory=list, repr=False)  # the runs averaged into this row
    precision: str | None = None  # the inference precision that produced the predictions (None: not recorded)
    label: str | None = None  # the configuration's label, if it was given one
    options: dict = field(default_factory=dict)  # the model options that set this configuration apart


# -- labels: one way to name a model, a row and a run in tables, pages and plots ----------------------------


def model_name(run: RunRecord) -> str:
    """A run's model with the variant the model describes (e.g. `3fabrec (scratch, smoke budget)`)."""
    variant = run.model_info.get("variant")
    return f"{run.model} ({variant})" if variant else run.model


def _with_size_and_precision(name: str, train_count: int | None, precision: str | None) -> str:
    label = name + ("" if train_count is None else f", N={train_count}")
    return label + (f", {precision}" if precision not in (None, "fp32") else "")


def row_label(row: LeaderboardRow) -> str:
    """A leaderboard row in a plot legend or a breakdown: model, training size, non-default precision."""
    return _with_size_and_precision(row.model, row.train_count, row.precision)


def run_label(run: RunRecord) -> str:
    """One stored run, labelled as its leaderboard row would be."""
    return _with_size_and_precision(model_name(run), run.train_count, run.model_info.get("precision"))


def protocol_label(protocol: EvalProtocol) -> str:
    """The normaliser, with the protocol's name when it is not the standard one: what a plot or a breakdown
    groups by, so numbers of different protocols never share a curve or a line."""
    return protocol.normaliser if protocol.name == "standard" else f"{protocol.normaliser}, {protocol.name}"


def _non_default_options(run: RunRecord, registry: Registry | None) -> dict:
    """The dataset options a run used that differ from the adapter's defaults (all of them if the dataset's
    plugin is not installed here)."""
    options = run.dataset_options or {}
    try:
        adapter = (registry or get_registry()).dataset(run.dataset)
    except Exception:  # a dataset whose plugin is gone: show everything it recorded
        return dict(options)
    options = adapter.canonical_options(options)  # runs made under a former option name group with new ones
    return {k: v for k, v in options.items() if adapter.option_defaults.get(k, object()) != v}


def _configuration(run: RunRecord, registry: Registry | None) -> dict:
    """The model options that set the run's configuration apart (all it recorded if the model is gone)."""
    try:
        spec = (registry or get_registry()).model(run.model)
    except Exception:
        return dict(run.model_options)
    return configuration(spec.options, run.model_options)


def _selection(run: RunRecord) -> str | None:
    return (run.train_selection or "random") if run.train_count is not None else None


def build_rows(runs: list[RunRecord], registry: Registry | None = None) -> list[LeaderboardRow]:
    """Group finished runs into rows (one per configuration, data, protocol and precision; seeds averaged);
    rows are sorted by dataset, split, then NME (best first)."""
    groups: dict[tuple, list[RunRecord]] = defaultdict(list)
    for run in runs:
        # A model's own description of what sets this run apart (e.g. 3FabRec from scratch) joins its name.
        name = model_name(run)
        options = json.dumps(_configuration(run, registry), sort_keys=True)
        # Dataset options change the data (e.g. 300-W's annotation_boxes), so they split rows and are shown.
        data_options = _non_default_options(run, registry)
        dataset = run.dataset + (f" [{', '.join(f'{k}={v}' for k, v in sorted(data_options.items()))}]"
                                 if data_options else "")
        # Stored protocols are read through EvalProtocol, so runs stored before a field existed group with
        # new runs under its default. Inference precision changes predictions: rows split on it too.
        protocol = json.dumps(EvalProtocol.from_dict(run.protocol).to_dict(), sort_keys=True)
        key = (name, run.label, options, dataset, run.split, run.train_count, _selection(run), protocol, run.kind,
               run.model_info.get("precision"))
        groups[key].append(run)
    configurations = defaultdict(set)  # model name -> the configurations under it
    for name, label, options, *_ in groups:
        configurations[name].add((label, options))
    rows = []
    for (name, label, options, dataset, split, train_count, _, protocol_json, kind, precision), members in groups.items():
        names = sorted({n for r in members for n in r.metrics})
        values = {n: np.array([r.metrics.get(n, math.nan) for r in members], dtype=float) for n in names}
        rows.append(
            LeaderboardRow(
                model=_qualified(name, label, json.loads(options), len(configurations[name]) > 1),
                dataset=dataset, split=split, train_count=train_count,
                protocol=EvalProtocol.from_dict(json.loads(protocol_json)), n_faces=members[-1].n_faces,
                seeds=[r.seed for r in members],
                metrics={n: float(np.nanmean(v)) if np.isfinite(v).any() else math.nan for n, v in values.items()},
                metrics_std={n: float(np.nanstd(v)) if np.isfinite(v).any() else math.nan for n, v in values.items()},
                kind=kind, runs=members, precision=precision, label=label, options=json.loads(options),
            )
        )
    rows.sort(key=lambda r: (r.dataset, r.split, r.protocol.name, r.protocol.normaliser,
                             r.metrics.get("nme", math.inf), r.model))
    return rows


def boxes_cell(row: LeaderboardRow) -> str:
    """What set each face's crop in the row's runs (as each run recorded it), else the protocol's box source
    (runs stored before crops were recorded)."""
    rules = sorted({r.provenance.get("crop_rule") for r in row.runs if r.provenance.get("crop_rule")})
    return "; ".join(rules) if rules else row.protocol.box_source


def _qualified(name: str, label: str | None, options: dict, ambiguous: bool) -> str:
    """A row's model name; where one name covers several configurations, with what sets this one apart."""
    if not ambiguous:
        return name
    if label:
        return f"{name} [{label}]"
    shown = ", ".join(f"{k}={v}" for k, v in sorted(options.items())) or "default options"
    return f"{name} {{{shown}}}"


def to_table(rows: list[LeaderboardRow], registry: Registry | None = None, *, with_label: bool | None = None
             ) -> tuple[list[str], list[list]]:
    """Column headers and display rows (strings and numbers) shared by every output format. The label column
    is there when `with_label`, or (None) when some row has a label."""
    registry = registry or get_registry()
    metric_names: list[str] = []
    for row in rows:
        for name in row.protocol.metrics:
            if name not in metric_names:
                metric_names.append(name)
    if with_label is None:
        with_label = any(row.label for row in rows)
    headers = ["model", *(["label"] if with_label else []), "dataset", "split", "train N", "faces", "boxes",
               "normaliser"]
    thresholds = {(r.protocol.threshold, r.protocol.second_threshold) for r in rows}
    shared = None
    if len(thresholds) == 1:
        threshold, second = next(iter(thresholds))
        shared = EvalProtocol(threshold=threshold, second_threshold=second)
    metrics = {name: registry.metrics.get(name) for name in metric_names}
    for name, metric in metrics.items():
        if metric is None:  # stored by a plugin that is no longer installed
            headers.append(name)
        elif shared is not None:
            headers.append(metric.label_for(shared))
        else:
            headers.append(f"{name.upper()}@t" + (" (%)" if metric.percent else ""))
    # The protocol's name and the inference precision: rows of different protocols or precisions are never
    # one row, and these columns say which is which.
    headers += ["threshold", "AUC rule", "seeds", "protocol", "precision"]
    body = []
    for row in rows:
        cells = [
            row.model + (" (scored)" if row.kind == "score" else ""), *([row.label] if with_label else []),
            row.dataset, row.split,
            row.train_count if row.train_count is not None else ("all" if _trained(row) else None),
            row.n_faces, boxes_cell(row), row.protocol.normaliser,
        ]
        for name in metric_names:
            value = row.metrics.get(name, math.nan)
            metric = metrics[name]
            scale = 100.0 if (metric is None or metric.percent) else 1.0
            cells.append(None if math.isnan(value) else round(value * scale, 4 if scale == 1.0 else 2))
        cells += [row.protocol.threshold, row.protocol.auc_rule, len(row.seeds), row.protocol.name, row.precision]
        body.append(cells)
    return headers, body


def _trained(row: LeaderboardRow) -> bool:
    """Whether the row's model was trained here (pretrained models and scored files show no training size)."""
    return any(r.train_split for r in row.runs) if row.runs else True


def compact(headers: list[str], body: list[list], keep: tuple[str, ...] = ("model", "split")) -> tuple[list[str], list[list], str]:
    """Drop columns whose value is the same in every row (for narrow terminals); they go into a caption."""
    if len(body) < 2:
        keep_idx = [i for i, h in enumerate(headers) if h in keep or "(" in h or "@" in h]
    else:
        keep_idx = [i for i, h in enumerate(headers) if h in keep or len({str(r[i]) for r in body}) > 1
                    or "(" in h or "@" in h]
    dropped = [i for i in range(len(headers)) if i not in keep_idx]
    caption = ", ".join(f"{headers[i]}: {'–' if body[0][i] is None else body[0][i]}" for i in dropped) if body else ""
    return [headers[i] for i in keep_idx], [[r[i] for i in keep_idx] for r in body], caption


def named_protocol_title(name: str, box_source: str = "ground-truth") -> str:
    """A named protocol's table title: its name, a box source other than the dataset's, where its rules are."""
    boxes = f", boxes {box_source}" if box_source != "ground-truth" else ""
    return f"protocol {name}{boxes} (rules: fabrec-bench protocols show {name})"


def protocol_groups(rows: list[LeaderboardRow], registry: Registry | None = None
                    ) -> list[tuple[str, list[LeaderboardRow]]]:
    """Rows grouped by the protocol that scored them (every rule but the choice of metrics), each with a title;
    tables show one group each, so a column never holds numbers of two protocols."""
    groups: dict[str, list[LeaderboardRow]] = {}
    titles: dict[str, str] = {}
    for row in rows:
        p = row.protocol
        if p.name != "standard":  # a named protocol fixes its rules per dataset (box source aside)
            key = json.dumps([p.name, p.box_source])
            titles[key] = named_protocol_title(p.name, p.box_source)
        else:  # standard with options: each set of options is a protocol of its own
            key = json.dumps({k: v for k, v in p.to_dict().items() if k != "metrics"}, sort_keys=True)
            titles[key] = (f"protocol standard ({p.normaliser}, threshold {p.threshold:g}, AUC {p.auc_rule}, "
                           f"boxes {p.box_source})")
        groups.setdefault(key, []).append(row)
    order = {p.name: i for i, p in enumerate((registry or get_registry()).protocols_in_order())}
    keys = sorted(groups, key=lambda k: (order.get(groups[k][0].protocol.name, len(order)), titles[k]))
    return [(titles[k], groups[k]) for k in keys]


def render(rows: list[LeaderboardRow], fmt: str, registry: Registry | None = None) -> str:
    """The leaderboard as Markdown, CSV, JSON or LaTeX text (the terminal table is drawn by the CLI with rich).
    Markdown and LaTeX get one table per protocol; CSV and JSON records each carry their protocol."""
    groups = protocol_groups(rows, registry)
    if fmt in ("markdown", "latex") and len(groups) > 1:
        parts = []
        for title, members in groups:
            text = render(members, fmt, registry)
            parts.append(f"**{title}**\n\n{text}" if fmt == "markdown" else f"% {title}\n{text}")
        return "\n\n".join(parts)
    headers, body = to_table(rows, registry, with_label=True if fmt in ("csv", "json") else None)
    if fmt == "markdown":
        from tabulate import tabulate

        return tabulate(body, headers=headers, tablefmt="github", floatfmt="g", missingval="–")
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if c is None else c for c in r] for r in body])
        return out.getvalue()
    if fmt == "json":
        return json.dumps([dict(zip(headers, r, strict=True)) for r in body], indent=2)
    if fmt == "latex":
        return latex_table(headers, body)
    raise ValueError(f"unknown leaderboard format {fmt!r}")


_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters in a user-supplied string (model names, splits)."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def latex_table(headers: list[str], body: list[list]) -> str:
    """A booktabs tabular, numbers right-aligned: what papers paste."""
    numeric = [all(isinstance(r[i], (int, float)) or r[i] is None for r in body) for i in range(len(headers))]
    spec = "".join("r" if n else "l" for n in numeric)
    lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
             " & ".join(latex_escape(h) for h in headers) + r" \\", r"\midrule"]
    for row in body:
        cells = ["--" if c is None else latex_escape(c) for c in row]
        lines.append(" & ".join(cells) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines) + "\n"
