"""3FabRec's networks, as specified in ../shared/docs/3fabrec.md section 2.

Module and attribute names follow the reference state-dict keys (Q.layer1.0.downsample.0.weight, P.layer2.0.
upsample.1.running_mean, LMH.t1.weight, ...), so released snapshots load without renaming. Parameter counts at
256 px: Q 11,379,491; P 10,868,096; D_z 1,102,001; D 1,743,744; LMH 811,008 + 1,024 L.
"""

from __future__ import annotations

import math

import torch
from torch import nn

Z_DIM = 99
HEATMAP_SIZE = 128
INPUT_SIZES = (128, 256)


class BasicBlock(nn.Module):
    """ResNet basic block: 3x3 conv, BN, ReLU, 3x3 conv, BN, plus the (downsampled) input, ReLU."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


def _res_layer(inplanes: int, planes: int, stride: int, force_downsample: bool = False) -> nn.Sequential:
    downsample = None
    if stride != 1 or inplanes != planes or force_downsample:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    return nn.Sequential(BasicBlock(inplanes, planes, stride, downsample), BasicBlock(planes, planes))


class Encoder(nn.Module):
    """Q: a ResNet-18 variant with an extra stage (layer0) for 256-px inputs; 99-d linear latent."""

    def __init__(self, input_size: int = 256, z_dim: int = Z_DIM, layer1_downsample: bool = False):
        super().__init__()
        self.input_size = input_size
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        if input_size >= 256:
            self.layer0 = _res_layer(64, 64, 1)
        # layer1 halves the map at 256 px (stride 2, so a 1x1 downsample); at 128 px it keeps 64 channels at
        # stride 1 and the reference (networks/resnet_ae.py) builds no downsample. fabrec-bench's 128-px models
        # had one until it followed the reference here: `layer1_downsample` builds that layout to load them.
        self.layer1 = _res_layer(64, 64, 2 if input_size >= 256 else 1, force_downsample=layer1_downsample)
        self.layer2 = _res_layer(64, 128, 2)
        self.layer3 = _res_layer(128, 256, 2)
        self.layer4 = _res_layer(256, 512, 2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, z_dim)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.data.fill_(1)
                m.bias.data.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        if hasattr(self, "layer0"):
            x = self.layer0(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvBasicBlock(nn.Module):
    """Upsampling block: ConvT 4x4 s2, BN, ReLU, conv 3x3, BN, plus a ConvT+BN shortcut, ReLU."""

    def __init__(self, inplanes: int, planes: int):
        super().__init__()
        self.conv1 = nn.ConvTranspose2d(inplanes, planes, 4, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.upsample = nn.Sequential(nn.ConvTranspose2d(inplanes, planes, 4, 2, 1, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.upsample(x))


class Decoder(nn.Module):
    """P: an inverted ResNet (one block per stage), transposed-conv upsampling, tanh output."""

    def __init__(self, input_size: int = 256, z_dim: int = Z_DIM):
        super().__init__()
        self.input_size = input_size
        self.fc = nn.Linear(z_dim, 512)
        self.conv1 = nn.ConvTranspose2d(512, 512, 4, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(512)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = nn.Sequential(InvBasicBlock(512, 256))
        self.layer2 = nn.Sequential(InvBasicBlock(256, 128))
        self.layer3 = nn.Sequential(InvBasicBlock(128, 64))
        self.layer4 = nn.Sequential(InvBasicBlock(64, 64))
        if input_size >= 256:
            self.layer5 = nn.Sequential(InvBasicBlock(64, 64))
        self.lin = nn.ConvTranspose2d(64, 3, 4, 2, 1, bias=False)
        for m in self.modules():
            if type(m) is nn.Conv2d:
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2.0 / n))

    def stage1(self, z: torch.Tensor) -> torch.Tensor:
        """z -> x1, the 8 x 8 x 256 features the landmark head starts from."""
        x = self.fc(z).view(-1, 512, 1, 1)
        x = self.relu(self.bn1(self.conv1(x)))
        return self.layer1(x)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.layer4(self.layer3(self.layer2(self.stage1(z))))
        if hasattr(self, "layer5"):
            x = self.layer5(x)
        return torch.tanh(self.lin(x))


class LatentDiscriminator(nn.Module):
    """D_z: 99 -> 1000 -> 1000 -> 1, dropout before each ReLU, sigmoid output."""

    def __init__(self, z_dim: int = Z_DIM):
        super().__init__()
        self.lin1 = nn.Linear(z_dim, 1000)
        self.lin2 = nn.Linear(1000, 1000)
        self.lin3 = nn.Linear(1000, 1)
        self.dropout = nn.Dropout(0.2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.dropout(self.lin1(z)))
        x = torch.relu(self.dropout(self.lin2(x)))
        return torch.sigmoid(self.lin3(x))


class ImageDiscriminator(nn.Module):
    """D: DCGAN-like, ndf 32, five stride-2 convs, a 4x4 valid conv, averaged logits, sigmoid."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 32, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
        for cin, cout in ((32, 64), (64, 128), (128, 256), (256, 256)):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, inplace=True)]
        layers.append(nn.Conv2d(256, 1, 4, 1, 0, bias=False))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.main(x).mean(dim=(1, 2, 3)))


