"""Options and output helpers shared by several commands."""

from __future__ import annotations

import functools
import json

import click
from rich.console import Console
from rich.table import Table

from fabrec_bench.errors import UserError
from fabrec_bench.protocol import AUC_RULES, BOX_SOURCES

console = Console(soft_wrap=True)  # never break paths and messages across lines
err_console = Console(stderr=True)


class ProtocolName(click.ParamType):
    """A registered protocol's name, or `all`: the names are read from the plugins when help is drawn or a value
    is checked, never when the CLI starts. `known_only=False` takes any name (a filter over stored results,
    whose protocol's plugin may be gone)."""

    name = "protocol"

    def __init__(self, known_only: bool = True):
        self.known_only = known_only

    @staticmethod
    def names() -> list[str]:
        from fabrec_bench.plugins import get_registry

        return [p.name for p in get_registry().protocols_in_order()] + ["all"]

    def get_metavar(self, param, ctx=None) -> str:
        return "NAME"  # the names come from the plugins, which --help does not load

    def convert(self, value, param, ctx):
        if self.known_only and value not in self.names():
            self.fail(f"{value!r} is not a registered protocol; choose one of {', '.join(self.names())} "
                      "(`fabrec-bench protocols` lists them)", param, ctx)
        return value


def protocol_options(f):
    """--protocol, then --normaliser, --threshold, --auc-rule, --metric, --box-source to override the standard one."""
    @click.option("--protocol", "protocol_name", type=ProtocolName(), default="standard", show_default=True,
                  help="standard: the dataset's protocol in image coordinates (for comparing models); another "
                       "registered protocol scores as that code or paper does (`fabrec-bench protocols` lists "
                       "them and their rules); all: every protocol with rules for the dataset, side by side.")
    @click.option("--box-source", type=click.Choice(BOX_SOURCES), default=None,
                  help="Face box given to the model: the dataset's (ground-truth, default), the landmarks' extent, "
                       "or a detector's (detector = detector-hog, dlib; detector-haar, OpenCV). Missed faces count "
                       "as failures.")
    @click.option("--normaliser", default=None, help="NME normaliser (inter-ocular, inter-pupil, box, ...).")
    @click.option("--threshold", type=float, default=None, help="FR/AUC threshold as a fraction, e.g. 0.08.")
    @click.option("--auc-rule", type=click.Choice(AUC_RULES), default=None, help="AUC integration rule.")
    @click.option("--metric", "metrics", multiple=True, help="Metrics to compute (repeatable; default nme fr auc).")
    @functools.wraps(f)
    def wrapper(*args, protocol_name, normaliser, threshold, auc_rule, metrics, box_source, **kwargs):
        from fabrec_bench.runs import ProtocolChoice

        overrides = {"normaliser": normaliser, "threshold": threshold, "auc_rule": auc_rule,
                     "metrics": list(metrics) if metrics else None, "box_source": box_source}
        return f(*args, protocol=ProtocolChoice(protocol_name, overrides), **kwargs)

    return wrapper


def metrics_table(title: str, evaluation, registry) -> Table:
    """A rich table of one evaluation's metrics in display units."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in evaluation.metrics.items():
        metric = registry.metric(name)
        shown = value * 100 if metric.percent else value
        table.add_row(metric.label_for(evaluation.protocol), f"{shown:.4f}")
    return table


FR_RULE_TEXT = {"strict": "FR: NME > t", "grid-end": "FR: 1 - CED at grid end", "histogram": "FR: histogram"}


def protocols_table(title: str, evaluations) -> Table:
    """The same predictions under several protocols: one row each, every number with its threshold and the
    rules behind it (`fabrec-bench protocols show NAME` spells them out)."""
    table = Table(title=title, caption_justify="left")
    table.add_column("protocol", no_wrap=True)
    table.add_column("normaliser", no_wrap=True)
    table.add_column("NME %", justify="right", no_wrap=True)
    table.add_column("FR (%) @ t", no_wrap=True)
    table.add_column("AUC @ t", no_wrap=True)  # t: the first FR threshold
    captions = []
    for evaluation in evaluations:
        p, m = evaluation.protocol, evaluation.metrics
        fr = [f"{m[k] * 100:.2f} @{t:g}" for k, t in (("fr", p.threshold), ("fr2", p.second_threshold))
              if k in m and t is not None]
        rules = [f"{p.averaging} mean"]
        if fr:
            rules.append(FR_RULE_TEXT[p.fr_rule])
        if "auc" in m:
            rules.append(f"AUC: {p.auc_rule}")
        if p.frame != "image":
            rules.append(f"scored in {p.frame}")
        table.add_row(p.name, p.normaliser, f"{m['nme'] * 100:.4f}" if "nme" in m else "", "; ".join(fr),
                      f"{m['auc']:.4f}" if "auc" in m else "")
        captions.append(f"{p.name}: {'; '.join(rules)}")
    table.caption = "\n".join([*captions, "numbers compare only within one protocol (fabrec-bench protocols "
                                           "show NAME)"])
    return table


def evaluation_json(evaluation, **extra) -> str:
    """Metrics as plain numbers (fractions), with the protocol that produced them."""
    return json.dumps({
        **extra,
        "faces": len(evaluation.face_ids),
        "metrics": evaluation.metrics,
        "units": "fractions (multiply NME and FR by 100 for percent)",
        "protocol": evaluation.protocol.to_dict(),
    }, indent=2)


def parse_pairs(pairs: tuple[str, ...]) -> dict[str, str]:
    """KEY=VALUE pairs (--config), values as text: each model's option declaration reads them by type."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"option {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        options[key.strip()] = value
    return options


def parse_options(pairs: tuple[str, ...]) -> dict:
    """KEY=VALUE pairs (--dataset-option); values are read as JSON when they parse, else as text."""
    options = {}
    for pair in pairs:
        if "=" not in pair:
            raise UserError(f"option {pair!r}: expected KEY=VALUE")
        key, value = pair.split("=", 1)
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


TEXT_COLUMNS = ("model", "label", "dataset", "split", "boxes", "normaliser", "AUC rule", "protocol", "precision")


def results_table(headers: list[str], body: list[list], title: str, caption: str = "") -> Table:
    """A leaderboard as a rich table that never hides a value on a narrow terminal: names wrap at their spaces
    and headers at theirs (a word is never cut), numbers keep their full width; a table that still does not fit runs
    past the edge instead of dropping columns."""
    from rich.markup import escape

    table = Table(title=escape(title), caption=escape(caption))
    for i, h in enumerate(headers):
        text = h in TEXT_COLUMNS
        cells = ["–" if r[i] is None else str(r[i]) for r in body]
        widest = max([len(w) for c in cells for w in (c.split() if text else [c])] + [len(w) for w in h.split()])
        table.add_column(escape(h), justify="left" if text else "right", min_width=widest)
    for r in body:  # user strings (model names, dataset options) may hold [brackets]: never markup
        table.add_row(*("–" if c is None else escape(str(c)) for c in r))
    return table
