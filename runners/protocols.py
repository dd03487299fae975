"""`fabrec-bench protocols`: the named evaluation protocols and the rules each one scores by."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from fabrec_bench.errors import UserError
from fabrec_bench.field_protocols import FIELD_PROTOCOLS
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import PROTOCOL_DESCRIPTIONS, PROTOCOL_NAMES, named_protocol, protocol_applies
from fabrec_bench_runners.options import console

FRAME_TEXT = {"image": "image pixels", "3fabrec-crop": "3FabRec's 256 crop, GT >= 0"}


FAILURE_TEXT = {"strict": "NME > {t:g}", "grid-end": "1 - CED at the end of the 1e-4 grid to {t:g}",
                "histogram": "SPIGA histogram, edges < {t:g}"}
AUC_TEXT = {"trapezoid": "trapezoid, CED every 1e-4 to {t:g}", "fabrec50": "mean CED at 50 points to {t:g}",
            "simpson": "Simpson (SciPy < 1.11), np.arange(0, {t:g} + 1e-4, 1e-4)",
            "spiga": "Simpson over a 10,000-bin histogram to {t:g}, tail correction", "none": "none"}


def _rules(name: str) -> list[dict]:
    """The protocol's rules on every labeled dataset it applies to."""
    out = []
    for adapter in get_registry().datasets.values():
        if not adapter.labeled or not protocol_applies(name, adapter.name):
            continue
        p = named_protocol(name, adapter.name, adapter.protocol)
        failure = FAILURE_TEXT[p.fr_rule].format(t=p.threshold) if "fr" in p.metrics else "none"
        if p.second_threshold:
            failure += f"; also NME > {p.second_threshold:g}"
        out.append({"dataset": adapter.name, "normaliser": p.normaliser, "threshold": p.threshold,
                    "failure": failure, "fr_rule": p.fr_rule, "auc_rule": p.auc_rule,
                    "auc": AUC_TEXT[p.auc_rule].format(t=p.threshold) if "auc" in p.metrics else "none",
                    "frame": p.frame, "averaging": p.averaging, "metrics": list(p.metrics),
                    "second_threshold": p.second_threshold,
                    "invisible_points": "masked" if p.mask_invisible else "scored", "box_source": p.box_source})
    return out


def _auc_text(rule: dict) -> str:
    return "none" if rule["auc"] == "none" else f"{rule['auc_rule']} ({rule['auc']})"


def _describe(name: str) -> dict:
    description, source = PROTOCOL_DESCRIPTIONS[name]
    notes = list(FIELD_PROTOCOLS[name].notes) if name in FIELD_PROTOCOLS else []
    return {"name": name, "description": description, "follows": source, "rules": _rules(name), "notes": notes}


@click.group("protocols", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def protocols_group(ctx, as_json):
    """List the named evaluation protocols (`--protocol NAME` on run, eval and score)."""
    if ctx.invoked_subcommand is not None:
        return
    docs = [_describe(name) for name in PROTOCOL_NAMES]
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    table = Table(title="Protocols (--protocol NAME)")
    for column in ("name", "datasets", "what it is", "follows"):
        table.add_column(column)
    for doc in docs:
        table.add_row(doc["name"], ", ".join(r["dataset"] for r in doc["rules"]), escape(doc["description"]),
                      escape(doc["follows"]))
    console.print(table)


@protocols_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_command(name, as_json):
    """Print NAME's rules on each dataset it applies to."""
    if name not in PROTOCOL_NAMES:
        raise UserError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOL_NAMES)}")
    doc = _describe(name)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    console.print(f"[bold]{name}[/]: {escape(doc['description'])}")
    console.print(f"follows: {escape(doc['follows'])}")
    for r in doc["rules"]:
        console.print(f"[bold]{r['dataset']}[/]: normaliser {r['normaliser']}; NME averaged {r['averaging']}; "
                      f"failure: {escape(r['failure'])}; AUC: {escape(_auc_text(r))}; scored in "
                      f"{FRAME_TEXT[r['frame']]}; invisible points {r['invisible_points']}")
    for note in doc["notes"]:
        console.print(f"- {escape(note)}")


COMMANDS = (protocols_group,)
