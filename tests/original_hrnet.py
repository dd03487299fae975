"""HRNet-Facial's test pipeline written out step by step from its source (HRNet/HRNet-Facial-Landmark-Detection
at f776dbe8), for tests to compare fabrec-bench's `hrnet` model with. Test code only.

- lib/models/hrnet.py: HighResolutionNet (HRNetV2-W18, experiments/*/face_alignment_*_hrnet_w18.yaml).
- lib/datasets/*.py __getitem__ (test): centre and scale x 1.25, crop(), /255, ImageNet mean and std.
- lib/utils/transforms.py: crop, get_transform, transform_pixel, transform_preds; SciPy 1.0-1.2's
  scipy.misc.imresize (bytescale, then PIL bilinear), which crop() calls.
- lib/core/evaluation.py: get_preds, decode_preds, compute_nme.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

BN_MOMENTUM = 0.01

# -- lib/models/hrnet.py ----------------------------------------------------------------------------------


def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out += residual
        return self.relu(out)


class HighResolutionModule(nn.Module):
    def __init__(self, num_branches, block, num_blocks, num_inchannels, num_channels, multi_scale_output=True):
        super().__init__()
        self.num_inchannels = num_inchannels
        self.num_branches = num_branches
        self.multi_scale_output = multi_scale_output
        self.branches = nn.ModuleList([self._make_one_branch(i, block, num_blocks, num_channels)
                                       for i in range(num_branches)])
        self.fuse_layers = self._make_fuse_layers()
        self.relu = nn.ReLU(inplace=True)

    def _make_one_branch(self, branch_index, block, num_blocks, num_channels, stride=1):
        downsample = None
        if stride != 1 or self.num_inchannels[branch_index] != num_channels[branch_index] * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.num_inchannels[branch_index], num_channels[branch_index] * block.expansion,
                          kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(num_channels[branch_index] * block.expansion, momentum=BN_MOMENTUM))
        layers = [block(self.num_inchannels[branch_index], num_channels[branch_index], stride, downsample)]
        self.num_inchannels[branch_index] = num_channels[branch_index] * block.expansion
        for _ in range(1, num_blocks[branch_index]):
            layers.append(block(self.num_inchannels[branch_index], num_channels[branch_index]))
        return nn.Sequential(*layers)

    def _make_fuse_layers(self):
        if self.num_branches == 1:
            return None
        num_branches, num_inchannels = self.num_branches, self.num_inchannels
        fuse_layers = []
        for i in range(num_branches if self.multi_scale_output else 1):
            fuse_layer = []
            for j in range(num_branches):
                if j > i:
                    fuse_layer.append(nn.Sequential(
                        nn.Conv2d(num_inchannels[j], num_inchannels[i], 1, 1, 0, bias=False),
                        nn.BatchNorm2d(num_inchannels[i], momentum=BN_MOMENTUM)))
                elif j == i:
                    fuse_layer.append(None)
                else:
                    conv3x3s = []
                    for k in range(i - j):
                        if k == i - j - 1:
                            conv3x3s.append(nn.Sequential(
                                nn.Conv2d(num_inchannels[j], num_inchannels[i], 3, 2, 1, bias=False),
                                nn.BatchNorm2d(num_inchannels[i], momentum=BN_MOMENTUM)))
                        else:
                            conv3x3s.append(nn.Sequential(
                                nn.Conv2d(num_inchannels[j], num_inchannels[j], 3, 2, 1, bias=False),
                                nn.BatchNorm2d(num_inchannels[j], momentum=BN_MOMENTUM), nn.ReLU(inplace=True)))
                    fuse_layer.append(nn.Sequential(*conv3x3s))
            fuse_layers.append(nn.ModuleList(fuse_layer))
        return nn.ModuleList(fuse_layers)

    def forward(self, x):
        if self.num_branches == 1:
            return [self.branches[0](x[0])]
        for i in range(self.num_branches):
            x[i] = self.branches[i](x[i])
        x_fuse = []
        for i in range(len(self.fuse_layers)):
            y = x[0] if i == 0 else self.fuse_layers[i][0](x[0])
            for j in range(1, self.num_branches):
                if i == j:
                    y = y + x[j]
                elif j > i:
                    y = y + F.interpolate(self.fuse_layers[i][j](x[j]), size=[x[i].shape[2], x[i].shape[3]],
                                          mode="bilinear")
                else:
                    y = y + self.fuse_layers[i][j](x[j])
            x_fuse.append(self.relu(y))
        return x_fuse


W18 = {"STAGE2": (1, 2, [4, 4], [18, 36]), "STAGE3": (4, 3, [4, 4, 4], [18, 36, 72]),
       "STAGE4": (3, 4, [4, 4, 4, 4], [18, 36, 72, 144])}  # NUM_MODULES, NUM_BRANCHES, NUM_BLOCKS, NUM_CHANNELS


class HighResolutionNet(nn.Module):
    """HRNetV2-W18 as the face_alignment_*_hrnet_w18.yaml configs build it (BASIC blocks, FINAL_CONV_KERNEL 1)."""

    def __init__(self, num_joints):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, kernel_size=3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.sf = nn.Softmax(dim=1)
        self.layer1 = self._make_layer(Bottleneck, 64, 64, 4)
        self.transition1 = self._make_transition_layer([256], W18["STAGE2"][3])
        self.stage2, pre = self._make_stage(W18["STAGE2"], list(W18["STAGE2"][3]))
        self.transition2 = self._make_transition_layer(pre, W18["STAGE3"][3])
        self.stage3, pre = self._make_stage(W18["STAGE3"], list(W18["STAGE3"][3]))
        self.transition3 = self._make_transition_layer(pre, W18["STAGE4"][3])
        self.stage4, pre = self._make_stage(W18["STAGE4"], list(W18["STAGE4"][3]))
        final_inp_channels = sum(pre)
        self.head = nn.Sequential(
            nn.Conv2d(final_inp_channels, final_inp_channels, kernel_size=1, stride=1, padding=0),
            nn.BatchNorm2d(final_inp_channels, momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(final_inp_channels, num_joints, kernel_size=1, stride=1, padding=0))

    def _make_transition_layer(self, num_channels_pre_layer, num_channels_cur_layer):
        num_branches_cur, num_branches_pre = len(num_channels_cur_layer), len(num_channels_pre_layer)
        transition_layers = []
        for i in range(num_branches_cur):
            if i < num_branches_pre:
                if num_channels_cur_layer[i] != num_channels_pre_layer[i]:
                    transition_layers.append(nn.Sequential(
                        nn.Conv2d(num_channels_pre_layer[i], num_channels_cur_layer[i], 3, 1, 1, bias=False),
                        nn.BatchNorm2d(num_channels_cur_layer[i], momentum=BN_MOMENTUM), nn.ReLU(inplace=True)))
                else:
                    transition_layers.append(None)
            else:
                conv3x3s = []
                for j in range(i + 1 - num_branches_pre):
                    inchannels = num_channels_pre_layer[-1]
                    outchannels = num_channels_cur_layer[i] if j == i - num_branches_pre else inchannels
                    conv3x3s.append(nn.Sequential(nn.Conv2d(inchannels, outchannels, 3, 2, 1, bias=False),
                                                  nn.BatchNorm2d(outchannels, momentum=BN_MOMENTUM),
                                                  nn.ReLU(inplace=True)))
                transition_layers.append(nn.Sequential(*conv3x3s))
        return nn.ModuleList(transition_layers)

    def _make_layer(self, block, inplanes, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes * block.expansion, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion, momentum=BN_MOMENTUM))
        layers = [block(inplanes, planes, stride, downsample)]
        inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(inplanes, planes))
        return nn.Sequential(*layers)

    def _make_stage(self, layer_config, num_inchannels):
        num_modules, num_branches, num_blocks, num_channels = layer_config
        modules = []
        for _ in range(num_modules):
            modules.append(HighResolutionModule(num_branches, BasicBlock, num_blocks, num_inchannels, num_channels,
                                                True))
            num_inchannels = modules[-1].num_inchannels
        return nn.Sequential(*modules), num_inchannels

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        x = self.layer1(x)
        x_list = [self.transition1[i](x) if self.transition1[i] is not None else x for i in range(2)]
        y_list = self.stage2(x_list)
        x_list = [self.transition2[i](y_list[-1]) if self.transition2[i] is not None else y_list[i]
                  for i in range(3)]
        y_list = self.stage3(x_list)
        x_list = [self.transition3[i](y_list[-1]) if self.transition3[i] is not None else y_list[i]
                  for i in range(4)]
        x = self.stage4(x_list)
        height, width = x[0].size(2), x[0].size(3)
        x1 = F.interpolate(x[1], size=(height, width), mode="bilinear", align_corners=False)
        x2 = F.interpolate(x[2], size=(height, width), mode="bilinear", align_corners=False)
        x3 = F.interpolate(x[3], size=(height, width), mode="bilinear", align_corners=False)
        return self.head(torch.cat([x[0], x1, x2, x3], 1))


# -- SciPy 1.0-1.2 scipy/misc/pilutil.py (imresize, which crop() calls) -----------------------------------


def bytescale(data, cmin=None, cmax=None, high=255, low=0):
    if data.dtype == np.uint8:
        return data
    if cmin is None:
        cmin = data.min()
    if cmax is None:
        cmax = data.max()
    cscale = cmax - cmin
    if cscale == 0:
        cscale = 1
    # NumPy 1.x (the code's time): a Python float over a float32 scalar is a float64, which the float32 array
    # product then rounds to float32; a Python float gives the same under NumPy 2
    scale = float(high - low) / float(cscale)
    bytedata = (data - cmin) * scale + low
    return (bytedata.clip(low, high) + 0.5).astype(np.uint8)


def imresize(arr, size):
    """imresize(arr, size) for an (H, W, 3) array: toimage (bytescale), PIL bilinear resize to (size[1],
    size[0]), back to an array."""
    im = Image.frombytes("RGB", (arr.shape[1], arr.shape[0]), bytescale(np.asarray(arr)).tobytes())
    return np.array(im.resize((size[1], size[0]), resample=2))


# -- lib/utils/transforms.py ------------------------------------------------------------------------------


def get_transform(center, scale, output_size, rot=0):
    h = 200 * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(output_size[1]) / h
    t[1, 1] = float(output_size[0]) / h
    t[0, 2] = output_size[1] * (-float(center[0]) / h + .5)
    t[1, 2] = output_size[0] * (-float(center[1]) / h + .5)
    t[2, 2] = 1
    if not rot == 0:
        rot = -rot
        rot_mat = np.zeros((3, 3))
        rot_rad = rot * np.pi / 180
        sn, cs = np.sin(rot_rad), np.cos(rot_rad)
        rot_mat[0, :2] = [cs, -sn]
        rot_mat[1, :2] = [sn, cs]
        rot_mat[2, 2] = 1
        t_mat = np.eye(3)
        t_mat[0, 2] = -output_size[1] / 2
        t_mat[1, 2] = -output_size[0] / 2
        t_inv = t_mat.copy()
        t_inv[:2, 2] *= -1
        t = np.dot(t_inv, np.dot(rot_mat, np.dot(t_mat, t)))
    return t


def transform_pixel(pt, center, scale, output_size, invert=0, rot=0):
    t = get_transform(center, scale, output_size, rot=rot)
    if invert:
        t = np.linalg.inv(t)
    new_pt = np.array([pt[0] - 1, pt[1] - 1, 1.]).T
    new_pt = np.dot(t, new_pt)
    return new_pt[:2].astype(int) + 1


def imrotate(arr, angle):
    """SciPy 1.2's imrotate(arr, angle, interp='bilinear'): toimage (bytescale), PIL rotate, fromimage (the
    training crop's rotation)."""
    im = Image.frombytes("RGB", (arr.shape[1], arr.shape[0]), bytescale(np.asarray(arr)).tobytes())
    return np.array(im.rotate(angle, resample=2))


