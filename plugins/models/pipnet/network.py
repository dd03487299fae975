"""PIPNet's network (lib/networks.py: Pip_resnet18, Pip_resnet50, Pip_resnet101): a torchvision ResNet without
its pooling and fc, optional extra stride layers, and five 1x1 heads.

For an input of input_size pixels the last feature map is input_size / net_stride cells on a side. Per
landmark the heads give a score map (cls_layer), the offset of the landmark within a cell (x_layer,
y_layer), and the offsets of its num_nb nearest mean-face neighbours from the same cell (nb_x_layer,
nb_y_layer). The module names are the original's, so its released state dicts load as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

# backbone -> (torchvision constructor, channels of layer4, blocks in layer3: how a state dict tells them apart)
BACKBONES = {
    "resnet18": (torchvision.models.resnet18, 512, 2),
    "resnet50": (torchvision.models.resnet50, 2048, 6),
    "resnet101": (torchvision.models.resnet101, 2048, 23),
}
NET_STRIDES = (16, 32, 64, 128)


@dataclass(frozen=True)
class Variant:
    """What fixes the network's shape: all of it can be read from a state dict's keys and shapes."""

    backbone: str
    num_lms: int
    num_nb: int
    net_stride: int

    def __post_init__(self) -> None:
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone {self.backbone!r} is not one of {', '.join(BACKBONES)}")
        if self.net_stride not in NET_STRIDES or (self.net_stride == 16 and self.backbone != "resnet18"):
            raise ValueError(f"net_stride {self.net_stride} is not one PIPNet builds for {self.backbone} "
                             "(32 and 64 and 128; 16 with resnet18 only)")


class PipNet(nn.Module):
    """One of Pip_resnet18/50/101, forward() returning (cls, x, y, nb_x, nb_y) maps as the original's."""

    def __init__(self, variant: Variant):
        super().__init__()
        self.variant = variant
        make, channels, _ = BACKBONES[variant.backbone]
        resnet = make(weights=None)
        self.conv1, self.bn1, self.maxpool = resnet.conv1, resnet.bn1, resnet.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = resnet.layer1, resnet.layer2, resnet.layer3, resnet.layer4
        if variant.net_stride in (64, 128):
            self.layer5 = nn.Conv2d(channels, 512, kernel_size=3, stride=2, padding=1)
            self.bn5 = nn.BatchNorm2d(512)
            channels = 512
        if variant.net_stride == 128:
            self.layer6 = nn.Conv2d(512, 512, kernel_size=3, stride=2, padding=1)
            self.bn6 = nn.BatchNorm2d(512)
        if variant.net_stride == 16:
            self.deconv1 = nn.ConvTranspose2d(512, 512, kernel_size=4, stride=2, padding=1, bias=False)
            self.bn_deconv1 = nn.BatchNorm2d(512)
        lms, nb = variant.num_lms, variant.num_nb
        self.cls_layer = nn.Conv2d(channels, lms, kernel_size=1)
        self.x_layer = nn.Conv2d(channels, lms, kernel_size=1)
        self.y_layer = nn.Conv2d(channels, lms, kernel_size=1)
        self.nb_x_layer = nn.Conv2d(channels, nb * lms, kernel_size=1)
        self.nb_y_layer = nn.Conv2d(channels, nb * lms, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        stride = self.variant.net_stride
        if stride in (64, 128):
            x = F.relu(self.bn5(self.layer5(x)))
        if stride == 128:
            x = F.relu(self.bn6(self.layer6(x)))
        if stride == 16:
            x = F.relu(self.bn_deconv1(self.deconv1(x)))
        return self.cls_layer(x), self.x_layer(x), self.y_layer(x), self.nb_x_layer(x), self.nb_y_layer(x)


def read_variant(state: dict) -> Variant:
    """The variant a state dict (keys without any prefix) was saved from; ValueError naming what is missing
    when it is not a PIPNet ResNet state dict."""
    missing = [k for k in ("conv1.weight", "layer4.0.conv1.weight", "cls_layer.weight", "nb_x_layer.weight")
               if k not in state]
    if missing:
        raise ValueError(f"not a PIPNet ResNet state dict: missing {', '.join(missing)}")
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("layer3.")}
    by_blocks = {n: name for name, (_, _, n) in BACKBONES.items()}
    backbone = by_blocks.get(len(blocks))
    if backbone is None:
        raise ValueError(f"layer3 has {len(blocks)} blocks; PIPNet's ResNet-18, 50 and 101 have "
                         f"{', '.join(str(n) for n in by_blocks)}")
    num_lms = int(state["cls_layer.weight"].shape[0])
    num_nb, rest = divmod(int(state["nb_x_layer.weight"].shape[0]), num_lms)
    if rest or num_nb < 1:
        raise ValueError(f"nb_x_layer has {state['nb_x_layer.weight'].shape[0]} outputs, not a multiple of the "
                         f"{num_lms} landmarks")
    stride = 128 if "layer6.weight" in state else 64 if "layer5.weight" in state else \
        16 if "deconv1.weight" in state else 32
    return Variant(backbone, num_lms, num_nb, stride)


def parameter_count(variant: Variant) -> int:
    """Parameters of a network (built on the meta device: nothing is allocated)."""
    with torch.device("meta"):
        net = PipNet(variant)
    return sum(p.numel() for p in net.parameters())
