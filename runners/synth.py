"""`fabrec-bench synth`: write synthetic faces in an official dataset layout."""

from __future__ import annotations

from pathlib import Path

import click

from fabrec_bench_runners.options import console

# The face renderer (OpenCV) is imported by the commands that draw, so other commands start without it.


def synth_wflw(out: Path, train: int, test: int, seed: int, sheet: bool = True) -> dict[str, int]:
    """Generate the synthetic WFLW tree with a progress bar; optionally write a contact sheet beside it."""
    from rich.progress import Progress

    from fabrec_bench.schemes import WFLW98
    from fabrec_bench.synth.sheet import contact_sheet
    from fabrec_bench.synth.wflw import write_wflw
    from fabrec_bench_plugins.datasets.wflw import WFLWDataset

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


def _with_progress(total: int, write):
    from rich.progress import Progress

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("drawing synthetic faces", total=total)
        return write(lambda n: progress.advance(task, n))


@synth_group.command("300w")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True)
@click.option("--per-folder", type=click.IntRange(min=1), default=3, show_default=True,
              help="Faces in each of the eight release folders.")
@click.option("--seed", type=int, default=0, show_default=True)
def synth_300w_command(out, per_folder, seed):
    """300-W release: afw/, helen/, lfpw/, ibug/, 300W/ with 1-based .pts files and Bounding Boxes/*.mat."""
    from fabrec_bench.synth.formats import write_300w

    counts = _with_progress(8 * per_folder, lambda p: write_300w(Path(out), per_folder, seed, p))
    console.print(f"wrote {sum(counts.values())} faces in 8 folders to {out}")


@synth_group.command("aflw")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True)
@click.option("--faces", type=click.IntRange(min=2), default=48, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_aflw_command(out, faces, seed):
    """AFLW-19 release: AFLWinfo_release.mat and data/flickr/{0,2,3}/."""
    from fabrec_bench.synth.formats import write_aflw

    counts = _with_progress(faces, lambda p: write_aflw(Path(out), faces, seed, p))
    console.print(f"wrote {counts['faces']} faces to {out}")


@synth_group.command("cofw")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True)
@click.option("--train", type=click.IntRange(min=2), default=24, show_default=True)
@click.option("--test", type=click.IntRange(min=2), default=12, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--with-68/--without-68", default=True, show_default=True,
              help="Also write the 68-point re-annotation of the test faces (COFW68_Data/).")
def synth_cofw_command(out, train, test, seed, with_68):
    """COFW release: COFW_train_color.mat and COFW_test_color.mat (MATLAB v7.3), optionally COFW68_Data/."""
    from fabrec_bench.synth.formats import write_cofw

    counts = _with_progress(train + test, lambda p: write_cofw(Path(out), train, test, seed, p, with_68=with_68))
    console.print(f"wrote {counts['train']} train and {counts['test']} test faces to {out}")


@synth_group.command("vggface2")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True)
@click.option("--identities", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--per-identity", type=click.IntRange(min=2), default=4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_vggface2_command(out, identities, per_identity, seed):
    """VGGFace2 release: train/ and test/ identity folders with bb_landmark/ CSVs."""
    from fabrec_bench.synth.formats import write_vggface2

    counts = _with_progress(2 * identities * per_identity,
                            lambda p: write_vggface2(Path(out), identities, per_identity, seed, p))
    console.print(f"wrote {counts['train']} train and {counts['test']} test faces to {out}")


@synth_group.command("affectnet")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True)
@click.option("--train", type=click.IntRange(min=3), default=24, show_default=True)
@click.option("--validation", type=click.IntRange(min=3), default=12, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def synth_affectnet_command(out, train, validation, seed):
    """AffectNet release: Manually_Annotated_Images/ and the training/validation CSV lists."""
    from fabrec_bench.synth.formats import write_affectnet

    counts = _with_progress(train + validation, lambda p: write_affectnet(Path(out), train, validation, seed, p))
    console.print(f"wrote {counts['training']} training and {counts['validation']} validation faces to {out}")


COMMANDS = (synth_group,)
