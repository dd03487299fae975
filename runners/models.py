"""`fabrec-bench models`: the installed models, and one model's description, options and details."""

from __future__ import annotations

import json

import click
from rich.markup import escape
from rich.table import Table

from fabrec_bench.plugins import get_registry
from fabrec_bench_runners.options import console


@click.group("models", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def models_group(ctx, as_json):
    """List the installed models (or `models info NAME`)."""
    if ctx.invoked_subcommand is not None:
        return
    registry = get_registry()
    if as_json:
        click.echo(json.dumps([m.describe() for m in registry.models.values()], indent=2, default=str))
        return
    table = Table(title="Models")
    for column in ("name", "trains", "checkpoint", "description"):
        table.add_column(column)
    for spec in registry.models.values():
        table.add_row(escape(spec.name), "yes" if spec.needs_training else "no (pretrained)",
                      spec.checkpoint_suffix, escape(spec.description))
    console.print(table)


@models_group.command("info")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def info_command(name, as_json):
    """Show NAME's description, its default config (`--config KEY=VALUE` on run and eval) and details."""
    spec = get_registry().model(name)
    info = {**spec.describe(), "checkpoint_suffix": spec.checkpoint_suffix,
            "pretraining": spec.pretrain is not None, **(spec.details() if spec.details else {})}
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    console.print(f"[bold]{escape(spec.name)}[/]: {escape(spec.description)}")
    console.print(f"trains: {'yes' if spec.needs_training else 'no (pretrained)'}; checkpoints: "
                  f"{spec.checkpoint_suffix}" + ("; shared pretraining in matrices" if spec.pretrain else ""))
    table = Table(title="default config (--config KEY=VALUE)")
    table.add_column("key")
    table.add_column("default")
    for key, value in spec.default_config.items():
        table.add_row(escape(key), escape(json.dumps(value, default=str)))
    console.print(table)
    for key, value in info.items():
        if key in ("name", "description", "needs_training", "default_config", "checkpoint_suffix", "pretraining"):
            continue
        console.print(f"{escape(key)}:")
        _print_nested(value, 1)


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