class LandmarkHead(nn.Module):
    """The interleaved transfer layers: a bias-free 3x3 conv before each of decoder stages 2-4 (shared, frozen
    decoder weights) and after stage 4, then a 4x4 stride-2 transposed conv to L heatmaps of 128 x 128."""

    def __init__(self, num_landmarks: int):
        super().__init__()
        self.t1 = nn.Conv2d(256, 256, 3, 1, 1, bias=False)
        self.t2 = nn.Conv2d(128, 128, 3, 1, 1, bias=False)
        self.t3 = nn.Conv2d(64, 64, 3, 1, 1, bias=False)
        self.t4 = nn.Conv2d(64, 64, 3, 1, 1, bias=False)
        self.lin = nn.ConvTranspose2d(64, num_landmarks, 4, 2, 1, bias=False)

    def forward(self, x1: torch.Tensor, decoder: Decoder) -> torch.Tensor:
        x = decoder.layer2(self.t1(x1))
        x = decoder.layer3(self.t2(x))
        x = decoder.layer4(self.t3(x))
        return self.lin(self.t4(x))


# Only fabrec-bench's earlier 128-px encoders have this key (the reference has it at 256 px alone).
LEGACY_128_KEY = "Q.layer1.0.downsample.0.weight"


class Fabrec(nn.Module):
    """The whole model; attribute names Q, P, D_z, D, LMH match the reference snapshots."""

    def __init__(self, num_landmarks: int, input_size: int = 256, z_dim: int = Z_DIM,
                 layer1_downsample: bool = False):
        super().__init__()
        if input_size not in INPUT_SIZES:
            raise ValueError(f"input size {input_size} is not one of {INPUT_SIZES}")
        self.input_size = input_size
        self.num_landmarks = num_landmarks
        self.Q = Encoder(input_size, z_dim, layer1_downsample)
        self.P = Decoder(input_size, z_dim)
        self.D_z = LatentDiscriminator(z_dim)
        self.D = ImageDiscriminator()
        self.LMH = LandmarkHead(num_landmarks)

    @classmethod
    def for_weights(cls, state: dict, num_landmarks: int, input_size: int) -> Fabrec:
        """A network whose layout can hold `state`: the reference's, or, for a 128-px state with a layer1
        downsample (written by fabrec-bench before it followed the reference there), that layout."""
        return cls(num_landmarks, input_size, layer1_downsample=input_size < 256 and LEGACY_128_KEY in state)

    def heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """Landmark heatmaps (B, L, 128, 128), computing only what they need: Q, P's first stage, then the
        transfer layers interleaved with P's stages 2-4 (no reconstruction)."""
        return self.LMH(self.P.stage1(self.Q(images)), self.P)

    def reconstruct(self, images: torch.Tensor) -> torch.Tensor:
        return self.P(self.Q(images))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
