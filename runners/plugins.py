"""`fabrec-bench plugins`: what is installed, what each plugin registers, and what failed to load."""

from __future__ import annotations

import json

import click
from rich.table import Table

from fabrec_bench_runners.options import console


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def plugins_command(as_json):
    """List plugins with the datasets (splits, landmark counts), models and metrics they register."""
    from fabrec_bench.plugins import get_registry

    registry = get_registry()
    if as_json:
        click.echo(json.dumps({
            "plugins": [p.to_dict() for p in registry.plugins],
            "datasets": [d.describe() for d in registry.datasets.values()],
            "models": [m.describe() for m in registry.models.values()],
            "metrics": [{"name": m.name, "description": m.description} for m in registry.metrics.values()],
            "normalisers": [{"name": n.name, "description": n.description} for n in registry.normalisers.values()],
        }, indent=2))
        return
    table = Table(title="Plugins")
    for column in ("plugin", "package", "registers", "errors"):
        table.add_column(column)
    for p in registry.plugins:
        parts = []
        for name in p.registered["datasets"]:
            d = registry.datasets[name]
            parts.append(f"dataset {name} ({d.scheme.num_points} pts; splits {', '.join(s.name for s in d.splits)})")
        parts += [f"model {n}" for n in p.registered["models"]]
        if p.registered["metrics"]:
            parts.append("metrics " + ", ".join(p.registered["metrics"]))
        if p.registered["normalisers"]:
            parts.append("normalisers " + ", ".join(p.registered["normalisers"]))
        package = f"{p.package} {p.version}".strip() + (" (built-in)" if p.builtin else "")
        table.add_row(p.name, package, "\n".join(parts) or "–", "\n".join(f"[red]{e}[/]" for e in p.errors) or "–")
    console.print(table)


COMMANDS = (plugins_command,)
