"""STAR's released checkpoints (README.md "Pretrained model") and ADNet's metadata, one entry each. No torch."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "ZhenglinZhou/STAR"
COMMIT = "9b125749b0d35766ed83d047036d1aa5e384984c"
LICENCE = "unclear (the repository has no licence file; its issues disagree)"
PAPER = "Zhou et al., STAR Loss: Reducing Semantic Ambiguity in Facial Landmark Detection, CVPR 2023"
ADNET = "huangyangyu/ADNet"


@dataclass(frozen=True)
class Release:
    dataset: str
    points: int
    edges: int  # conf/alignment.py edge_info: the AAM edge maps
    google: str
    baidu: str
    metadata: str  # ADNet README.md "Resources": its train/test metadata for the dataset


RELEASES = (
    Release("wflw", 98, 9, "https://drive.google.com/file/d/1aOx0wYEZUfBndYy_8IYszLPG_D2fhxrT/view?usp=sharing",
            "https://pan.baidu.com/s/10vvI-ovs3x9NrdmpnXK6sg?pwd=u0yu",
            "https://drive.google.com/drive/folders/1fRwu2x5Rhqflagq85CtVooegO16jFDLr?usp=sharing"),
    Release("300w", 68, 9, "https://drive.google.com/file/d/1NFcZ9jzql_jnn3ulaSzUlyhS05HWB9n_/view?usp=sharing",
            "https://pan.baidu.com/s/1bjUhLq1zS1XSl1nX78fU7A?pwd=yb2s",
            "https://drive.google.com/drive/folders/12FMfwp10zmsHm5ngvwXuN7Z5vBFd_Ltu?usp=sharing"),
    Release("cofw", 29, 7, "https://drive.google.com/file/d/1Fiu3hjjkQRdKsWE9IgyNPdiJSz9_MzA5/view?usp=sharing",
            "https://pan.baidu.com/s/1XO6hDZ8siJLTgFcpyu1Tzw?pwd=m57n",
            "https://drive.google.com/drive/folders/1sg1cZEZoYBxr6hhIdCoykhKhYQt2yKLn?usp=sharing"),
)
