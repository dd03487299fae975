"""`fabrec-bench predict`: landmarks on your own photographs."""

from __future__ import annotations

from pathlib import Path

import click

from fabrec_bench_runners.options import console, parse_pairs


def _face_finder(box_source: str, boxes_file: str | None):
    from fabrec_bench.predict import boxes_from_detector, boxes_from_file, read_box_file

    if boxes_file:
        return boxes_from_file(read_box_file(boxes_file)), f"boxes from {boxes_file}"
    if box_source == "auto":
        import importlib.util

        box_source = "detector-hog" if importlib.util.find_spec("dlib") else "detector-haar"
    return boxes_from_detector(box_source), box_source


def _model(name: str, checkpoint: str | None, config_pairs, device: str, precision: str | None, work_dir: Path):
    from fabrec_bench.errors import UserError
    from fabrec_bench.models import DatasetFacts, RunContext
    from fabrec_bench.plugins import get_registry, scheme_by_name

    spec = get_registry().model(name)
    given = parse_pairs(config_pairs)
    spec.check_precision(precision)
    context = RunContext(device=device, precision=precision, work_dir=work_dir, cache_dir=None,
                         dataset=DatasetFacts(name="", labeled=False))
    if checkpoint:
        return spec.open(Path(checkpoint), context, given)
    if spec.native_scheme and not spec.capabilities.needs_training and not spec.capabilities.needs_checkpoint:
        return spec.create(scheme_by_name(spec.native_scheme), spec.make_options(given), context)
    raise UserError(f"model '{name}' needs --checkpoint FILE here: a checkpoint from `fabrec-bench run` (in its "
                    "run folder) or released weights (`fabrec-bench models info " + name + "`)")


@click.command("predict")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--model", "-m", required=True, help="Model name (`fabrec-bench models`).")
@click.option("--checkpoint", type=click.Path(exists=True), default=None,
              help="The model's checkpoint (a run's, or released weights); not needed by dlib-ert.")
@click.option("--box-source", type=click.Choice(["auto", "detector-hog", "detector-haar", "detector"]),
              default="auto", show_default=True,
              help="How faces are found: auto = dlib's HOG detector when dlib is installed, else OpenCV's Haar.")
@click.option("--boxes", "boxes_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A CSV of face boxes (header image,x0,y0,x1,y1; image by path or file name) instead of a "
                   "detector.")
@click.option("--out", "-o", "out_dir", type=click.Path(file_okay=False), default="predictions", show_default=True,
              help="Folder for landmarks.csv, landmarks.json and the drawn images.")
@click.option("--no-draw", is_flag=True, help="Write the landmark files only.")
@click.option("--config", "config_pairs", multiple=True, metavar="KEY=VALUE",
              help="A model option (see `fabrec-bench models info MODEL`); repeatable.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]), default=None,
              help="Inference precision (default: the model's own).")
@click.pass_obj
def predict_command(obj, paths, model, checkpoint, box_source, boxes_file, out_dir, no_draw, config_pairs, device,
                    precision):
    """Find the faces in images (files or folders) and predict their landmarks with MODEL; write them in image
    pixels (CSV and JSON) and draw them on each image. An image without a face is listed; an unreadable file is
    reported and the others go on."""
    from fabrec_bench.predict import image_files, predict_images, write_results

    images = image_files(paths)
    if not images:
        raise click.UsageError(f"no images in {', '.join(paths)} ({', '.join(('.jpg', '.png'))} and the like)")
    landmark_model = _model(model, checkpoint, config_pairs, device, precision, obj.work_dir)
    find_faces, how = _face_finder(box_source, boxes_file)
    console.print(f"{model} on {len(images)} image(s), faces from {how}")
    with console.status("predicting…") as status:
        results = predict_images(landmark_model, images, find_faces, illustrate=not no_draw,
                                 on_image=lambda r: status.update(f"{r.path.name}: {r.faces} face(s)"))
    written = write_results(results, Path(out_dir), draw=not no_draw)
    faces = sum(r.faces for r in results)
    unreadable = [r for r in results if r.error]
    faceless = [r for r in results if not r.error and not r.faces]
    console.print(f"{faces} face(s) in {len(results) - len(unreadable) - len(faceless)} image(s)", soft_wrap=True)
    for r in faceless:
        console.print(f"  no face found: {r.path}", soft_wrap=True, markup=False)
    for r in unreadable:
        console.print(f"  not read: {r.error}", soft_wrap=True, markup=False)
    for kind, path in written.items():
        console.print(f"wrote {kind:5s} {path}", soft_wrap=True, markup=False)


COMMANDS = (predict_command,)
