"""STAR's network (lib/backbone/stackedHGNetV1.py, lib/backbone/core/coord_conv.py, lib/dataset/decoder/
decoder_default.py at 9b125749), written from their facts; the module names are the checkpoint's keys.

- Residual block: BN -> ReLU -> conv 1x1 (out/2) -> BN -> ReLU -> conv 3x3 -> BN -> ReLU -> conv 1x1 (out), plus
  the input, through a 1x1 `skip_layer` only when the widths differ (the layer exists, unused, when they do not).
  Every conv has a bias and sits in a `.conv` wrapper.
- CoordConv: the input with channels for the row coordinate and the column coordinate (each in [-1, 1]), their
  radius divided by its maximum, and (hourglasses after the first) the two coordinates masked where the previous
  stack's last heatmap exceeds 0.05; then a conv.
- Stem: CoordConv 7x7/2 to 64 with BN and ReLU, residual 64->128, max-pool 2, residual 128->128, 128->256.
- Four hourglasses of depth 4 (max-pool down, nearest up), the first level of each with a 1x1 CoordConv.
- Per stack: features (residual + conv 1x1 with BN and ReLU), heatmaps (conv 1x1, instance norm, ReLU), AAM point
  maps and edge maps (conv 1x1, sigmoid); the fused heatmaps = heatmaps x point maps x (edges -> points, a fixed
  1x1 conv held in the checkpoint); between stacks the features, heatmaps, point and edge maps are added back.
- Decoding: soft-argmax of the fused heatmaps on a [-1, 1] grid (align corners), sum clamped at 1e-6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STACKS = 4
WIDTH = 256


class Conv(nn.Module):
    """A conv with bias in a `.conv` wrapper, optionally followed by BN and ReLU (the code's ConvBlock)."""

    def __init__(self, inp: int, out: int, kernel: int = 1, stride: int = 1, bn: bool = False, relu: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(inp, out, kernel, stride, padding=(kernel - 1) // 2, bias=True)
        self.bn = nn.BatchNorm2d(out) if bn else None
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class Residual(nn.Module):
    def __init__(self, inp: int, out: int):
        super().__init__()
        mid = out // 2
        self.bn1, self.conv1 = nn.BatchNorm2d(inp), Conv(inp, mid, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(mid), Conv(mid, mid, 3)
        self.bn3, self.conv3 = nn.BatchNorm2d(mid), Conv(mid, out, 1)
        self.skip_layer = Conv(inp, out, 1)
        self.project = inp != out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.skip_layer(x) if self.project else x
        h = self.conv1(F.relu(self.bn1(x)))
        h = self.conv2(F.relu(self.bn2(h)))
        h = self.conv3(F.relu(self.bn3(h)))
        return h + shortcut


def coordinate_channels(x: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, 1, size, size) row coordinate, column coordinate and normalised radius, as float32 on x's device."""
    steps = torch.arange(size, dtype=torch.float32, device=x.device) / (size - 1) * 2 - 1
    rows = steps.view(1, 1, size, 1).expand(x.shape[0], 1, size, size).to(x)
    cols = steps.view(1, 1, 1, size).expand(x.shape[0], 1, size, size).to(x)
    radius = torch.sqrt(torch.pow(rows, 2) + torch.pow(cols, 2))
    return rows, cols, radius / torch.max(radius)


class CoordConv(nn.Module):
    """The code's CoordConvTh with with_r: coordinates and radius appended; `masked`: two more channels, the
    coordinates where the previous stack's last heatmap is above 0.05."""

    def __init__(self, size: int, inp: int, out: int, kernel: int, stride: int = 1, padding: int = 0,
                 masked: bool = False, bn: bool = False, relu: bool = False):
        super().__init__()
        self.size, self.masked, self.relu = size, masked, relu
        self.conv = nn.Conv2d(inp + 3 + (2 if masked else 0), out, kernel, stride, padding)
        self.bn = nn.BatchNorm2d(out) if bn else None

    def forward(self, x: torch.Tensor, heatmaps: torch.Tensor | None = None) -> torch.Tensor:
        rows, cols, radius = coordinate_channels(x, self.size)
        parts = [x, rows, cols, radius]
        if self.masked:
            boundary = torch.clamp(heatmaps[:, -1:], 0.0, 1.0) > 0.05
            parts += [torch.where(boundary, rows, torch.zeros_like(rows)),
                      torch.where(boundary, cols, torch.zeros_like(cols))]
        x = self.conv(torch.cat(parts, 1))
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class Hourglass(nn.Module):
    def __init__(self, depth: int, width: int = WIDTH, coord_size: int = 0, masked: bool = False):
        super().__init__()
        self.coordconv = CoordConv(coord_size, width, width, 1, masked=masked) if coord_size else None
        self.up1 = Residual(width, width)
        self.low1 = Residual(width, width)
        self.low2 = Hourglass(depth - 1, width) if depth > 1 else Residual(width, width)
        self.low3 = Residual(width, width)

    def forward(self, x: torch.Tensor, heatmaps: torch.Tensor | None = None) -> torch.Tensor:
        if self.coordconv is not None:
            x = self.coordconv(x, heatmaps)
        low = self.low3(self.low2(self.low1(F.max_pool2d(x, 2, 2))))
        return self.up1(x) + F.interpolate(low, scale_factor=2, mode="nearest")


class EdgesToPoints(nn.Module):
    """The fixed map from edge maps to point masks (its weights and bias are buffers in the checkpoint)."""

    def __init__(self, points: int, edges: int):
        super().__init__()
        self.register_buffer("weight", torch.zeros(points, edges, 1, 1))
        self.register_buffer("bias", torch.zeros(points))

    def forward(self, edgemaps: torch.Tensor) -> torch.Tensor:
        return F.conv2d(edgemaps, weight=self.weight, bias=self.bias)


def soft_argmax(heatmaps: torch.Tensor) -> torch.Tensor:
    """(B, L, 2) x, y in [-1, 1] (align corners): the heatmap-weighted mean of the grid."""
    _, _, h, w = heatmaps.shape
    yy, xx = torch.meshgrid(torch.arange(h).float() / (h - 1) * 2 - 1, torch.arange(w).float() / (w - 1) * 2 - 1,
                            indexing="ij")
    yy, xx = yy.view(1, 1, h, w).to(heatmaps), xx.view(1, 1, h, w).to(heatmaps)
    total = torch.clamp(heatmaps.sum([2, 3]), min=1e-6)
    return torch.stack([(xx * heatmaps).sum([2, 3]) / total, (yy * heatmaps).sum([2, 3]) / total], dim=-1)


class StackedHourglass(nn.Module):
    """STAR's stackedHGnet_v1 with CoordConv and AAM for 256-px crops; forward() returns the last stack's
    (B, L, 2) landmarks in [-1, 1]."""

    def __init__(self, points: int, edges: int, stacks: int = STACKS, size: int = 256):
        super().__init__()
        self.points, self.edges, self.stacks = points, edges, stacks
        self.pre = nn.Sequential(CoordConv(size, 3, 64, 7, 2, 3, bn=True, relu=True), Residual(64, 128),
                                 nn.MaxPool2d(2, 2), Residual(128, 128), Residual(128, WIDTH))
        self.hgs = nn.ModuleList([Hourglass(4, WIDTH, size // stacks, masked=i > 0) for i in range(stacks)])
        self.features = nn.ModuleList([nn.Sequential(Residual(WIDTH, WIDTH), Conv(WIDTH, WIDTH, 1, bn=True,
                                                                                  relu=True))
                                       for _ in range(stacks)])
        self.out_heatmaps = nn.ModuleList([Conv(WIDTH, points) for _ in range(stacks)])
        self.e2h_transform = EdgesToPoints(points, edges)
        self.out_edgemaps = nn.ModuleList([Conv(WIDTH, edges) for _ in range(stacks)])
        self.out_pointmaps = nn.ModuleList([Conv(WIDTH, points) for _ in range(stacks)])
        self.merge_edgemaps = nn.ModuleList([Conv(edges, WIDTH) for _ in range(stacks - 1)])
        self.merge_pointmaps = nn.ModuleList([Conv(points, WIDTH) for _ in range(stacks - 1)])
        self.merge_features = nn.ModuleList([Conv(WIDTH, WIDTH) for _ in range(stacks - 1)])
        self.merge_heatmaps = nn.ModuleList([Conv(points, WIDTH) for _ in range(stacks - 1)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pre(x)
        heatmaps = None
        for i in range(self.stacks):
            features = self.features[i](self.hgs[i](x, heatmaps))
            heatmaps = F.relu(F.instance_norm(self.out_heatmaps[i](features)))
            pointmaps = torch.sigmoid(self.out_pointmaps[i](features))
            edgemaps = torch.sigmoid(self.out_edgemaps[i](features))
            fused = self.e2h_transform(edgemaps) * pointmaps * heatmaps
            if i < self.stacks - 1:
                x = x + self.merge_features[i](features) + self.merge_heatmaps[i](heatmaps)
                x = x + self.merge_pointmaps[i](pointmaps)
                x = x + self.merge_edgemaps[i](edgemaps)
        return soft_argmax(fused)


def parameter_count(points: int, edges: int) -> int:
    return sum(p.numel() for p in StackedHourglass(points, edges).parameters())
