"""`fabrec-bench demo`: synthetic WFLW -> a small train/eval matrix -> leaderboards and plots, in one command.

The matrix: mean-shape; 3FabRec on a stage-1 autoencoder trained once on the synthetic training faces (labels
ignored), few-shot at two training sizes; and the same 3FabRec network trained from scratch on the same faces.
Every cell is evaluated on the WFLW test split and its six attribute subsets. Re-running resumes: finished
cells are skipped.

Training is sized by time, not epochs, so the demo ends in minutes on any CPU (with or without native bf16):
stage 1 stops after the epoch that passes --ae-seconds, each 3FabRec cell after the batch that passes
--cell-seconds (or --iterations, whichever comes first). Such 3FabRec rows are tagged "smoke budget" in the
leaderboard and plots: they show the pipeline, not the method's accuracy. Only the autoencoder's latest
snapshot is kept.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import click
from rich.markup import escape

from fabrec_bench_runners.options import console, results_table
from fabrec_bench_runners.synth import synth_wflw

DEMO_SPLITS = ("test", "pose", "expression", "illumination", "make-up", "occlusion", "blur")


def dlib_spec(data_root: Path, count: int, seed: int) -> str:
    """Side by side on the 68 iBUG points (WFLW through the 98->68 mapping): dlib's pretrained ERT predictor
    and mean-shape, when the [dlib] extra is installed."""
    root = json.dumps(str(data_root.resolve()))
    return f"""# The demo's 68-point matrix: dlib-ert (pretrained) and mean-shape on WFLW mapped to 68 points
[matrix]
seeds = [{seed}]
train_counts = [{count}]

[[matrix.models]]
name = "mean-shape"

[[matrix.models]]
name = "dlib-ert"

[[matrix.datasets]]
name = "wflw68"
splits = {json.dumps(list(DEMO_SPLITS))}
data_root = {root}
"""


def demo_spec(data_root: Path, counts: tuple[int, int], ae_seconds: float, ae_epochs: int, iterations: int,
              cell_seconds: float, seed: int) -> str:
    """The demo's matrix spec (TOML), written beside its results so it can be re-run or edited."""
    root = json.dumps(str(data_root.resolve()))
    stage2 = (f'input_size = 128, iterations = {iterations}, max_seconds = {float(cell_seconds)}, batch_size = 16, '
              f'daug = 1, tag = "smoke budget"')
    return f"""# The fabrec-bench demo matrix; run it again with: fabrec-bench --work-dir RESULTS matrix THIS_FILE
# Time budgets, not epochs: stage 1 stops after the epoch that ends past {ae_seconds:g} s (at most {ae_epochs}
# epochs), each 3FabRec cell after the batch that ends past {cell_seconds:g} s (at most {iterations} batches).
[matrix]
seeds = [{seed}]
train_counts = [{counts[0]}, {counts[1]}]

[[matrix.pretrain]]
name = "synthetic-ae"
model = "3fabrec"
dataset = "wflw"
data_root = {root}
config = {{ input_size = 128, epochs = {ae_epochs}, max_seconds = {float(ae_seconds)}, keep_every = 0, batch_size = 16, lr = 2e-4, daug = 1, seed = {seed} }}

[[matrix.models]]
name = "mean-shape"

[[matrix.models]]
name = "3fabrec"
config = {{ autoencoder = "@synthetic-ae", {stage2} }}

[[matrix.models]]
name = "3fabrec"
label = "3fabrec-scratch"
config = {{ init = "scratch", {stage2} }}

[[matrix.datasets]]
name = "wflw"
splits = {json.dumps(list(DEMO_SPLITS))}
data_root = {root}
"""


@click.command("demo")
@click.option("--out", "-o", type=click.Path(file_okay=False), default="demo-out", show_default=True,
              help="Folder for the synthetic data, results and pictures.")
@click.option("--train", type=click.IntRange(min=2), default=300, show_default=True, help="Synthetic training faces.")
@click.option("--test", type=click.IntRange(min=6), default=150, show_default=True, help="Synthetic test faces.")
@click.option("--sizes", type=(int, int), default=(20, 100), show_default=True,
              help="The two few-shot training-set sizes.")
@click.option("--ae-seconds", type=click.FloatRange(min=1), default=150, show_default=True,
              help="Stage-1 time budget: the autoencoder stops after the epoch that ends past it.")
@click.option("--ae-epochs", type=click.IntRange(min=1), default=40, show_default=True,
              help="At most this many stage-1 epochs over the training faces.")