def crop(img, center, scale, output_size, rot=0):
    center_new = center.clone()
    ht, wd = img.shape[0], img.shape[1]
    sf = scale * 200.0 / output_size[0]
    if sf < 2:
        sf = 1
    else:
        new_size = int(math.floor(max(ht, wd) / sf))
        new_ht = int(math.floor(ht / sf))
        new_wd = int(math.floor(wd / sf))
        if new_size < 2:
            return torch.zeros(output_size[0], output_size[1], img.shape[2])
        img = imresize(img, [new_ht, new_wd])
        center_new[0] = center_new[0] * 1.0 / sf
        center_new[1] = center_new[1] * 1.0 / sf
        scale = scale / sf
    ul = np.array(transform_pixel([0, 0], center_new, scale, output_size, invert=1))
    br = np.array(transform_pixel(output_size, center_new, scale, output_size, invert=1))
    pad = int(np.linalg.norm(br - ul) / 2 - float(br[1] - ul[1]) / 2)
    if not rot == 0:
        ul -= pad
        br += pad
    new_shape = [br[1] - ul[1], br[0] - ul[0]]
    if len(img.shape) > 2:
        new_shape += [img.shape[2]]
    new_img = np.zeros(new_shape, dtype=np.float32)
    new_x = max(0, -ul[0]), min(br[0], len(img[0])) - ul[0]
    new_y = max(0, -ul[1]), min(br[1], len(img)) - ul[1]
    old_x = max(0, ul[0]), min(len(img[0]), br[0])
    old_y = max(0, ul[1]), min(len(img), br[1])
    new_img[new_y[0]:new_y[1], new_x[0]:new_x[1]] = img[old_y[0]:old_y[1], old_x[0]:old_x[1]]
    if not rot == 0:
        new_img = imrotate(new_img, rot)
        new_img = new_img[pad:-pad, pad:-pad]
    return imresize(new_img, output_size)


