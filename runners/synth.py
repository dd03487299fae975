"""`fabrec-bench synth`: write synthetic faces in an official dataset layout."""

from __future__ import annotations

from pathlib import Path

import click
from rich.progress import Progress

from fabrec_bench.schemes import WFLW98
from fabrec_bench.synth.sheet import contact_sheet
from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_runners.options import console


def synth_wflw(out: Path, train: int, test: int, seed: int, sheet: bool = True) -> dict[str, int]:
    """Generate the synthetic WFLW tree with a progress bar; optionally write a contact sheet beside it."""
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("drawing synthetic faces", total=train + test)
        counts = write_wflw(out, train, test, seed, progress=lambda n: progress.advance(task, n))
    if sheet:
        faces = WFLWDataset().load_split(out, "test").samples[:32]
        counts["contact_sheet"] = str(contact_sheet(faces, WFLW98.groups, out / "contact_sheet.png"))
    return counts


@click.group("synth")
def synth_group():
    """Generate synthetic faces in an official dataset layout."""


@synth_group.command("wflw")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True, help="Folder for the WFLW tree.")
@click.option("--train", type=click.IntRange(min=0), default=200, show_default=True, help="Training faces.")
@click.option("--test", type=click.IntRange(min=6), default=100, show_default=True, help="Test faces.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed; the same seed gives the same files.")
@click.option("--contact-sheet/--no-contact-sheet", default=True, show_default=True,
              help="Also write contact_sheet.png (test faces with their landmarks).")
def synth_wflw_command(out, train, test, seed, contact_sheet):
    """Write synthetic faces as WFLW_images/ and WFLW_annotations/ (the official release layout)."""
    counts = synth_wflw(Path(out), train, test, seed, sheet=contact_sheet)
    console.print(f"wrote {counts['train']} train and {counts['test']} test faces to {out}")
    console.print("test subsets: " + ", ".join(f"{k} {counts[k]}" for k in
                                                ("pose", "expression", "illumination", "make-up", "occlusion", "blur")))
    if "contact_sheet" in counts:
        console.print(f"contact sheet: {counts['contact_sheet']}")
    console.print(f"use it with: --data-root {out}  (or export FABREC_BENCH_WFLW_ROOT={out})")


COMMANDS = (synth_group,)