@click.option("--cell-seconds", type=click.FloatRange(min=1), default=20, show_default=True,
              help="Stage-2 time budget of each 3FabRec cell (the same for every training size).")
@click.option("--iterations", type=click.IntRange(min=1), default=60, show_default=True,
              help="At most this many stage-2 training batches per 3FabRec cell.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo_command(out, train, test, sizes, ae_seconds, ae_epochs, cell_seconds, iterations, seed):
    """Generate synthetic WFLW, run the demo matrix on every WFLW test split, write leaderboards and plots."""
    from fabrec_bench.matrix import execute, load_spec, plan
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.reports.leaderboard import build_rows, compact, to_table
    from fabrec_bench.store import ResultsStore, store_path

    started = time.perf_counter()
    out = Path(out)
    data_root = out / "WFLW"
    work_dir = out / "results"
    if max(sizes) > train or min(sizes) < 1:
        raise click.BadParameter(f"training sizes {sizes} must lie in 1..{train} (--train)", param_hint="--sizes")
    phases: dict[str, float] = {}  # wall seconds per phase, printed at the end
    marker = data_root / f".synth-{train}-{test}-{seed}"
    if not marker.exists():
        console.rule("1. synthetic WFLW")
        counts = synth_wflw(data_root, train, test, seed)
        marker.touch()
        console.print(f"{counts['train']} train / {counts['test']} test faces in {data_root}", markup=False)
    phases["data"] = time.perf_counter() - started
    console.rule("2. matrix")
    spec_path = out / "demo-matrix.toml"
    spec_path.write_text(demo_spec(data_root, tuple(sorted(sizes)), ae_seconds, ae_epochs, iterations, cell_seconds,
                                   seed))
    specs = [spec_path]
    if importlib.util.find_spec("dlib") and importlib.util.find_spec("face_recognition_models"):
        specs.append(out / "demo-matrix-68.toml")
        specs[-1].write_text(dlib_spec(data_root, max(sizes), seed))
    else:
        console.print('dlib-ert is left out: pip install "fabrec-bench[dlib]" to add dlib\'s 68-point baseline',
                      markup=False)

    def report(name, splits, error):
        state = f"[red]failed[/]: {escape(error)}" if error else "[green]done[/]"
        console.print(f"  {escape(name)} on {len(splits)} split(s): {state}  ({time.perf_counter() - started:.0f} s)")

    def pretrained(name, seconds):
        phases["stage 1"] = phases.get("stage 1", 0.0) + seconds
        console.print(f"  stage-1 autoencoder {escape(name)}: {seconds:.0f} s")

    failures = []
    matrix_started = time.perf_counter()
    for path in specs:
        the_plan = plan(load_spec(path), work_dir)
        cells = the_plan.cells()
        console.print(f"{escape(path.name)}: {len(cells)} cells ({sum(the_plan.done.values())} already done)"
                      + (f"; the stage-1 autoencoder trains first (about {ae_seconds:g} s)" if path == spec_path else ""))
        failures += execute(the_plan, work_dir, on_done=report, on_pretrained=pretrained)
    phases["cells"] = time.perf_counter() - matrix_started - phases.get("stage 1", 0.0)
    console.rule("3. leaderboard")
    pictures_started = time.perf_counter()
    registry = get_registry()
    with ResultsStore(store_path(work_dir)) as store:
        rows = build_rows([r for r in store.runs(status="finished") if r.dataset in ("wflw", "wflw68")])
    headers, body, caption = compact(*to_table([r for r in rows if r.split == "test"], registry), keep=("model", "dataset", "split"))
    table = results_table(headers, body, "WFLW (synthetic) test split; every subset is in the HTML page", caption)
    console.print(table)
    written = _write_outputs(out, work_dir, rows, registry)
    phases["pictures"] = time.perf_counter() - pictures_started
    console.print(f"demo finished in {time.perf_counter() - started:.0f} s ("
                  + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items()) + ")"
                  + (f"; {len(failures)} training(s) failed" if failures else ""))
    console.print("wrote:")
    for label, path in written:
        console.print(f"  {label:<15}{path}", markup=False)
    if failures:
        raise SystemExit(1)


