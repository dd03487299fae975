"""face-alignment's 2D pipeline written out step by step from its source (1adrianb/face-alignment, v1.5.0 and,
where they differ, v1.4.1), for tests to compare fabrec-bench's `fan` model with. Test code only.

- face_alignment/models/fan.py: ConvBlock, HourGlass, FAN (forward returns every stack's heatmaps).
- face_alignment/utils.py: transform, crop, get_preds_fromhm / _get_preds_fromhm, transform_np, shuffle_lr, flip
  (numba's @jit left out: the same arithmetic in NumPy).
- face_alignment/api.py: get_landmarks_from_image on given boxes (v1.5.0: float64 centre, batches of
  max_batch_size, flip_input; v1.4.1: a torch.FloatTensor centre, one face at a time).
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# -- face_alignment/models/fan.py ---------------------------------------------------------------------------


def conv3x3(in_planes, out_planes, strd=1, padding=1, bias=False):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=strd, padding=padding, bias=bias)


class ConvBlock(nn.Module):
    def __init__(self, in_planes, out_planes):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = conv3x3(in_planes, int(out_planes / 2))
        self.bn2 = nn.BatchNorm2d(int(out_planes / 2))
        self.conv2 = conv3x3(int(out_planes / 2), int(out_planes / 4))
        self.bn3 = nn.BatchNorm2d(int(out_planes / 4))
        self.conv3 = conv3x3(int(out_planes / 4), int(out_planes / 4))
        if in_planes != out_planes:
            self.downsample = nn.Sequential(nn.BatchNorm2d(in_planes), nn.ReLU(True),
                                            nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=1, bias=False))
        else:
            self.downsample = None

    def forward(self, x):
        residual = x
        out1 = self.conv1(F.relu(self.bn1(x), True))
        out2 = self.conv2(F.relu(self.bn2(out1), True))
        out3 = self.conv3(F.relu(self.bn3(out2), True))
        out3 = torch.cat((out1, out2, out3), 1)
        if self.downsample is not None:
            residual = self.downsample(residual)
        out3 += residual
        return out3


class HourGlass(nn.Module):
    def __init__(self, num_modules, depth, num_features):
        super().__init__()
        self.num_modules, self.depth, self.features = num_modules, depth, num_features
        self._generate_network(self.depth)

    def _generate_network(self, level):
        self.add_module("b1_" + str(level), ConvBlock(self.features, self.features))
        self.add_module("b2_" + str(level), ConvBlock(self.features, self.features))
        if level > 1:
            self._generate_network(level - 1)
        else:
            self.add_module("b2_plus_" + str(level), ConvBlock(self.features, self.features))
        self.add_module("b3_" + str(level), ConvBlock(self.features, self.features))

    def _forward(self, level, inp):
        up1 = self._modules["b1_" + str(level)](inp)
        low1 = F.avg_pool2d(inp, 2, stride=2)
        low1 = self._modules["b2_" + str(level)](low1)
        if level > 1:
            low2 = self._forward(level - 1, low1)
        else:
            low2 = self._modules["b2_plus_" + str(level)](low1)
        low3 = self._modules["b3_" + str(level)](low2)
        up2 = F.interpolate(low3, scale_factor=2, mode="nearest")
        return up1 + up2

    def forward(self, x):
        return self._forward(self.depth, x)


class FAN(nn.Module):
    def __init__(self, num_modules=4):
        super().__init__()
        self.num_modules = num_modules
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = ConvBlock(64, 128)
        self.conv3 = ConvBlock(128, 128)
        self.conv4 = ConvBlock(128, 256)
        for hg_module in range(self.num_modules):
            self.add_module("m" + str(hg_module), HourGlass(1, 4, 256))
            self.add_module("top_m_" + str(hg_module), ConvBlock(256, 256))
            self.add_module("conv_last" + str(hg_module), nn.Conv2d(256, 256, kernel_size=1, stride=1, padding=0))
            self.add_module("bn_end" + str(hg_module), nn.BatchNorm2d(256))
            self.add_module("l" + str(hg_module), nn.Conv2d(256, 68, kernel_size=1, stride=1, padding=0))
            if hg_module < self.num_modules - 1:
                self.add_module("bl" + str(hg_module), nn.Conv2d(256, 256, kernel_size=1, stride=1, padding=0))
                self.add_module("al" + str(hg_module), nn.Conv2d(68, 256, kernel_size=1, stride=1, padding=0))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)), True)
        x = F.avg_pool2d(self.conv2(x), 2, stride=2)
        x = self.conv3(x)
        x = self.conv4(x)
        previous = x
        outputs = []
        for i in range(self.num_modules):
            hg = self._modules["m" + str(i)](previous)
            ll = self._modules["top_m_" + str(i)](hg)
            ll = F.relu(self._modules["bn_end" + str(i)](self._modules["conv_last" + str(i)](ll)), True)
            tmp_out = self._modules["l" + str(i)](ll)
            outputs.append(tmp_out)
            if i < self.num_modules - 1:
                ll = self._modules["bl" + str(i)](ll)
                tmp_out_ = self._modules["al" + str(i)](tmp_out)
                previous = previous + ll + tmp_out_
        return outputs


# -- face_alignment/utils.py --------------------------------------------------------------------------------


def transform(point, center, scale, resolution, invert=False):
    _pt = torch.ones(3)
    _pt[0] = point[0]
    _pt[1] = point[1]
    h = 200.0 * scale
    t = torch.eye(3)
    t[0, 0] = resolution / h
    t[1, 1] = resolution / h
    t[0, 2] = resolution * (-center[0] / h + 0.5)
    t[1, 2] = resolution * (-center[1] / h + 0.5)
    if invert:
        t = torch.inverse(t)
    new_point = (torch.matmul(t, _pt))[0:2]
    return new_point.int()


def crop(image, center, scale, resolution=256.0):
    ul = transform([1, 1], center, scale, resolution, True)
    br = transform([resolution, resolution], center, scale, resolution, True)
    newDim = np.array([br[1] - ul[1], br[0] - ul[0], image.shape[2]], dtype=np.int32)
    newImg = np.zeros(newDim, dtype=np.uint8)
    ht = image.shape[0]
    wd = image.shape[1]
    newX = np.array([max(1, -ul[0] + 1), min(br[0], wd) - ul[0]], dtype=np.int32)
    newY = np.array([max(1, -ul[1] + 1), min(br[1], ht) - ul[1]], dtype=np.int32)
    oldX = np.array([max(1, ul[0] + 1), min(br[0], wd)], dtype=np.int32)
    oldY = np.array([max(1, ul[1] + 1), min(br[1], ht)], dtype=np.int32)
    newImg[newY[0] - 1:newY[1], newX[0] - 1:newX[1]] = image[oldY[0] - 1:oldY[1], oldX[0] - 1:oldX[1], :]
    newImg = cv2.resize(newImg, dsize=(int(resolution), int(resolution)), interpolation=cv2.INTER_LINEAR)
    return newImg


def transform_np(point, center, scale, resolution, invert=False):
    _pt = np.ones(3)
    _pt[0] = point[0]
    _pt[1] = point[1]
    h = 200.0 * scale
    t = np.eye(3)
    t[0, 0] = resolution / h
    t[1, 1] = resolution / h
    t[0, 2] = resolution * (-center[0] / h + 0.5)
    t[1, 2] = resolution * (-center[1] / h + 0.5)
    if invert:
        t = np.ascontiguousarray(np.linalg.pinv(t))
    new_point = np.dot(t, _pt)[0:2]
    return new_point.astype(np.int32)


def get_preds_fromhm(hm, center=None, scale=None):
    B, C, H, W = hm.shape
    hm_reshape = hm.reshape(B, C, H * W)
    idx = np.argmax(hm_reshape, axis=-1)
    preds, preds_orig = _get_preds_fromhm(hm, idx, center, scale)
    return preds, preds_orig


def _get_preds_fromhm(hm, idx, center=None, scale=None):
    B, C, H, W = hm.shape
    idx += 1
    preds = idx.repeat(2).reshape(B, C, 2).astype(np.float32)
    preds[:, :, 0] = (preds[:, :, 0] - 1) % W + 1
    preds[:, :, 1] = np.floor((preds[:, :, 1] - 1) / H) + 1
    for i in range(B):
        for j in range(C):
            hm_ = hm[i, j, :]
            pX, pY = int(preds[i, j, 0]) - 1, int(preds[i, j, 1]) - 1
            if pX > 0 and pX < 63 and pY > 0 and pY < 63:
                diff = np.array([hm_[pY, pX + 1] - hm_[pY, pX - 1], hm_[pY + 1, pX] - hm_[pY - 1, pX]])
                preds[i, j] += np.sign(diff) * 0.25
    preds -= 0.5
    preds_orig = np.zeros_like(preds)
    if center is not None and scale is not None:
        for i in range(B):
            for j in range(C):
                preds_orig[i, j] = transform_np(preds[i, j], center, scale, H, True)
    return preds, preds_orig


def shuffle_lr(parts, pairs=None):
    if pairs is None:
        pairs = [16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                 27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40, 54, 53, 52, 51,
                 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]
    if parts.ndimension() == 3:
        parts = parts[pairs, ...]
    else:
        parts = parts[:, pairs, ...]
    return parts


def flip(tensor, is_label=False):
    if not torch.is_tensor(tensor):
        tensor = torch.from_numpy(tensor)
    if is_label:
        tensor = shuffle_lr(tensor).flip(tensor.ndimension() - 1)
    else:
        tensor = tensor.flip(tensor.ndimension() - 1)
    return tensor


# -- face_alignment/api.py, get_landmarks_from_image with detected_faces given --------------------------------


def landmarks_v15(net, image, detected_faces, flip_input=True, max_batch_size=1, reference_scale=195):
    """v1.5.0: float64 centres, crops batched by max_batch_size, the flip test on by default."""
    centers, scales, crops = [], [], []
    for d in detected_faces:
        center = np.array([d[2] - (d[2] - d[0]) / 2.0, d[3] - (d[3] - d[1]) / 2.0])
        center[1] = center[1] - (d[3] - d[1]) * 0.12
        scale = (d[2] - d[0] + d[3] - d[1]) / reference_scale
        centers.append(center)
        scales.append(scale)
        crops.append(crop(image, center, scale).transpose((2, 0, 1)).astype(np.float32) / 255.0)
    all_crops = torch.from_numpy(np.stack(crops))
    out_chunks = []
    with torch.no_grad():
        for start in range(0, len(crops), max_batch_size):
            inp_chunk = all_crops[start:start + max_batch_size]
            out_chunk = net(inp_chunk)[-1].detach()
            if flip_input:
                out_chunk += flip(net(flip(inp_chunk))[-1].detach(), is_label=True)
            out_chunks.append(out_chunk)
    out_batch = torch.cat(out_chunks, dim=0).to(dtype=torch.float32).numpy()
    landmarks = []
    for i in range(len(detected_faces)):
        _, pts_img = get_preds_fromhm(out_batch[i:i + 1], centers[i], scales[i])
        landmarks.append(torch.from_numpy(pts_img).view(68, 2).numpy())
    return landmarks


def landmarks_v14(net, image, detected_faces, flip_input=False, reference_scale=195):
    """v1.4.1: a torch.FloatTensor centre, one face per forward pass, no flip test by default."""
    landmarks = []
    with torch.no_grad():
        for d in detected_faces:
            center = torch.tensor([d[2] - (d[2] - d[0]) / 2.0, d[3] - (d[3] - d[1]) / 2.0])
            center[1] = center[1] - (d[3] - d[1]) * 0.12
            scale = (d[2] - d[0] + d[3] - d[1]) / reference_scale
            inp = crop(image, center, scale)
            inp = torch.from_numpy(inp.transpose((2, 0, 1))).float()
            inp.div_(255.0).unsqueeze_(0)
            out = net(inp)[-1].detach()
            if flip_input:
                out += flip(net(flip(inp))[-1].detach(), is_label=True)
            out = out.to(dtype=torch.float32).numpy()
            _, pts_img = get_preds_fromhm(out, center.numpy(), scale)
            landmarks.append(torch.from_numpy(pts_img).view(68, 2).numpy())
    return landmarks
