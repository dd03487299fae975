"""`fabrec-bench protocols`: the named evaluation protocols and the rules each one scores by."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from fabrec_bench.protocol import Protocol
from fabrec_bench_runners.options import console

FAILURE_TEXT = {"strict": "NME > {t:g}", "grid-end": "1 - CED at the end of the 1e-4 grid to {t:g}",
                "histogram": "SPIGA histogram, edges < {t:g}"}
AUC_TEXT = {"trapezoid": "trapezoid, CED every 1e-4 to {t:g}", "fabrec50": "mean CED at 50 points to {t:g}",
            "simpson": "Simpson (SciPy < 1.11), np.arange(0, {t:g} + 1e-4, 1e-4)",
            "spiga": "Simpson over a 10,000-bin histogram to {t:g}, tail correction", "none": "none"}


def _rules(protocol: Protocol) -> list[dict]:
    """The protocol's rules on every labeled dataset it applies to (and on each split it has a rule of its own
    for), with the code line behind each."""
    from fabrec_bench.plugins import get_registry

    out = []
    frame = protocol.frame.description if protocol.frame else "image pixels"
    for adapter in get_registry().datasets.values():
        if not adapter.labeled or not protocol.applies_to(adapter.name):
            continue
        own = [key.split("/", 1)[1] for key in protocol.datasets if key.startswith(adapter.name + "/")]
        scopes = ([None] if protocol.from_dataset or adapter.name in protocol.datasets else []) + own
        for split in scopes:
            p = protocol.rules_for(adapter, split)
            failure = FAILURE_TEXT[p.fr_rule].format(t=p.threshold) if "fr" in p.metrics else "none"
            if p.second_threshold:
                failure += f"; also NME > {p.second_threshold:g}"
            source = "" if protocol.from_dataset else protocol.rule(adapter.name, split).source
            out.append({"dataset": adapter.name + (f"/{split}" if split else ""), "normaliser": p.normaliser,
                        "threshold": p.threshold, "failure": failure, "fr_rule": p.fr_rule, "auc_rule": p.auc_rule,
                        "auc": AUC_TEXT[p.auc_rule].format(t=p.threshold) if "auc" in p.metrics else "none",
                        "frame": p.frame, "frame_text": frame, "averaging": p.averaging, "metrics": list(p.metrics),
                        "second_threshold": p.second_threshold, "source": source,
                        "invisible_points": "masked" if p.mask_invisible else "scored", "box_source": p.box_source})
    return out


def _auc_text(rule: dict) -> str:
    return "none" if rule["auc"] == "none" else f"{rule['auc_rule']} ({rule['auc']})"


def _describe(protocol: Protocol) -> dict:
    from fabrec_bench.plugins import get_registry

    owner = next((info.name for info in get_registry().plugins if protocol.name in info.registered["protocols"]), "")
    sources = dict(protocol.sources)
    if protocol.frame is not None and protocol.frame.source:
        sources.setdefault("frame", protocol.frame.source)
    return {"name": protocol.name, "description": protocol.summary, "follows": protocol.follows, "plugin": owner,
            "repository": protocol.repository, "commit": protocol.commit, "sources": sources,
            "rules": _rules(protocol), "notes": list(protocol.notes)}


@click.group("protocols", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def protocols_group(ctx, as_json):
    """List the named evaluation protocols (`--protocol NAME` on run, eval and score)."""
    if ctx.invoked_subcommand is not None:
        return
    from fabrec_bench.plugins import get_registry
    docs = [_describe(p) for p in get_registry().protocols_in_order()]
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    table = Table(title="Protocols (--protocol NAME)")
    for column in ("name", "datasets", "what it is", "follows", "plugin"):
        table.add_column(column)
    for doc in docs:
        table.add_row(escape(doc["name"]), ", ".join(r["dataset"] for r in doc["rules"]), escape(doc["description"]),
                      escape(doc["follows"]), escape(doc["plugin"]))
    console.print(table)


@protocols_group.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def show_command(name, as_json):
    """Print NAME's rules on each dataset it applies to, and the code they were read from."""
    from fabrec_bench.plugins import get_registry

    doc = _describe(get_registry().protocol(name))
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    console.print(f"[bold]{name}[/]: {escape(doc['description'])}")
    console.print(f"follows: {escape(doc['follows'])} (registered by the {escape(doc['plugin'])} plugin)")
    if doc["commit"]:
        console.print(f"read from: {escape(doc['repository'])} at commit {doc['commit']}")
    for r in doc["rules"]:
        console.print(f"[bold]{r['dataset']}[/]: normaliser {r['normaliser']}; NME averaged {r['averaging']}; "
                      f"failure: {escape(r['failure'])}; AUC: {escape(_auc_text(r))}; scored in "
                      f"{escape(r['frame_text'])}; invisible points {r['invisible_points']}"
                      + (f"; read from {escape(r['source'])}" if r["source"] else ""))
    for aspect, source in doc["sources"].items():
        console.print(f"{escape(aspect)}: {escape(source)}")
    for note in doc["notes"]:
        console.print(f"- {escape(note)}")


COMMANDS = (protocols_group,)