def _write_outputs(out: Path, work_dir: Path, rows, registry) -> list[tuple[str, Path]]:
    from fabrec_bench.reports.figures import ced_curves, fewshot_series, subset_bars
    from fabrec_bench.reports.gallery import row_galleries
    from fabrec_bench.reports.html import ced_figures, leaderboard_page
    from fabrec_bench.reports.leaderboard import render
    from fabrec_bench.reports.plots import attribute_bars, ced_plot, fewshot_plot
    from fabrec_bench.store import ResultsStore, store_path

    wflw = [r for r in rows if r.dataset == "wflw"]
    with ResultsStore(store_path(work_dir)) as store:
        page = leaderboard_page(rows, title="fabrec-bench demo: synthetic WFLW", figures=ced_figures(store, rows),
                                source=str(store_path(work_dir)), registry=registry,
                                galleries=row_galleries(rows))
        curves = ced_curves(store, [r for r in wflw if r.split == "test"])
    html_path = out / "leaderboard.html"
    html_path.write_text(page, encoding="utf-8")
    markdown = out / "leaderboard.md"
    markdown.write_text(render(rows, "markdown", registry) + "\n")
    ced_path = ced_plot(curves, out / "ced.png", title="synthetic WFLW test (inter-ocular NME)")
    attributes = attribute_bars(subset_bars(wflw, list(DEMO_SPLITS)), list(DEMO_SPLITS), out / "attributes.png",
                                title="synthetic WFLW: NME per subset")
    fewshot = fewshot_plot(fewshot_series(wflw, "test"), out / "fewshot.png",
                           title="synthetic WFLW test: NME vs. training images")
    return [("data", out / "WFLW"), ("contact sheet", out / "WFLW" / "contact_sheet.png"),
            ("results", store_path(work_dir)), ("leaderboard", markdown), ("html page", html_path),
            ("CED plot", ced_path), ("subsets plot", attributes), ("few-shot plot", fewshot),
            *_pictures(out, work_dir, wflw)]


def _pictures(out: Path, work_dir: Path, rows) -> list[tuple[str, Path]]:
    """The pictures a user looks at first: the worst faces of the best 3FabRec row, 3FabRec's landmarks and
    demo tiles on a few of the synthetic photographs, and the autoencoder's last-epoch pictures."""
    import shutil

    import cv2
    import numpy as np

    from fabrec_bench.plugins import get_registry
    from fabrec_bench.predict import boxes_from_file, predict_images, write_results
    from fabrec_bench.reports.gallery import gallery_pages, load_run_faces, run_checkpoint
    from fabrec_bench.store import ResultsStore, store_path

    written: list[tuple[str, Path]] = []
    tests = [r for r in rows if r.split == "test" and r.runs]
    fabrec = [r for r in tests if r.model.startswith("3fabrec") and "scratch" not in r.model]
    best = min(fabrec or tests, key=lambda r: r.metrics.get("nme", float("inf")), default=None)
    if best is not None:
        faces = load_run_faces(best.runs[0])
        page = gallery_pages(faces, "worst", per_page=12, columns=6, tile=160)[0]
        cv2.imwrite(str(out / "gallery-worst.png"), page)
        written.append(("worst faces", out / "gallery-worst.png"))
        with ResultsStore(store_path(work_dir)) as store:
            by_uid = {r.uid: r for r in store.runs()}
        checkpoint = run_checkpoint(best.runs[0], by_uid)
        if checkpoint is not None:
            from fabrec_bench.models import DatasetFacts, RunContext
            from fabrec_bench.plugins import get_registry

            spec = get_registry().model(best.runs[0].model)
            model = spec.open(checkpoint, RunContext(device="cpu", dataset=DatasetFacts(name="", labeled=False)))
            images = list(dict.fromkeys(s.image_path for s in faces.split.samples))[:4]
            boxes: dict[str, list] = {}
            for sample in faces.split.samples:  # the annotated faces of those photographs, as a box file gives
                if sample.image_path in images:
                    boxes.setdefault(str(sample.image_path), []).append(sample.box_px)
            table = {name: np.array(b, dtype=np.float64) for name, b in boxes.items()}
            results = predict_images(model, images, boxes_from_file(table))
            folder = out / "predict"
            write_results(results, folder)
            written.append(("predict", folder / "drawn"))
    pictures = sorted((work_dir / "pretrain").rglob("reconstructions_epoch_*.png"))
    if pictures:
        last = pictures[-1]
        suffix = last.stem.removeprefix("reconstructions")
        folder = out / "autoencoder"
        folder.mkdir(exist_ok=True)
        for name in ("reconstructions", "random", "interpolations", "ssim_errors"):
            source = last.parent / f"{name}{suffix}.png"
            if source.is_file():
                shutil.copy(source, folder / source.name)
        written.append(("autoencoder", folder))
    return written


COMMANDS = (demo_command,)
