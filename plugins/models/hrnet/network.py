"""HRNetV2-W18 for faces: timm's HRNet-W18 backbone and HRNet-Facial's head (lib/models/hrnet.py).

timm's `hrnet_w18` (features_only, feature_location='') has the very module layout of HRNet-Facial's backbone:
its 1,830 state-dict keys are HRNet-Facial's (and mmpose's) backbone keys, one for one. It fuses the branches
with nearest-neighbour upsampling, where HRNet-Facial (and mmpose's face configs) upsample bilinearly; with its
31 Upsample modules switched to bilinear (align_corners False) its outputs equal a step-by-step port of
HRNet-Facial's network bit for bit (tests/test_hrnet.py). The head concatenates the four branches, upsampled
bilinearly to the first's size, then conv 1x1 -> BatchNorm -> ReLU -> conv 1x1 to one heatmap per landmark.

Checkpoint layouts, read from the keys: HRNet-Facial's (conv1.*, ..., head.{0,1,3}.*; with or without
DataParallel's `module.`, or under 'state_dict') and mmpose 0.x's (backbone.*, keypoint_head.final_layer.{0,1,3}.*).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CHANNELS = 18 + 36 + 72 + 144  # the four branches of HRNetV2-W18, concatenated
BN_MOMENTUM = 0.01  # lib/models/hrnet.py's, for every BatchNorm
LAYOUTS = {
    "hrnet-facial": ("conv1.weight", "stage4.2.fuse_layers.0.3.0.weight", "head.0.weight", "head.3.weight"),
    "mmpose": ("backbone.conv1.weight", "backbone.stage4.2.fuse_layers.0.3.0.weight",
               "keypoint_head.final_layer.0.weight", "keypoint_head.final_layer.3.weight"),
}


class HRNetFace(nn.Module):
    """HRNetV2-W18 with HRNet-Facial's head; forward() returns (B, L, 64, 64) heatmaps for 256-px crops."""

    def __init__(self, num_joints: int):
        super().__init__()
        import timm

        self.num_joints = num_joints
        self.backbone = timm.create_model("hrnet_w18", pretrained=False, features_only=True, feature_location="",
                                          out_indices=(1, 2, 3, 4))
        for module in self.backbone.modules():  # HRNet-Facial's fusion: F.interpolate(..., mode="bilinear")
            if isinstance(module, nn.Upsample):
                module.mode, module.align_corners = "bilinear", False
            elif isinstance(module, nn.BatchNorm2d):  # its BN_MOMENTUM (timm's is 0.1): what training updates
                module.momentum = BN_MOMENTUM
        self.head = nn.Sequential(nn.Conv2d(CHANNELS, CHANNELS, kernel_size=1), nn.BatchNorm2d(CHANNELS, momentum=BN_MOMENTUM),
                                  nn.ReLU(inplace=True), nn.Conv2d(CHANNELS, num_joints, kernel_size=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = self.backbone(x)
        size = branches[0].shape[2:]
        upsampled = [F.interpolate(b, size=size, mode="bilinear", align_corners=False) for b in branches[1:]]
        return self.head(torch.cat([branches[0], *upsampled], 1))


def layout_of(state: dict) -> str | None:
    """Which known layout a state dict (DataParallel's prefix already removed) has, or None."""
    for name, keys in LAYOUTS.items():
        if all(k in state for k in keys):
            return name
    return None


def to_module_keys(state: dict, layout: str) -> dict:
    """A state dict of `layout` with HRNetFace's names (backbone.*, head.*)."""
    if layout == "mmpose":
        head = "keypoint_head.final_layer."
        return {("head." + k[len(head):] if k.startswith(head) else k): v for k, v in state.items()}
    return {(k if k.startswith("head.") else "backbone." + k): v for k, v in state.items()}


def parameter_count(num_joints: int) -> int:
    with torch.device("meta"):
        net = HRNetFace(num_joints)
    return sum(p.numel() for p in net.parameters())
