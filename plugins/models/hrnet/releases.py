"""HRNetV2-W18's released face checkpoints: HRNet-Facial's (README.md) and mmpose 0.x's (configs/face/.../
hrnetv2_<dataset>.md), one entry each, so `models info hrnet` and the README are one lookup. No torch."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "HRNet/HRNet-Facial-Landmark-Detection"
COMMIT = "f776dbe8eb6fec831774a47209dae5547ae2cda5"
LICENCE = "MIT"
PAPER = "Wang et al., Deep High-Resolution Representation Learning for Visual Recognition, TPAMI 2020 " \
        "(arXiv:1904.04514 for faces)"
MMPOSE_REPOSITORY = "open-mmlab/mmpose"
MMPOSE_COMMIT = "63d7696c19acfa142fd98c85fce5ad2b15d6280b"  # its parent holds the 0.x configs and result tables
MEAN_RGB = (0.485, 0.456, 0.406)  # lib/datasets/*.py: ImageNet mean and std on RGB in [0, 1]
STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Release:
    dataset: str
    num_joints: int
    file: str
    url: str
    where: str  # where the link is published
    annotations: str = ""  # HRNet-Facial's processed annotation file for the test split


RELEASES = (
    Release("cofw", 29, "HR18-COFW.pth", "https://1drv.ms/u/s!AiWjZ1LamlxzdFIsEUQl8jgUaMk", "HRNet-Facial README.md"),
    Release("aflw", 19, "HR18-AFLW.pth", "https://1drv.ms/u/s!AiWjZ1Lamlxzc7xumEw810iBLTc", "HRNet-Facial README.md",
            "face_landmarks_aflw_test.csv"),
    Release("wflw", 98, "HR18-WFLW.pth", "https://1drv.ms/u/s!AiWjZ1LamlxzdTsr_9QZCwJsn5U", "HRNet-Facial README.md",
            "face_landmarks_wflw_test.csv"),
    Release("300w", 68, "HR18-300W.pth", "https://1drv.ms/u/s!AiWjZ1LamlxzeYLmza1XU-4WhnQ", "HRNet-Facial README.md",
            "face_landmarks_300w_test.csv"),
    Release("wflw", 98, "hrnetv2_w18_wflw_256x256-2bf032a6_20210125.pth",
            "https://download.openmmlab.com/mmpose/face/hrnetv2/hrnetv2_w18_wflw_256x256-2bf032a6_20210125.pth",
            "mmpose 0.x hrnetv2_wflw.md"),
    Release("300w", 68, "hrnetv2_w18_300w_256x256-eea53406_20211019.pth",
            "https://download.openmmlab.com/mmpose/face/hrnetv2/hrnetv2_w18_300w_256x256-eea53406_20211019.pth",
            "mmpose 0.x hrnetv2_300w.md"),
    Release("cofw", 29, "hrnetv2_w18_cofw_256x256-49243ab8_20211019.pth",
            "https://download.openmmlab.com/mmpose/face/hrnetv2/hrnetv2_w18_cofw_256x256-49243ab8_20211019.pth",
            "mmpose 0.x hrnetv2_cofw.md"),
    Release("aflw", 19, "hrnetv2_w18_aflw_256x256-f2bbc62b_20210125.pth",
            "https://download.openmmlab.com/mmpose/face/hrnetv2/hrnetv2_w18_aflw_256x256-f2bbc62b_20210125.pth",
            "mmpose 0.x hrnetv2_aflw.md"),
)
# HRNet-Facial README.md "Data": the processed annotation files (face_landmarks_<ds>_<split>.csv).
ANNOTATIONS = "https://1drv.ms/u/s!AiWjZ1LamlxzdmYbSkHpPYhI8Ms"
