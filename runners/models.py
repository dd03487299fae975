"""`fabrec-bench models`: the installed models, and one model's description, options and details."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from fabrec_bench_runners.options import console


@click.group("models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def models_group(ctx, as_json):
    """List the installed models (or `models info NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    from fabrec_bench.plugins import get_registry

    registry = get_registry()
    if as_json:
        click.echo(json.dumps([m.describe() for m in registry.models.values()], indent=2, default=str))
        return
    table = Table(title="Models")
    for column in ("name", "trains", "precisions", "checkpoint", "description"):
        table.add_column(column)
    for spec in registry.models.values():
        table.add_row(escape(spec.name), _trains(spec.capabilities),
                      ", ".join(spec.capabilities.precisions), spec.checkpoint_suffix, escape(spec.description))
    console.print(table)


@models_group.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def info_command(name, as_json):
    """Show NAME's description, what it can do, its options (`--config KEY=VALUE` on run and eval, with types,
    defaults and help) and details."""
    from fabrec_bench.plugins import get_registry

    spec = get_registry().model(name)
    info = {**spec.describe(), "checkpoint_suffix": spec.checkpoint_suffix, **(spec.details() if spec.details else {})}
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    caps = spec.capabilities
    console.print(f"[bold]{escape(spec.name)}[/]: {escape(spec.description)}")
    console.print(f"trains: {_trains(caps)}; inference precisions: "
                  f"{', '.join(caps.precisions)}; face crops: {caps.crop_rule or 'none'}; checkpoints: "
                  f"{spec.checkpoint_suffix}" + ("; shared pretraining in matrices" if caps.pretraining else ""))
    console.print(_options_table("options (--config KEY=VALUE)", info["options"]))
    if caps.pretraining:
        console.print(_options_table("pretraining options ([[matrix.pretrain]] config)", info["pretrain_options"]))
    for key, value in info.items():
        if key in ("name", "description", "capabilities", "options", "default_config", "pretrain_options",
                   "checkpoint_suffix"):
            continue
        console.print(f"{escape(key)}:")
        _print_nested(value, 1)


def _trains(caps) -> str:
    if caps.needs_checkpoint:
        return "no (evaluates --checkpoint FILE)"
    return "yes" if caps.needs_training else "no (pretrained)"


def _options_table(title: str, options: list[dict]) -> Table | str:
    if not options:
        return f"{title}: none"
    table = Table(title=title)
    for column in ("key", "type", "default", "what it does"):
        table.add_column(column)
    for o in options:
        allowed = f" ({', '.join(map(str, o['choices']))})" if o["choices"] else ""
        note = "" if o["changes_results"] else " [does not change results]"
        table.add_row(escape(o["name"]), o["type"], escape(json.dumps(o["default"], default=str)),
                      escape(o["help"] + allowed + note))
    return table


def _print_nested(value, depth: int) -> None:
    pad = "  " * depth
    if isinstance(value, dict):
        for key, inner in value.items():
            if isinstance(inner, dict):
                console.print(f"{pad}{escape(str(key))}:")
                _print_nested(inner, depth + 1)
            else:
                shown = f"{inner:,}" if isinstance(inner, int) else str(inner)
                console.print(f"{pad}{escape(str(key))}: {escape(shown)}")
    else:
        console.print(f"{pad}{escape(str(value))}")


COMMANDS = (models_group,)
