"""`fabrec-bench autoencoder` and `autoencoder-show`: 3FabRec's stage 1 (the adversarial autoencoder trained on
unlabeled faces) and its pictures. Torch is imported when a command runs, not when the CLI starts."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("autoencoder")
@click.option("--dataset", "-d", "datasets", multiple=True, required=True,
              help="Dataset(s) of faces, labels unused (e.g. vggface2, affectnet); repeatable.")
@click.option("--split", "-s", default="train", show_default=True)
@click.option("--data-root", type=click.Path(), default=None, help="Root (only with a single --dataset).")
@click.option("--out", "-o", type=click.Path(file_okay=False), required=True, help="Folder for snapshots.")
@click.option("--input-size", type=click.Choice(["128", "256"]), default="256", show_default=True)
@click.option("--epochs", type=int, default=1, show_default=True, help="Train until this many epochs.")
@click.option("--batch-size", type=int, default=50, show_default=True)
@click.option("--preset", type=click.Choice(["recon", "recon+gan", "recon+gan+ssim"]), default="recon",
              show_default=True, help="The reference's three steps: reconstruction, + image GAN, + SSIM.")
@click.option("--lr", type=float, default=2e-5, show_default=True)
@click.option("--daug", type=click.IntRange(0, 7), default=4, show_default=True)
@click.option("--train-count", type=int, default=None, help="Use N faces drawn at random with --seed.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto")
@click.option("--workers", type=int, default=0, show_default=True)
@click.option("--keep-every", type=click.IntRange(min=0), default=10, show_default=True,
              help="Keep epoch_NNN.pt every K epochs besides latest.pt (0: latest only; ~100 MB each at 256 px).")
@click.option("--max-seconds", type=float, default=None,
              help="Stop after the first epoch that ends past this many seconds (resume later).")
@click.option("--fresh", is_flag=True, help="Start over instead of resuming from OUT/latest.pt.")
@click.pass_obj
def autoencoder_command(obj, datasets, split, data_root, out, input_size, epochs, batch_size, preset, lr, daug,
                        train_count, seed, device, precision, workers, keep_every, max_seconds, fresh):
    """Stage 1 of 3FabRec: train the adversarial autoencoder on unlabeled faces (resumes by default).

    Under `torchrun --nproc_per_node N -m fabrec_bench_runners autoencoder ...` the faces are split across
    N processes (one per GPU, or gloo on CPU) whose gradients are averaged every step.
    """
    from rich.console import Console

    from fabrec_bench import api
    from fabrec_bench.progress import training_progress
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    samples, extension_of, scheme = [], {}, None
    for name in datasets:
        adapter = api.get_adapter(name)
        split_data = api.load_split(name, split, data_root=data_root if len(datasets) == 1 else None)
        samples += split_data.samples
        # Each face is cropped by its own dataset's rule, as the original's concatenated datasets do.
        extension_of.update({id(s): tuple(adapter.crop_box_extension) for s in split_data.samples})
        scheme = scheme or split_data.scheme  # only sizes the unused head: stage 1 ignores landmarks
    samples = api.select_training_subset(samples, train_count, seed)
    extensions = [extension_of[id(s)] for s in samples]
    console = Console()
    with training_progress(console) as report:
        summary = train_autoencoder(
            samples, scheme, Path(out), input_size=int(input_size), epochs=epochs, batch_size=batch_size,
            preset=preset, lr=lr, daug=daug, device=device, precision=precision, workers=workers,
            crop_extensions=extensions, cache_dir=obj.work_dir / "crop-cache", seed=seed, resume=not fresh,
            progress=report, keep_every=keep_every, max_seconds=max_seconds)
    console.print(f"{len(samples)} faces, epoch {summary.get('epoch', '-')}: reconstruction L1 "
                  f"{summary.get('recon_l1', float('nan')):.2f} (0-255 scale), "
                  f"{summary.get('images_per_second', 0)} img/s")
    if summary["processes"] > 1:
        console.print(f"{summary['processes']} processes; largest parameter difference between replicas: "
                      f"{summary['replica_max_difference']:.3g}")
    console.print(f"autoencoder: {summary['checkpoint']}  (use: --config autoencoder={summary['checkpoint']})")

@click.command("autoencoder-show")
@click.argument("checkpoint", type=click.Path(exists=True))
@click.option("--dataset", "-d", required=True, help="Faces to show it (e.g. wflw, vggface2).")
@click.option("--split", "-s", default="test", show_default=True)
@click.option("--data-root", type=click.Path(), default=None)
@click.option("--count", type=click.IntRange(2, 32), default=8, show_default=True, help="Faces per picture.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which faces, and the random codes.")
@click.option("--out", "-o", type=click.Path(file_okay=False), default=None,
              help="Folder for the pictures (default: beside the checkpoint).")
@click.option("--device", default="auto", show_default=True)
def autoencoder_show_command(checkpoint, dataset, split, data_root, count, seed, out, device):
    """A finished (or released) 3FabRec autoencoder's pictures, as its training draws them each epoch:
    reconstructions with SSIM and pixel error, random faces from the prior, interpolations, and the
    structural loss's error maps."""
    from fabrec_bench import api
    from fabrec_bench.faces.facedata import FaceCrops
    from fabrec_bench.schemes import scheme_for_points
    from fabrec_bench.torch_helpers.device import resolve_device
    from fabrec_bench.torch_helpers.torchdata import face_loader, normalise
    from fabrec_bench_plugins.models.fabrec.checkpoints import load_weights, read_checkpoint
    from fabrec_bench_plugins.models.fabrec.defaults import IMAGE_MEAN_RGB
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec
    from fabrec_bench_plugins.models.fabrec.pictures import write_pictures

    state, meta = read_checkpoint(Path(checkpoint))
    size = int(meta.get("input_size", 256))
    net = Fabrec.for_weights(state, int(meta.get("num_points", 1) or 1), size)
    load_weights(net, state, Path(checkpoint), head=False)
    adapter = api.get_adapter(dataset)
    faces = api.load_split(dataset, split, data_root=data_root).samples
    chosen = api.select_training_subset(faces, min(count, len(faces)), seed)
    crops = FaceCrops(chosen, scheme_for_points(len(chosen[0].landmarks_px)), input_size=size,
                      extension=tuple(adapter.crop_box_extension), rule="3fabrec", landmarks=False)
    device = resolve_device(device)
    net.to(device)
    images = normalise(next(iter(face_loader(crops, len(chosen))))["image"], device, mean_rgb=IMAGE_MEAN_RGB)
    folder = Path(out) if out else Path(checkpoint).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    written = write_pictures(net, images, folder, f"_{Path(checkpoint).stem}", structural=True, seed=seed)
    for name, path in written.items():
        click.echo(f"{name:16s} {path}")


COMMANDS = (autoencoder_command, autoencoder_show_command)
