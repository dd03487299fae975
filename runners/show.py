"""`fabrec-bench show`: a stored run's faces, worst first (or best, random, by subset), as PNG pages."""

from __future__ import annotations

from pathlib import Path

import click

from fabrec_bench_runners.options import ProtocolName, console


def select_run(store, run_id, model, dataset, split, label, protocol, train_count):
    """The run asked for: by id, or the one finished run the filters leave (else a line listing them)."""
    from fabrec_bench.errors import UserError

    if run_id is not None:
        found = [r for r in store.runs(status=None) if r.id == run_id]
        if not found:
            raise UserError(f"no run {run_id} in {store.path}")
        if found[0].status != "finished":
            raise UserError(f"run {run_id} is {found[0].status}, not finished; it has no results to show")
        return found[0]
    runs = store.runs(status="finished", dataset=dataset, split=split, model=model, train_count=train_count,
                      label=label)
    if protocol:
        runs = [r for r in runs if r.protocol.get("name") == protocol]
    if not runs:
        raise UserError("no finished run matches; `fabrec-bench leaderboard` lists what is stored")
    if len(runs) > 1:
        listed = "; ".join(f"{r.id}: {r.model}{' [' + r.label + ']' if r.label else ''} {r.dataset}/{r.split} "
                           f"{r.protocol.get('name')} N={r.train_count if r.train_count is not None else '–'} "
                           f"seed {r.seed}" for r in runs[:8])
        more = f" and {len(runs) - 8} more" if len(runs) > 8 else ""
        raise UserError(f"{len(runs)} runs match ({listed}{more}); give a run id or narrow the filters")
    return runs[0]


@click.command("show")
@click.argument("run_id", required=False, type=int)
@click.option("--model", "-m", default=None, help="Only runs of this model.")
@click.option("--dataset", "-d", default=None)
@click.option("--split", "-s", default=None)
@click.option("--label", default=None)
@click.option("--protocol", type=ProtocolName(known_only=False), default=None)
@click.option("--train-count", type=int, default=None)
@click.option("--order", type=click.Choice(["worst", "best", "random", "subset"]), default="worst", show_default=True)
@click.option("--per-page", type=int, default=24, show_default=True, help="Faces per page.")
@click.option("--pages", type=int, default=1, show_default=True)
@click.option("--columns", type=int, default=6, show_default=True)
@click.option("--tile", type=int, default=192, show_default=True, help="Side of each face's picture, in pixels.")
@click.option("--seed", type=int, default=0, show_default=True, help="For --order random.")
@click.option("--data-root", type=click.Path(), default=None,
              help="Where the dataset is now, if not where the run read it.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the pages (default: gallery-run<ID>).")
@click.pass_obj
def show_command(obj, run_id, model, dataset, split, label, protocol, train_count, order, per_page, pages, columns,
                 tile, seed, data_root, out_dir):
    """Draw a stored run's faces: each crop with the ground truth (green) and the prediction (blue), and the
    face's NME (inner / outer / all) in the corner; select the run by RUN_ID or by the leaderboard's filters."""
    import cv2

    from fabrec_bench.reports.gallery import gallery_pages, load_run_faces
    from fabrec_bench.store import ResultsStore, store_path

    path = store_path(obj.work_dir)
    if not path.exists():
        raise click.UsageError(f"no results yet: {path} does not exist")
    with ResultsStore(path) as store:
        run = select_run(store, run_id, model, dataset, split, label, protocol, train_count)
        by_uid = {r.uid: r for r in store.runs()}
    faces = load_run_faces(run, data_root)
    sheets = gallery_pages(faces, order, per_page, pages, columns, tile, seed)
    drawn_by_model = _model_pages(run, by_uid, faces, order, per_page, pages, tile, seed, data_root)
    folder = Path(out_dir or f"gallery-run{run.id}")
    folder.mkdir(parents=True, exist_ok=True)
    console.print(f"run {run.id}: {run.model}{' [' + run.label + ']' if run.label else ''} on "
                  f"{run.dataset}/{run.split} ({run.protocol.get('name')}), {len(faces.split)} faces, {order} first"
                  if order in ("worst", "best") else f"run {run.id}: {len(faces.split)} faces, order {order}",
                  markup=False)
    for k, sheet in enumerate(sheets, start=1):
        target = folder / f"{order}-{k:02d}.png"
        cv2.imwrite(str(target), sheet)
        console.print(f"wrote {target}", markup=False, soft_wrap=True)
    for k, sheet in enumerate(drawn_by_model, start=1):
        target = folder / f"{order}-{k:02d}-{run.model}.png"
        cv2.imwrite(str(target), sheet)
        console.print(f"wrote {target}  (each face, then what {run.model} draws of it)", markup=False,
                      soft_wrap=True)


def _model_pages(run, by_uid, faces, order, per_page, pages, tile, seed, data_root):
    """The model's own pictures of the faces shown (3FabRec: reconstructions and heatmaps), when its checkpoint
    is still where the run saved it; [] otherwise or for models that draw nothing."""
    from fabrec_bench import api
    from fabrec_bench.models import DatasetFacts, RunContext
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.reports.gallery import model_pages, run_checkpoint

    checkpoint = run_checkpoint(run, by_uid)
    if checkpoint is None:
        return []
    registry = get_registry()
    adapter = api.get_adapter(run.dataset, dict(run.dataset_options), registry)
    context = RunContext(device="auto", dataset=DatasetFacts.of(adapter))
    model = registry.model(run.model).open(checkpoint, context, run.model_options)
    per = min(per_page, 8)  # one face per line: a page stays readable
    return model_pages(faces, model, order, per, max(1, (per_page * pages) // per), tile, seed)


COMMANDS = (show_command,)
