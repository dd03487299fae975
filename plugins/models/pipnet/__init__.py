"""PIPNet (Jin, Liao and Shao, IJCV 2021; jhb86253817/PIPNet, MIT licence), run as its own test code runs it.

preprocess.py (its per-dataset crop boxes, label fractions and mean face: lib/preprocess.py), network.py (the
ResNet backbones with its five 1x1 heads: lib/networks.py), decoding.py (the argmax cell plus offsets, merged
with the neighbours' votes: lib/functions.py, lib/test.py), releases.py (the released checkpoints), model.py
(the model adapter and checkpoint layouts), plugin.py (registration). Importing this package loads no torch.
"""