def transform_preds(coords, center, scale, output_size):
    for p in range(coords.size(0)):
        coords[p, 0:2] = torch.tensor(transform_pixel(coords[p, 0:2], center, scale, output_size, 1, 0))
    return coords


# -- lib/datasets/wflw.py __getitem__ at test time -----------------------------------------------------------


MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def dataset_input(image_path, scale, center_w, center_h):
    """(input CHW float32, centre tensor, scale) as the dataset gives them to the test."""
    center = torch.Tensor([center_w, center_h])
    scale *= 1.25
    img = np.array(Image.open(image_path).convert("RGB"), dtype=np.float32)
    img = crop(img, center, scale, [256, 256], rot=0)
    img = img.astype(np.float32)
    img = (img / 255.0 - MEAN) / STD
    return img.transpose([2, 0, 1]), center, scale


def cofw_centre_scale(pts):
    """lib/datasets/cofw.py: centre and scale from the landmarks' extent (before the x 1.25)."""
    xmin, xmax = np.min(pts[:, 0]), np.max(pts[:, 0])
    ymin, ymax = np.min(pts[:, 1]), np.max(pts[:, 1])
    center_w = (math.floor(xmin) + math.ceil(xmax)) / 2.0
    center_h = (math.floor(ymin) + math.ceil(ymax)) / 2.0
    scale = max(math.ceil(xmax) - math.floor(xmin), math.ceil(ymax) - math.floor(ymin)) / 200.0
    return scale, center_w, center_h


