"""STAR (Zhou et al., CVPR 2023; ZhenglinZhou/STAR): its released stacked-hourglass checkpoints, run as its test
runs them. Its licence is unclear, so nothing here is copied from it: the network, crop and decoding are written
from the facts of its code (the module names, which a checkpoint's keys fix, and the arithmetic).

network.py (four hourglasses with CoordConv and the AAM heads; soft-argmax decoding), preprocess.py (centre and
scale, the perspective-warp crop, ADNet's metadata files), releases.py, options.py, model.py, plugin.py.
Importing this package loads no torch.
"""
