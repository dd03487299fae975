"""Registers the `3fabrec` model and the `3fabrec-paper` protocol with its pupil-proxy normaliser (its stage-1
command, `fabrec-bench autoencoder`, is in runners/autoencoder.py)."""

from __future__ import annotations

from pathlib import Path

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, ModelSpec, RunContext
from fabrec_bench.options import as_dict
from fabrec_bench_plugins.models.fabrec.defaults import AutoencoderOptions, FabrecOptions
from fabrec_bench_plugins.models.fabrec.protocol import PAPER_PROTOCOL, PUPIL_PROXY


def create_model(scheme, options: FabrecOptions, context: RunContext):
    """The model (torch is imported here, when a model is made, not when the plugin is registered)."""
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel

    return FabrecModel(scheme, options, context)


def load_model(path: Path, context="auto"):
    """A checkpoint or released snapshot folder as a model for a run with `context`."""
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel

    return FabrecModel.load(path, context)


@hookimpl
def fabrec_bench_register_models(register):
    register(ModelSpec(
        name="3fabrec",
        create=create_model,
        load=load_model,
        description="3FabRec (CVPR 2020): autoencoder + interleaved transfer layers, few-shot",
        options=FabrecOptions,
        capabilities=Capabilities(needs_training=True, precisions=("fp32", "bf16", "fp16"), pretraining=True,
                                  crop_rule="3fabrec"),
        checkpoint_suffix=".pt",
        pretrain=pretrain_autoencoder,
        pretrain_options=AutoencoderOptions,
        details=network_details,
    ))


@hookimpl
def fabrec_bench_register_protocols(register):
    register(PAPER_PROTOCOL)


@hookimpl
def fabrec_bench_register_metrics(register):
    register(PUPIL_PROXY)


def network_details() -> dict:
    """Trainable parameters of each sub-network per input size, and the head for the built-in schemes."""
    from fabrec_bench_plugins.models.fabrec.networks import (
        INPUT_SIZES,
        Fabrec,
        LandmarkHead,
        count_parameters,
    )

    sizes = {}
    for size in sorted(INPUT_SIZES, reverse=True):
        net = Fabrec(1, size)
        sizes[str(size)] = {"Q (encoder)": count_parameters(net.Q), "P (decoder)": count_parameters(net.P),
                            "D_z (latent discriminator)": count_parameters(net.D_z),
                            "D (image discriminator)": count_parameters(net.D)}
    heads = {f"{points} points": count_parameters(LandmarkHead(points)) for points in (19, 68, 98)}
    return {"parameters": {"by input size": sizes, "LMH (transfer layers and heatmap layer)": heads,
                           "LMH formula": "811,008 + 1,024 x L"},
            "training as the original": TRAINING_RULES}


# How both stages follow the original's trainers (train_aae_unsupervised.py, train_aae_landmarks.py).
TRAINING_RULES = {
    "stage 2 batches": "the last partial batch of every epoch is dropped (the original's drop_last); with fewer "
                       "faces than batch_size, all faces form one batch (the original would train on nothing)",
    "flipped crops": "flip_rule original (default): landmarks x -> W - x, as the paper trained; pixel: x -> W - 1 - x",
    "stage 1 schedules": "D_z every 4th, encoder adversarial and image D every 2nd iteration of each epoch "
                         "(counted from 0 at every epoch)",
    "SSIM loss": "C2 from each image's own value range",
}


def pretrain_autoencoder(samples, options: AutoencoderOptions, context: RunContext) -> Path:
    """Stage 1 for a matrix: train (or resume) the autoencoder in the context's run folder; returns its
    latest.pt. Faces are cropped by the context's dataset's rule; their landmarks are not used."""
    from fabrec_bench.schemes import scheme_for_points
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    out = Path(context.run_dir)
    points = len(samples[0].landmarks_px) if samples else 1
    summary = train_autoencoder(samples, scheme_for_points(points), out, device=context.device,
                                cache_dir=context.cache_dir or out / "crop-cache",
                                crop_extension=tuple(context.dataset.crop_box_extension), progress=context.progress,
                                **{k: v for k, v in as_dict(options).items() if k != "max_seconds"},
                                max_seconds=options.max_seconds or None)
    return Path(summary["checkpoint"])


