"""The 3FabRec model (CVPR 2020): adversarial autoencoder + interleaved transfer layers for landmarks.

networks.py (Q, P, D_z, D, the landmark head), heatmaps.py (targets placed as the original places them, and
batched decoding), losses.py (SSIM contrast-structure, BCE), training.py (the stage-1 and stage-2 steps),
autoencoder.py (stage 1), model.py (the model adapter: stage 2, inference), checkpoints.py (ours and released
snapshots), resume.py (where each stage keeps its resume state), defaults.py (options), plugin.py
(registration and the `autoencoder` command). The epoch loop, resume state, precision choice and torchrun
support are the core's, shared by every torch model (fabrec_bench.torch_helpers).
"""
