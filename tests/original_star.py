"""STAR's test pipeline, computation by computation as its code performs it (ZhenglinZhou/STAR at 9b125749), for
tests to compare fabrec-bench's `star` model with. Test code only; the repository has no licence, so this is a
re-statement of what each step computes, kept in the original's order of operations (which decides rounding),
not a copy.

- lib/backbone/core/coord_conv.py: AddCoordsTh (coordinate channels built by matmul of ones and ranges, then
  permuted), CoordConvTh.
- lib/backbone/stackedHGNetV1.py: ConvBlock, ResBlock, Hourglass, E2HTransform, StackedHGNetV1 (use_AAM).
- lib/dataset/decoder/decoder_default.py: get_coords_from_heatmap.
- lib/dataset/augmentation.py: GetCropMatrix (align_corners=True), Transform; lib/dataset/alignmentDataset.py:
  the BGR image normalised per channel.
- evaluate.py: denorm_points (align_corners=False), postprocess with the inverted matrix.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# conf/alignment.py edge_info: (closed, point indices) per edge; e2h matrix entries are 1 where a point is on an edge
EDGES = {
    98: ((False, tuple(range(0, 33))), (True, tuple(range(33, 42))), (True, tuple(range(42, 51))),
         (False, (51, 52, 53, 54)), (False, (55, 56, 57, 58, 59)), (True, tuple(range(60, 68))),
         (True, tuple(range(68, 76))), (True, tuple(range(76, 88))), (True, tuple(range(88, 96)))),
    68: ((False, tuple(range(0, 17))), (False, tuple(range(17, 22))), (False, tuple(range(22, 27))),
         (False, (27, 28, 29, 30)), (False, (31, 32, 33, 34, 35)), (True, tuple(range(36, 42))),
         (True, tuple(range(42, 48))), (True, tuple(range(48, 60))), (True, tuple(range(60, 68)))),
    29: ((True, (0, 4, 2, 5)), (True, (1, 6, 3, 7)), (True, (8, 12, 10, 13)), (False, (9, 14, 11, 15)),
         (True, (18, 20, 19, 21)), (True, (22, 26, 23, 27)), (True, (22, 24, 23, 25))),
}


def add_coords(x, x_dim, y_dim, heatmap=None, with_boundary=False):
    """AddCoordsTh with with_r: the channels via matmul, permute(0, 3, 2, 1), / (dim - 1) * 2 - 1."""
    batch = x.shape[0]
    xx = torch.matmul(torch.ones([1, y_dim], dtype=torch.int32).to(x).unsqueeze(-1).float(),
                      torch.arange(x_dim, dtype=torch.int32).unsqueeze(0).to(x).unsqueeze(1).float())
    xx = xx.unsqueeze(-1).permute(0, 3, 2, 1)
    yy = torch.matmul(torch.arange(y_dim, dtype=torch.int32).unsqueeze(0).to(x).unsqueeze(-1).float(),
                      torch.ones([1, x_dim], dtype=torch.int32).to(x).unsqueeze(1).float())
    yy = yy.unsqueeze(-1).permute(0, 3, 2, 1)
    xx = (xx / (x_dim - 1)) * 2 - 1
    yy = (yy / (y_dim - 1)) * 2 - 1
    xx, yy = xx.repeat(batch, 1, 1, 1), yy.repeat(batch, 1, 1, 1)
    out = torch.cat([x, xx, yy], dim=1)
    rr = torch.sqrt(torch.pow(xx, 2) + torch.pow(yy, 2))
    out = torch.cat([out, rr / torch.max(rr)], dim=1)
    if with_boundary and heatmap is not None:
        boundary = torch.clamp(heatmap[:, -1:, :, :], 0.0, 1.0)
        zero = torch.zeros_like(xx).to(xx)
        out = torch.cat([out, torch.where(boundary > 0.05, xx, zero), torch.where(boundary > 0.05, yy, zero)], 1)
    return out


class CoordConvTh(nn.Module):
    def __init__(self, x_dim, y_dim, with_boundary, in_channels, out_channels, first_one=False, relu=False,
                 bn=False, **conv):
        super().__init__()
        self.x_dim, self.y_dim, self.with_boundary, self.first_one = x_dim, y_dim, with_boundary, first_one
        extra = 3 + (2 if with_boundary and not first_one else 0)
        self.conv = nn.Conv2d(in_channels=in_channels + extra, out_channels=out_channels, **conv)
        self.relu = nn.ReLU() if relu else None
        self.bn = nn.BatchNorm2d(out_channels) if bn else None

    def forward(self, x, heatmap=None):
        assert (self.with_boundary and not self.first_one) == (heatmap is not None)
        out = self.conv(add_coords(x, self.x_dim, self.y_dim, heatmap, self.with_boundary))
        if self.bn is not None:
            out = self.bn(out)
        if self.relu is not None:
            out = self.relu(out)
        return out


class ConvBlock(nn.Module):
    def __init__(self, inp_dim, out_dim, kernel_size=3, stride=1, bn=False, relu=True):
        super().__init__()
        self.conv = nn.Conv2d(inp_dim, out_dim, kernel_size, stride, padding=(kernel_size - 1) // 2, bias=True)
        self.relu = nn.ReLU() if relu else None
        self.bn = nn.BatchNorm2d(out_dim) if bn else None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        if self.relu is not None:
            x = self.relu(x)
        return x


class ResBlock(nn.Module):
    def __init__(self, inp_dim, out_dim):
        super().__init__()
        mid = out_dim // 2
        self.relu = nn.ReLU()
        self.bn1, self.conv1 = nn.BatchNorm2d(inp_dim), ConvBlock(inp_dim, mid, 1, relu=False)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), ConvBlock(mid, mid, 3, relu=False)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), ConvBlock(mid, out_dim, 1, relu=False)
        self.skip_layer = ConvBlock(inp_dim, out_dim, 1, relu=False)
        self.need_skip = inp_dim != out_dim

    def forward(self, x):
        residual = self.skip_layer(x) if self.need_skip else x
        out = self.conv1(self.relu(self.bn1(x)))
        out = self.conv2(self.relu(self.bn2(out)))
        out = self.conv3(self.relu(self.bn3(out)))
        out += residual
        return out


class Hourglass(nn.Module):
    def __init__(self, n, f, add_coord=False, first_one=False, x_dim=64, y_dim=64):
        super().__init__()
        self.coordconv = CoordConvTh(x_dim, y_dim, True, f, f, first_one=first_one, kernel_size=1, stride=1,
                                     padding=0) if add_coord else None
        self.up1 = ResBlock(f, f)
        self.pool1 = nn.MaxPool2d(kernel_size=2, stride=2)
        self.low1 = ResBlock(f, f)
        self.low2 = Hourglass(n - 1, f) if n > 1 else ResBlock(f, f)
        self.low3 = ResBlock(f, f)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x, heatmap=None):
        if self.coordconv is not None:
            x = self.coordconv(x, heatmap)
        up1 = self.up1(x)
        low3 = self.low3(self.low2(self.low1(self.pool1(x))))
        return up1 + self.up2(low3)


class E2HTransform(nn.Module):
    def __init__(self, edge_info, num_points, num_edges):
        super().__init__()
        m = np.zeros([num_points, num_edges])
        for edge_id, (_, indices) in enumerate(edge_info):
            for point_id in indices:
                m[point_id, edge_id] = 1
        m = torch.from_numpy(m).float()
        self.register_buffer("weight", m.view(m.size(0), m.size(1), 1, 1))
        self.register_buffer("bias", ((m @ torch.ones(m.size(1)).to(m)) < 0.5).to(m))

    def forward(self, edgemaps):
        return F.conv2d(edgemaps, weight=self.weight, bias=self.bias)


def get_coords_from_heatmap(heatmap):
    _, _, h, w = heatmap.shape
    yy, xx = torch.meshgrid(torch.arange(h).float() / (h - 1) * 2 - 1, torch.arange(w).float() / (w - 1) * 2 - 1,
                            indexing="ij")
    yy, xx = yy.view(1, 1, h, w).to(heatmap), xx.view(1, 1, h, w).to(heatmap)
    heatmap_sum = torch.clamp(heatmap.sum([2, 3]), min=1e-6)
    yy_coord = (yy * heatmap).sum([2, 3]) / heatmap_sum
    xx_coord = (xx * heatmap).sum([2, 3]) / heatmap_sum
    return torch.stack([xx_coord, yy_coord], dim=-1)


class StackedHGNetV1(nn.Module):
    """nstack 4, nlevels 4, in_channel 256, add_coord, use_AAM, width = height = 256; forward returns
    (y, fusionmaps, landmarks) where y holds [landmarks, pointmaps, edgemaps] per stack."""

    def __init__(self, points, nstack=4):
        super().__init__()
        edge_info = EDGES[points]
        edges = len(edge_info)
        self.nstack = nstack
        self.pre = nn.Sequential(CoordConvTh(256, 256, False, 3, 64, relu=True, bn=True, kernel_size=7, stride=2,
                                             padding=3),
                                 ResBlock(64, 128), nn.MaxPool2d(kernel_size=2, stride=2), ResBlock(128, 128),
                                 ResBlock(128, 256))
        self.hgs = nn.ModuleList([Hourglass(4, 256, True, i == 0, 64, 64) for i in range(nstack)])
        self.features = nn.ModuleList([nn.Sequential(ResBlock(256, 256), ConvBlock(256, 256, 1, bn=True, relu=True))
                                       for _ in range(nstack)])
        self.out_heatmaps = nn.ModuleList([ConvBlock(256, points, 1, relu=False) for _ in range(nstack)])
        self.e2h_transform = E2HTransform(edge_info, points, edges)
        self.out_edgemaps = nn.ModuleList([ConvBlock(256, edges, 1, relu=False) for _ in range(nstack)])
        self.out_pointmaps = nn.ModuleList([ConvBlock(256, points, 1, relu=False) for _ in range(nstack)])
        self.merge_edgemaps = nn.ModuleList([ConvBlock(edges, 256, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_pointmaps = nn.ModuleList([ConvBlock(points, 256, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_features = nn.ModuleList([ConvBlock(256, 256, 1, relu=False) for _ in range(nstack - 1)])
        self.merge_heatmaps = nn.ModuleList([ConvBlock(points, 256, 1, relu=False) for _ in range(nstack - 1)])

    def forward(self, x):
        x = self.pre(x)
        y, fusionmaps = [], []
        heatmaps = None
        for i in range(self.nstack):
            hg = self.hgs[i](x, heatmap=heatmaps)
            feature = self.features[i](hg)
            heatmaps = F.relu(F.instance_norm(self.out_heatmaps[i](feature)))  # Activation("in+relu")
            pointmaps = torch.sigmoid(self.out_pointmaps[i](feature))
            edgemaps = torch.sigmoid(self.out_edgemaps[i](feature))
            mask = self.e2h_transform(edgemaps) * pointmaps
            fusion_heatmaps = mask * heatmaps
            landmarks = get_coords_from_heatmap(fusion_heatmaps)
            if i < self.nstack - 1:
                x = x + self.merge_features[i](feature) + self.merge_heatmaps[i](heatmaps)
                x += self.merge_pointmaps[i](pointmaps)
                x += self.merge_edgemaps[i](edgemaps)
            y += [landmarks, pointmaps, edgemaps]
            fusionmaps.append(fusion_heatmaps)
        return y, fusionmaps, landmarks


def crop_matrix(scale, center_w, center_h, image_size=256, target_face_scale=1.0):
    """GetCropMatrix.process with align_corners=True: _compose_rotate_and_scale(0, s, (0, 0), centre, middle)."""
    to_w = to_h = image_size - 1
    angle, s, shift = 0, image_size / (scale * target_face_scale * 200.0), (0, 0)
    fx, fy, tx, ty = center_w, center_h, to_w / 2.0, to_h / 2.0
    acos, asin = s * math.cos(angle), s * math.sin(angle)
    return np.array([[acos, -asin, tx - acos * fx + asin * fy + shift[0]],
                     [asin, acos, ty - asin * fx - acos * fy + shift[1]],
                     [0.0, 0.0, 1.0]], np.float32)


def dataset_input(image_path, scale, center_w, center_h):
    """alignmentDataset.__getitem__ at test time: cv2.imread (BGR), the warp, CHW float32, (x - 127.5) * 1/127.5."""
    img = cv2.imread(str(image_path), cv2.IMREAD_COLOR)
    matrix = crop_matrix(scale, center_w, center_h)
    img = cv2.warpPerspective(img, matrix, dsize=(256, 256), flags=cv2.INTER_LINEAR, borderValue=0)
    img = img.transpose(2, 0, 1).astype(np.float32)
    for c in range(3):
        img[c, :, :] = (img[c, :, :] - 127.5) * (1 / 127.5)
    return torch.from_numpy(img), matrix


def to_image(landmarks, matrix):
    """evaluate.py: denorm_points (align_corners=False) then postprocess with np.linalg.inv(matrix)."""
    points = ((landmarks + 1) * torch.tensor([256, 256]).to(landmarks).view(1, 1, 2) - 1) / 2
    points = points.data.cpu().numpy()[0]
    coeff = np.linalg.inv(matrix)
    out = np.zeros(points.shape, dtype=np.float32)
    for i in range(points.shape[0]):
        out[i][0] = coeff[0][0] * points[i][0] + coeff[0][1] * points[i][1] + coeff[0][2]
        out[i][1] = coeff[1][0] * points[i][0] + coeff[1][1] * points[i][1] + coeff[1][2]
    return out


def demo_centre_scale(points):
    """demo.py: from the extent of the landmarks, scale = min(w, h) / 200 * 1.05 about its centre."""
    x1, x2 = points[:, 0].min(), points[:, 0].max()
    y1, y2 = points[:, 1].min(), points[:, 1].max()
    return float(min(x2 - x1, y2 - y1) / 200 * 1.05), float((x2 + x1) / 2), float((y2 + y1) / 2)
