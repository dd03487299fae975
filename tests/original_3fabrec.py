"""What the original 3FabRec computes for a face, written out step by step, and snapshots in its layout.

Shared by the fidelity tests: `random_snapshot` writes saae.mdl + meta.json as the original code does;
`original_prediction` crops as the original (zero-pad, slice, bicubic resize to 363, centre 256), normalises
(RGB / 255 minus the mean), runs our network in fp32 NCHW, decodes (9 x 9 blur, argmax) and maps back.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import torch

from fabrec_bench.faces.crops import fabrec_region
from fabrec_bench.types import FaceSample
from fabrec_bench_plugins.models.fabrec.heatmaps import decode
from fabrec_bench_plugins.models.fabrec.networks import Fabrec

MEAN = torch.tensor([0.518, 0.418, 0.361]).view(1, 3, 1, 1)


def random_snapshot(folder, points: int, input_size: int = 256, seed: int = 0) -> Fabrec:
    """An original-layout snapshot with random weights and random BatchNorm statistics."""
    torch.manual_seed(seed)
    net = Fabrec(points, input_size).eval()
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.2)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)
    folder.mkdir(parents=True)
    torch.save({"arch": "ResNet", "z_dim": 99, "input_size": input_size, "state_dict": net.state_dict()},
               folder / "saae.mdl")
    (folder / "meta.json").write_text(json.dumps({"epoch": 150, "total_iter": 2589834}))
    return net


def original_prediction(net: Fabrec, sample: FaceSample, extension, frame_offset: float = 0.0) -> np.ndarray:
    """What the original computes for one face, in our 0-based image frame."""
    rgb = cv2.imread(str(sample.image_path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)[..., ::-1]
    box = np.asarray(sample.box_px) + frame_offset
    tl, br = fabrec_region(box, extension, 256)
    h, w = rgb.shape[:2]
    padded = np.pad(rgb, ((h, h), (w, w), (0, 0)))
    tlp, brp = tl + (w, h), br + (w, h)
    dilate = -np.minimum(tlp, 0)
    padded = np.pad(padded, ((dilate[1], dilate[1]), (dilate[0], dilate[0]), (0, 0)))
    tlp, brp = tlp + dilate, brp + dilate
    roi = cv2.resize(padded[tlp[1]:brp[1], tlp[0]:brp[0]], (363, 363), interpolation=cv2.INTER_CUBIC)
    crop = roi[53:309, 53:309]
    x = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None].float() / 255.0 - MEAN
    with torch.no_grad():
        in_crop = decode(net.heatmaps(x), 256)[0].double().numpy()
    return (in_crop + 53) * (br - tl) / 363 + tl - frame_offset