# -- lib/core/evaluation.py -------------------------------------------------------------------------------


def get_preds(scores):
    maxval, idx = torch.max(scores.view(scores.size(0), scores.size(1), -1), 2)
    maxval = maxval.view(scores.size(0), scores.size(1), 1)
    idx = idx.view(scores.size(0), scores.size(1), 1) + 1
    preds = idx.repeat(1, 1, 2).float()
    preds[:, :, 0] = (preds[:, :, 0] - 1) % scores.size(3) + 1
    preds[:, :, 1] = torch.floor((preds[:, :, 1] - 1) / scores.size(3)) + 1
    pred_mask = maxval.gt(0).repeat(1, 1, 2).float()
    preds *= pred_mask
    return preds


def decode_preds(output, center, scale, res):
    coords = get_preds(output)
    coords = coords.cpu()
    for n in range(coords.size(0)):
        for p in range(coords.size(1)):
            hm = output[n][p]
            px = int(math.floor(coords[n][p][0]))
            py = int(math.floor(coords[n][p][1]))
            if (px > 1) and (px < res[0]) and (py > 1) and (py < res[1]):
                diff = torch.Tensor([hm[py - 1][px] - hm[py - 1][px - 2], hm[py][px - 1] - hm[py - 2][px - 1]])
                coords[n][p] += diff.sign() * .25
    coords += 0.5
    preds = coords.clone()
    for i in range(coords.size(0)):
        preds[i] = transform_preds(coords[i], center[i], scale[i], res)
    return preds


def compute_nme(preds, targets, box_size=None):
    preds = preds.numpy()
    target = targets.cpu().numpy()
    N, L = preds.shape[0], preds.shape[1]
    rmse = np.zeros(N)
    for i in range(N):
        pts_pred, pts_gt = preds[i], target[i]
        if L == 19:
            interocular = box_size[i]
        elif L == 29:
            interocular = np.linalg.norm(pts_gt[8] - pts_gt[9])
        elif L == 68:
            interocular = np.linalg.norm(pts_gt[36] - pts_gt[45])
        else:
            interocular = np.linalg.norm(pts_gt[60] - pts_gt[72])
        rmse[i] = np.sum(np.linalg.norm(pts_pred - pts_gt, axis=1)) / (interocular * L)
    return rmse
