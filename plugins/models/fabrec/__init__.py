"""The 3FabRec model (CVPR 2020): adversarial autoencoder + interleaved transfer layers for landmarks.

networks.py (Q, P, D_z, D, the landmark head), heatmaps.py (targets and batched decoding), training.py
(stage 1 and stage 2 loops), model.py (the fabrec-bench model plugin and checkpoints).
"""
