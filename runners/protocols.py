"""`fabrec-bench protocols`: the named evaluation protocols and the rules each one scores by."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from fabrec_bench.errors import UserError
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import PAPER_NORMALISERS, PROTOCOL_DESCRIPTIONS, PROTOCOL_NAMES, named_protocol
from fabrec_bench_runners.options import console

FRAME_TEXT = {"image": "image pixels", "3fabrec-crop": "3FabRec's 256 crop, GT >= 0"}


def _rules(name: str) -> list[dict]:
    """The protocol's rules on every labeled dataset it applies to."""
    out = []
    for adapter in get_registry().datasets.values():
        if not adapter.labeled or (name == "3fabrec-paper" and adapter.name not in PAPER_NORMALISERS):
            continue
        p = named_protocol(name, adapter.name, adapter.protocol)
        out.append({"dataset": adapter.name, "normaliser": p.normaliser, "threshold": p.threshold,
                    "failure": f"NME > {p.threshold:g}", "auc_rule": p.auc_rule, "frame": p.frame,
                    "averaging": "per face", "invisible_points": "masked" if p.mask_invisible
                    else "scored", "box_source": p.box_source})
    return out


def _describe(name: str) -> dict:
    description, source = PROTOCOL_DESCRIPTIONS[name]
    return {"name": name, "description": description, "follows": source, "rules": _rules(name)}


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
    table = Table()
    for column in ("dataset", "normaliser", "failure", "AUC rule", "scored in", "averaging", "invisible points"):
        table.add_column(column)
    for r in doc["rules"]:
        table.add_row(r["dataset"], r["normaliser"], r["failure"], r["auc_rule"], FRAME_TEXT[r["frame"]],
                      r["averaging"], r["invisible_points"])
    console.print(table)


COMMANDS = (protocols_group,)
