"""2D-FAN-4: four stacked hourglasses (face_alignment/models/fan.py), written from its description so that its
state-dict keys are the released ones (conv1, bn1, conv2-4, m<i>.b<branch>_<level>, top_m_<i>, conv_last<i>,
bn_end<i>, l<i>, and between stacks bl<i> and al<i>).

The building block is the "hierarchical, parallel and multi-scale" block of the FAN paper: three 3x3
convolutions, each after BatchNorm and ReLU, widths out/2, out/4, out/4, their outputs concatenated and added to
the input (through BN -> ReLU -> conv 1x1 when the widths differ). The hourglass pools by 2x2 averages and
upsamples by nearest neighbour. forward() returns the last stack's (B, 68, 64, 64) heatmaps, the only ones its
API reads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

STACKS = 4
DEPTH = 4
WIDTH = 256


class MultiScaleBlock(nn.Module):
    """Three 3x3 convolutions in a chain, concatenated, plus the (projected) input."""

    def __init__(self, inp: int, out: int):
        super().__init__()
        widths = (inp, out // 2, out // 4, out // 4)
        for i in range(3):
            self.add_module(f"bn{i + 1}", nn.BatchNorm2d(widths[i]))
            self.add_module(f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], 3, padding=1, bias=False))
        self.downsample = None if inp == out else nn.Sequential(
            nn.BatchNorm2d(inp), nn.ReLU(True), nn.Conv2d(inp, out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs, h = [], x
        for i in (1, 2, 3):
            h = getattr(self, f"conv{i}")(F.relu(getattr(self, f"bn{i}")(h), True))
            outs.append(h)
        skip = x if self.downsample is None else self.downsample(x)
        return torch.cat(outs, 1) + skip


class Hourglass(nn.Module):
    """Levels DEPTH..1: b1_<l> keeps the resolution, b2_<l> after pooling, b3_<l> before upsampling; the
    innermost level adds b2_plus_1."""

    def __init__(self, depth: int = DEPTH, width: int = WIDTH):
        super().__init__()
        self.depth = depth
        for level in range(depth, 0, -1):
            for branch in ("b1", "b2", "b3"):
                self.add_module(f"{branch}_{level}", MultiScaleBlock(width, width))
        self.add_module("b2_plus_1", MultiScaleBlock(width, width))

    def level(self, level: int, x: torch.Tensor) -> torch.Tensor:
        low = self._modules[f"b2_{level}"](F.avg_pool2d(x, 2, stride=2))
        low = self.level(level - 1, low) if level > 1 else self._modules["b2_plus_1"](low)
        up = F.interpolate(self._modules[f"b3_{level}"](low), scale_factor=2, mode="nearest")
        return self._modules[f"b1_{level}"](x) + up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.level(self.depth, x)


class FAN(nn.Module):
    """2D-FAN-4 for 256 x 256 crops; 68 heatmaps of 64 x 64."""

    def __init__(self, stacks: int = STACKS, points: int = 68):
        super().__init__()
        self.stacks, self.points = stacks, points
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = MultiScaleBlock(64, 128)
        self.conv3 = MultiScaleBlock(128, 128)
        self.conv4 = MultiScaleBlock(128, WIDTH)
        for i in range(stacks):
            self.add_module(f"m{i}", Hourglass())
            self.add_module(f"top_m_{i}", MultiScaleBlock(WIDTH, WIDTH))
            self.add_module(f"conv_last{i}", nn.Conv2d(WIDTH, WIDTH, 1))
            self.add_module(f"bn_end{i}", nn.BatchNorm2d(WIDTH))
            self.add_module(f"l{i}", nn.Conv2d(WIDTH, points, 1))
            if i < stacks - 1:  # the next stack's input: features + remapped heatmaps
                self.add_module(f"bl{i}", nn.Conv2d(WIDTH, WIDTH, 1))
                self.add_module(f"al{i}", nn.Conv2d(points, WIDTH, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)), True)
        x = self.conv4(self.conv3(F.avg_pool2d(self.conv2(x), 2, stride=2)))
        heatmaps = x
        for i in range(self.stacks):
            m = self._modules
            features = m[f"top_m_{i}"](m[f"m{i}"](x))
            features = F.relu(m[f"bn_end{i}"](m[f"conv_last{i}"](features)), True)
            heatmaps = m[f"l{i}"](features)
            if i < self.stacks - 1:
                x = x + m[f"bl{i}"](features) + m[f"al{i}"](heatmaps)
        return heatmaps


def parameter_count() -> int:
    return sum(p.numel() for p in FAN().parameters())
