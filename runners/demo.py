"""`fabrec-bench demo`: synthetic WFLW -> models -> leaderboard, end to end, in one command."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from fabrec_bench import api
from fabrec_bench.leaderboard import build_rows, compact, render, to_table
from fabrec_bench.plugins import get_registry
from fabrec_bench.store import ResultsStore, store_path
from fabrec_bench_runners.options import console
from fabrec_bench_runners.synth import synth_wflw

DEMO_SPLITS = ("test", "pose", "expression", "illumination", "make-up", "occlusion", "blur")
DEMO_MODELS = ("mean-shape",)


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="demo-out", show_default=True,
              help="Folder for the synthetic data, results and pictures.")
@click.option("--train", type=click.IntRange(min=1), default=300, show_default=True, help="Synthetic training faces.")
@click.option("--test", type=click.IntRange(min=6), default=150, show_default=True, help="Synthetic test faces.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo_command(out, train, test, seed):
    """Generate synthetic WFLW, run the built-in models on every WFLW test split, print the leaderboard."""
    out = Path(out)
    data_root = out / "WFLW"
    work_dir = out / "results"
    marker = data_root / f".synth-{train}-{test}-{seed}"
    if not marker.exists():
        console.rule("1. synthetic WFLW")
        counts = synth_wflw(data_root, train, test, seed)
        marker.touch()
        console.print(f"{counts['train']} train / {counts['test']} test faces in {data_root}")
    registry = get_registry()
    models = [m for m in DEMO_MODELS if m in registry.models]
    console.rule("2. runs")
    for model in models:
        for split in DEMO_SPLITS:
            outcome = api.run_model(model, "wflw", split, work_dir=work_dir, data_root=data_root, seed=seed)
            nme = outcome.evaluation.metrics["nme"] * 100
            console.print(f"fabrec-bench run --model {model} --dataset wflw --split {split}: NME {nme:.2f} %")
    console.rule("3. leaderboard")
    with ResultsStore(store_path(work_dir)) as store:
        rows = build_rows(store.runs(status="finished", dataset="wflw"))
    headers, body, caption = compact(*to_table(rows, registry))
    table = Table(title="WFLW (synthetic) leaderboard", caption=caption)
    for h in headers:
        table.add_column(h)
    for r in body:
        table.add_row(*("–" if c is None else str(c) for c in r))
    console.print(table)
    markdown = out / "leaderboard.md"
    markdown.write_text(render(rows, "markdown", registry) + "\n")
    console.print("wrote:")
    console.print(f"  data           {data_root}")
    console.print(f"  contact sheet  {data_root / 'contact_sheet.png'}")
    console.print(f"  results        {store_path(work_dir)}")
    console.print(f"  leaderboard    {markdown}")


COMMANDS = (demo_command,)
