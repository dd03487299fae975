"""HRNetV2-W18 for faces (Wang et al., TPAMI 2020; HRNet/HRNet-Facial-Landmark-Detection, MIT licence), run as
its own test code (tools/test.py) runs it; mmpose's release of the same network loads too.

network.py (timm's HRNet-W18 backbone with HRNet-Facial's fusion upsampling, and the landmark head; both
checkpoint layouts), preprocess.py (centre and scale, crop() with SciPy's old imresize), decoding.py (argmax,
the quarter-pixel shift, the inverse transform to whole pixels), releases.py, options.py, model.py, plugin.py.
Importing this package loads no torch.
"""
