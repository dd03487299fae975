"""3FabRec's options and their defaults (`--config KEY=VALUE`), and its constants; importable without torch
(the CLI lists them)."""

# 3FabRec normalises images by subtracting this RGB mean only (std 1): the VGGFace2 mean of the original.
IMAGE_MEAN_RGB = (0.518, 0.418, 0.361)

DEFAULT_CONFIG = {
    "input_size": 256,
    "autoencoder": "",
    "init": "autoencoder",  # or "scratch"
    "epochs": 30,
    "iterations": 0,  # > 0: train exactly this many batches (epochs as needed), so training sizes get equal compute
    # > 0: also stop stage 2 after the batch that ends past this many seconds (a smoke budget: the number of
    # batches then depends on the machine, and is recorded)
    "max_seconds": 0.0,
    "tag": "",  # a note shown with the model's variant in leaderboards and plots, e.g. "smoke budget"
    "resume_every_seconds": 30.0,  # how often that state is saved (at the end of an epoch)
    "batch_size": 40,
    "eval_batch_size": 50,
    "lr_heatmaps": 1e-3,
    "lr_encoder": 2e-5,
    "train_encoder": False,
    "daug": 0,
    # How a flipped training crop's landmarks are mirrored: `original` (x -> W - x, what the paper trained on;
    # 1 ROI pixel right of the mirrored image) or `pixel` (x -> W - 1 - x, the image's own flip).
    "flip_rule": "original",
    "sigma": 7.0,
    "decoding": "argmax",
    # Training: auto = bf16 where it is native (CPUs with AVX512-BF16/AMX, Ampere+ GPUs), fp16 on older GPUs,
    # fp32 elsewhere. Inference: fp32 (exact, TF32 off) unless asked (`--precision` on run and eval).
    "precision": "auto",
    "inference_precision": "fp32",
    # auto: channels-last memory for training and mixed-precision inference; exact fp32 inference keeps the
    # original's NCHW layout (oneDNN's channels-last kernels round differently).
    "channels_last": "auto",
    "compile": False,  # torch.compile the inference path
    "workers": 0,
    # Cropping: the original's rule (`3fabrec`) or one exact affine warp (`affine`); frame_origin is the
    # coordinate of the top-left pixel in the frame the model learned (0: ours; 1: released 300-W models,
    # trained on raw .pts). The dataset's crop-box extension and frame, the crop cache and the resume folder
    # come from the run context (fabrec_bench.models.RunContext).
    "crop_rule": "3fabrec",
    "frame_origin": 0.0,
    "images_per_epoch_grid": 8,
    "grid_every": 0,  # write a landmark grid every N epochs (0: about ten per run, and the last)
}
