"""FAN (Bulat and Tzimiropoulos, ICCV 2017), the 2D-FAN-4 of 1adrianb/face-alignment (BSD-3-Clause), run as its
FaceAlignment API runs it on given face boxes.

network.py (four stacked hourglasses; the .pth.tar state dicts and the TorchScript releases), preprocess.py
(centre and scale from a box, its crop), decoding.py (argmax, the quarter-pixel shift, the inverse transform to
whole pixels), releases.py, options.py, model.py, plugin.py. Importing this package loads no torch.
"""
