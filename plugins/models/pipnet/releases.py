"""PIPNet's released variants: one entry per (dataset, backbone) config of the code (timm's default_cfgs idea),
so `models info pipnet` and loading are one lookup. Importable without torch."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "jhb86253817/PIPNet"
COMMIT = "b9eab58816437403a34aa5bc3adeafe5081fd36b"
LICENCE = "MIT"
PAPER = "Jin, Liao and Shao, Pixel-in-Pixel Net: Towards Efficient Facial Landmark Detection in the Wild, IJCV 2021"
# README.md, "Demo" step 2: "you can download our trained models from here, and put them under folder
# snapshots/DATA_NAME/EXPERIMENT_NAME/". The folder lists no sizes or checksums.
DOWNLOAD = "https://drive.google.com/drive/folders/17OwDgJUfuc5_ymQ3QruD8pUnh5zHreP2"
# ImageNet normalisation (lib/test.py: transforms.Normalize), on RGB in [0, 1].
MEAN_RGB = (0.485, 0.456, 0.406)
STD_RGB = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Release:
    """One config of experiments/<data_name>/pip_32_16_60_<r>_l2_l1_10_1_nb10.py."""

    dataset: str  # fabrec-bench's dataset name
    data_name: str  # PIPNet's data folder
    backbone: str
    num_lms: int
    num_nb: int = 10
    net_stride: int = 32
    input_size: int = 256

    @property
    def experiment(self) -> str:
        return f"pip_32_16_60_r{self.backbone.removeprefix('resnet')}_l2_l1_10_1_nb10"

    @property
    def name(self) -> str:
        return f"{self.dataset}-r{self.backbone.removeprefix('resnet')}"

    @property
    def checkpoint(self) -> str:
        """Where the downloaded file goes in PIPNet's tree (and what lib/test.py loads)."""
        return f"snapshots/{self.data_name}/{self.experiment}/epoch59.pth"

    @property
    def meanface(self) -> str:
        return f"data/{self.data_name}/meanface.txt"

    @property
    def config(self) -> str:
        return f"experiments/{self.data_name}/{self.experiment}.py"


RELEASES = tuple(Release(dataset, data_name, backbone, lms)
                 for dataset, data_name, lms in (("wflw", "WFLW", 98), ("300w", "data_300W", 68), ("cofw", "COFW", 29),
                                                 ("aflw", "AFLW", 19))
                 for backbone in ("resnet18", "resnet50", "resnet101"))


def releases_for(num_lms: int, backbone: str) -> list[Release]:
    """The released configs a checkpoint with that many landmarks and that backbone can be."""
    return [r for r in RELEASES if r.num_lms == num_lms and r.backbone == backbone]
