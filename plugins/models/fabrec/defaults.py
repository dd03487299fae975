"""3FabRec's options (`--config KEY=VALUE`; `fabrec-bench models info 3fabrec`) and constants; importable
without torch (the CLI lists them)."""

from __future__ import annotations

from dataclasses import dataclass

from fabrec_bench.options import Options, option

# 3FabRec normalises images by subtracting this RGB mean only (std 1): the VGGFace2 mean of the original.
IMAGE_MEAN_RGB = (0.518, 0.418, 0.361)

PRECISION_CHOICES = ("auto", "fp32", "bf16", "fp16")
DAUG_LEVELS = tuple(range(8))


@dataclass(frozen=True)
class FabrecOptions(Options):
    """Stage 2 (the landmark head) and inference."""

    input_size: int = option(256, "input crop side in pixels (the released models: 256)", choices=(128, 256))
    autoencoder: str = option("", "the stage-1 autoencoder: a checkpoint from `fabrec-bench autoencoder` or a "
                                  "released snapshot folder")
    init: str = option("autoencoder", "start from the autoencoder, or train the same network from scratch (the "
                                      "few-shot claim's baseline)", choices=("autoencoder", "scratch"))
    epochs: int = option(30, "stage-2 epochs (unless iterations is set)", minimum=1)
    iterations: int = option(0, "train exactly this many batches, epochs as needed (0: by epochs), so training "
                                "sizes get equal compute", minimum=0)
    max_seconds: float = option(0.0, "also stop after the batch that ends past this many seconds (0: no budget); "
                                     "a smoke budget: the batches done then depend on the machine, and are recorded",
                                minimum=0)
    tag: str = option("", "a note shown with the model's variant in leaderboards and plots, e.g. smoke budget")
    resume_every_seconds: float = option(30.0, "how often the resume state is saved, at an epoch's end", minimum=0,
                                         changes_results=False)
    batch_size: int = option(40, "stage-2 batch size (the last partial batch of an epoch is dropped, as the "
                                 "original's)", minimum=1)
    eval_batch_size: int = option(50, "inference batch size", minimum=1, changes_results=False)
    lr_heatmaps: float = option(1e-3, "Adam learning rate of the transfer layers and heatmap layer", minimum=0)
    lr_encoder: float = option(2e-5, "Adam learning rate of the encoder when train_encoder is on", minimum=0)
    train_encoder: bool = option(False, "fine-tune the encoder Q too (its BatchNorm statistics stay frozen)")
    daug: int = option(0, "augmentation level, the original's --daug (0: flips only; 6: the code's 'CVPR landmark "
                          "training')", choices=DAUG_LEVELS)
    flip_rule: str = option("original", "how a flipped crop's landmarks are mirrored: original (x -> W - x, what "
                                        "the paper trained on) or pixel (x -> W - 1 - x, the image's own flip)",
                            choices=("original", "pixel"))
    sigma: float = option(7.0, "target heatmap Gaussian sigma, in 128-px heatmap pixels", minimum=0)
    decoding: str = option("argmax", "heatmap decoding: argmax (the original's) or quarter (a quarter pixel "
                                     "towards the larger neighbour)", choices=("argmax", "quarter"))
    precision: str = option("auto", "training precision: auto = bf16 where it is native (CPUs with AVX512-BF16 "
                                    "or AMX, Ampere+ GPUs), fp16 on older GPUs, fp32 elsewhere",
                            choices=PRECISION_CHOICES)
    inference_precision: str = option("fp32", "inference precision when --precision is not given (fp32: exact, "
                                              "TF32 off)", choices=PRECISION_CHOICES)
    channels_last: bool | str = option("auto", "channels-last memory: auto = for training and mixed-precision "
                                               "inference (exact fp32 inference keeps the original's NCHW)",
                                       choices=("auto", True, False))
    compile: bool = option(False, "torch.compile the inference path", changes_results=False)
    workers: int = option(0, "data-loader worker processes", minimum=0, changes_results=False)
    crop_rule: str = option("3fabrec", "face crops: the original's rule (3fabrec) or one exact affine warp "
                                       "(affine, checkpoints written before the original's crops)",
                            choices=("3fabrec", "affine"))
    frame_origin: float = option(0.0, "the coordinate of the top-left pixel in the frame the model learned (0: "
                                      "ours; 1: released 300-W models, trained on raw .pts); set by training")
    images_per_epoch_grid: int = option(8, "faces in the landmark grid written during training", minimum=0,
                                        changes_results=False)
    grid_every: int = option(0, "write a landmark grid every N epochs (0: about ten per run, and the last)",
                             minimum=0, changes_results=False)


@dataclass(frozen=True)
class AutoencoderOptions(Options):
    """Stage 1, the adversarial autoencoder (a matrix's `[[matrix.pretrain]] config`)."""

    input_size: int = option(256, "input crop side in pixels", choices=(128, 256))
    epochs: int = option(1, "train until this many epochs (a later run continues)", minimum=1)
    batch_size: int = option(50, "batch size (the original's)", minimum=1)
    preset: str = option("recon", "the original README's three steps: reconstruction, + image GAN, + SSIM",
                         choices=("recon", "recon+gan", "recon+gan+ssim"))
    lr: float = option(2e-5, "Adam learning rate of Q, P and D_z (D: half)", minimum=0)
    daug: int = option(4, "augmentation level, the original's --daug (4 trains the released autoencoder)",
                       choices=DAUG_LEVELS)
    precision: str = option("auto", "training precision (auto: bf16 only where it is native)",
                            choices=PRECISION_CHOICES)
    workers: int = option(0, "data-loader worker processes", minimum=0, changes_results=False)
    seed: int = option(0, "seed of the face order, augmentation and initial weights")
    max_seconds: float = option(0.0, "stop after the first epoch that ends past this many seconds (0: none)",
                                minimum=0)
    keep_every: int = option(10, "keep epoch_NNN.pt every K epochs besides latest.pt (0: latest only; ~100 MB "
                                 "each at 256 px)", minimum=0)
