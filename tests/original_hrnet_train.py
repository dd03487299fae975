"""HRNet-Facial's training step written out from its source (HRNet/HRNet-Facial-Landmark-Detection at f776dbe),
for tests to compare fabrec-bench's HRNet recipe with. Test code only: not imported by fabrec-bench.

- lib/datasets/wflw.py (and face300w.py, cofw.py, aflw.py, the same): __getitem__ with is_train.
- lib/utils/transforms.py: fliplr_joints with MATCHED_PARTS, get_transform and transform_pixel with rotation,
  crop() with the rotation's padding and SciPy 1.2's imrotate, generate_target.
- lib/models/hrnet.py: init_weights. lib/core/function.py: train's step. tools/train.py: Adam, MultiStepLR as
  PyTorch 1.0 (its requirement) steps it before each epoch.
"""

from __future__ import annotations

import random
from bisect import bisect_right

import numpy as np
import torch
from original_hrnet import MEAN, STD, crop, transform_pixel

MATCHED_PARTS = {
    "300W": ([1, 17], [2, 16], [3, 15], [4, 14], [5, 13], [6, 12], [7, 11], [8, 10],
             [18, 27], [19, 26], [20, 25], [21, 24], [22, 23],
             [32, 36], [33, 35],
             [37, 46], [38, 45], [39, 44], [40, 43], [41, 48], [42, 47],
             [49, 55], [50, 54], [51, 53], [62, 64], [61, 65], [68, 66], [59, 57], [60, 56]),
    "AFLW": ([1, 6], [2, 5], [3, 4], [7, 12], [8, 11], [9, 10], [13, 15], [16, 18]),
    "COFW": ([1, 2], [5, 7], [3, 4], [6, 8], [9, 10], [11, 12], [13, 15], [17, 18], [14, 16], [19, 20], [23, 24]),
    "WFLW": ([0, 32], [1, 31], [2, 30], [3, 29], [4, 28], [5, 27], [6, 26], [7, 25], [8, 24], [9, 23], [10, 22],
             [11, 21], [12, 20], [13, 19], [14, 18], [15, 17],
             [33, 46], [34, 45], [35, 44], [36, 43], [37, 42], [38, 50], [39, 49], [40, 48], [41, 47],
             [60, 72], [61, 71], [62, 70], [63, 69], [64, 68], [65, 75], [66, 74], [67, 73],
             [55, 59], [56, 58],
             [76, 82], [77, 81], [78, 80], [87, 83], [86, 84],
             [88, 92], [89, 91], [95, 93], [96, 97])}


def fliplr_joints(x, width, dataset="aflw"):
    matched_parts = MATCHED_PARTS[dataset]
    x[:, 0] = width - x[:, 0]
    if dataset == "WFLW":
        for pair in matched_parts:
            tmp = x[pair[0], :].copy()
            x[pair[0], :] = x[pair[1], :]
            x[pair[1], :] = tmp
    else:
        for pair in matched_parts:
            tmp = x[pair[0] - 1, :].copy()
            x[pair[0] - 1, :] = x[pair[1] - 1, :]
            x[pair[1] - 1, :] = tmp
    return x


def generate_target(img, pt, sigma, label_type="Gaussian"):
    tmp_size = sigma * 3
    ul = [int(pt[0] - tmp_size), int(pt[1] - tmp_size)]
    br = [int(pt[0] + tmp_size + 1), int(pt[1] + tmp_size + 1)]
    if ul[0] >= img.shape[1] or ul[1] >= img.shape[0] or br[0] < 0 or br[1] < 0:
        return img
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, np.newaxis]
    x0 = y0 = size // 2
    g = np.exp(- ((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma ** 2))
    g_x = max(0, -ul[0]), min(br[0], img.shape[1]) - ul[0]
    g_y = max(0, -ul[1]), min(br[1], img.shape[0]) - ul[1]
    img_x = max(0, ul[0]), min(br[0], img.shape[1])
    img_y = max(0, ul[1]), min(br[1], img.shape[0])
    img[img_y[0]:img_y[1], img_x[0]:img_x[1]] = g[g_y[0]:g_y[1], g_x[0]:g_x[1]]
    return img


def get_item(img, pts, scale, center_w, center_h, dataset="WFLW"):
    """__getitem__ with is_train on an already read image (float32 RGB from PIL, or COFW's uint8)."""
    center = torch.Tensor([center_w, center_h])
    pts = pts.astype("float").reshape(-1, 2)
    scale *= 1.25
    nparts = pts.shape[0]
    scale = scale * (random.uniform(1 - 0.25, 1 + 0.25))
    r = random.uniform(-30, 30) if random.random() <= 0.6 else 0
    if random.random() <= 0.5:
        img = np.fliplr(img)
        pts = fliplr_joints(pts, width=img.shape[1], dataset=dataset)
        center[0] = img.shape[1] - center[0]
    img = crop(img, center, scale, [256, 256], rot=r)
    target = np.zeros((nparts, 64, 64))
    tpts = pts.copy()
    for i in range(nparts):
        if tpts[i, 1] > 0:
            tpts[i, 0:2] = transform_pixel(tpts[i, 0:2] + 1, center, scale, [64, 64], rot=r)
            target[i] = generate_target(target[i], tpts[i] - 1, 1.5, label_type="Gaussian")
    img = img.astype(np.float32)
    img = (img / 255.0 - MEAN) / STD
    img = img.transpose([2, 0, 1])
    return torch.from_numpy(img), torch.Tensor(target), r


def init_weights(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.001)
        elif isinstance(m, torch.nn.BatchNorm2d):
            torch.nn.init.constant_(m.weight, 1)
            torch.nn.init.constant_(m.bias, 0)


def train_step(model, inp, target, optimizer):
    output = model(inp)
    loss = torch.nn.MSELoss()(output, target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def pytorch10_multistep_rates(base_lr=1e-4, milestones=(30, 50), gamma=0.1, epochs=60):
    """tools/train.py's loop under PyTorch 1.0's _LRScheduler: made with last_epoch -1, then step() before each
    epoch sets last_epoch to the epoch and the rate to base_lr * gamma ** bisect_right(milestones, epoch)."""
    return [base_lr * gamma ** bisect_right(list(milestones), epoch) for epoch in range(epochs)]
