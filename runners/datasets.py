"""`fabrec-bench datasets`: list datasets, show one, export its ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from fabrec_bench_runners.options import console, parse_options


@click.group("datasets", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@click.pass_context
def datasets_group(ctx, as_json):
    """List the installed datasets (or use a subcommand: info, export)."""
    if ctx.invoked_subcommand is not None:
        return
    from fabrec_bench.plugins import get_registry

    registry = get_registry()
    if as_json:
        click.echo(json.dumps([d.describe() for d in registry.datasets.values()], indent=2))
        return
    table = Table(title="Datasets")
    for column in ("name", "points", "splits", "root variable", "description"):
        table.add_column(column)
    for adapter in registry.datasets.values():
        d = adapter.describe()
        table.add_row(adapter.name, str(adapter.scheme.num_points), ", ".join(s.name for s in adapter.splits),
                      d["root_env_var"], adapter.description)
    console.print(table)


@datasets_group.command("info")
@click.argument("name")
@click.option("--data-root", type=click.Path(), default=None, help="Dataset root folder.")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def info_command(name, data_root, as_json):
    """Show NAME's landmark scheme, options, splits and (if its root is set) the faces found in each split.

    A partly downloaded root (VGGFace2's train half only, say) lists per split what is there and what is
    missing. With --data-root, a root that cannot be read at all is an error (exit status 1) after the
    description."""
    from fabrec_bench.errors import DatasetError
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.roots import resolve_root

    registry = get_registry()
    adapter = registry.dataset(name)
    info = adapter.describe()
    try:
        root, origin = resolve_root(name, data_root)
        adapter.check_root(root, origin)
        info["root"], info["root_from"] = str(root), origin
    except DatasetError as e:
        info["root_error"] = str(e)
    if "root" in info:
        for split in info["splits"]:
            try:
                loaded = adapter.load_split(root, split["name"])
            except DatasetError as e:  # this split's files are not there (or not readable): the others are read
                split["missing"] = str(e)
                continue
            split["faces"] = len(loaded)
            split["images"] = len({s.image_path for s in loaded.samples})
            split["source"] = loaded.source
    failed = data_root is not None and "root_error" in info  # the root asked for is unusable
    if as_json:
        click.echo(json.dumps(info, indent=2))
        if failed:
            raise SystemExit(1)
        return
    console.print(f"[bold]{name}[/]: {adapter.description}")
    console.print(f"landmarks: {adapter.scheme.num_points} ({adapter.scheme.name}) — {adapter.scheme.description}")
    console.print(f"protocol: {json.dumps(info['protocol'])}")
    if info["options"]:
        console.print("options (--dataset-option KEY=VALUE, or [datasets.NAME] in fabrec-bench.toml): "
                      + ", ".join(f"{k}={json.dumps(v)}" for k, v in info["options"].items()), markup=False)
    console.print(f"root: {info.get('root', '(not found)')}" + (f" (from {info['root_from']})" if "root_from" in info else ""))
    if "root_error" in info:
        console.print(f"[yellow]{info['root_error']}[/]")
    table = Table()
    for column in ("split", "role", "faces", "images", "official size", "description"):
        table.add_column(column)
    for split in info["splits"]:
        faces = "missing" if "missing" in split else str(split.get("faces", "–"))
        table.add_row(split["name"], split["role"], faces, str(split.get("images", "–")),
                      str(split["official_size"] or "–"), split["description"])
    console.print(table)
    for split in info["splits"]:
        if "missing" in split:
            console.print(f"{split['name']}: {split['missing']}", markup=False, highlight=False)
    if failed:
        raise SystemExit(1)


@datasets_group.command("export")
@click.argument("name")
@click.option("--split", "-s", required=True, help="Split to export.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), required=True, help="CSV file to write.")
@click.option("--data-root", type=click.Path(), default=None, help="Dataset root folder.")
def export_command(name, split, out, data_root):
    """Write NAME/SPLIT's ground truth as CSV: id,image,x0,y0,... in original-image pixels."""
    from fabrec_bench import api
    from fabrec_bench.predictions import write_landmarks_csv

    data = api.load_split(name, split, data_root=data_root)
    write_landmarks_csv(Path(out), data.ids, [str(s.image_path) for s in data.samples], data.landmarks())
    console.print(f"wrote {len(data)} faces of {name}/{split} to {out}")


@datasets_group.command("check")
@click.argument("name")
@click.option("--data-root", type=click.Path(), default=None, help="Dataset root folder.")
@click.option("--dataset-option", "options", multiple=True, metavar="KEY=VALUE", help="Adapter option.")
@click.option("--no-images", is_flag=True, help="Do not decode the images (only check that they exist).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(name, data_root, options, no_images, as_json):
    """Walk NAME's whole tree: report every missing or unreadable image and malformed annotation, with counts.

    Exits with 1 when it finds problems, 0 when the dataset is clean.
    """
    from rich.progress import Progress

    from fabrec_bench import api
    from fabrec_bench.check import check_dataset
    from fabrec_bench.roots import resolve_root

    adapter = api.get_adapter(name, parse_options(options))
    root, _ = resolve_root(name, data_root)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("decoding images", total=None)
        report = check_dataset(adapter, root, images=not no_images,
                               progress=lambda done, total: progress.update(task, completed=done, total=total))
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console.print(f"[bold]{name}[/] at {root}: " + ", ".join(f"{k} {v}" for k, v in report.faces.items()))
        console.print(f"images decoded: {report.images_checked}")
        if report.problems:
            table = Table(title=f"{len(report.problems)} problem(s)")
            table.add_column("kind")
            table.add_column("count", justify="right")
            for kind, count in sorted(report.counts().items()):
                table.add_row(kind, str(count))
            console.print(table)
            for p in report.problems:
                console.print(f"{p.kind}: {p.message}", markup=False, highlight=False, soft_wrap=True)
        else:
            console.print("[green]no problems found[/]")
    if report.problems:
        raise SystemExit(1)


COMMANDS = (datasets_group,)
