"""FAN's released 2D-FAN-4 weights (face_alignment/api.py of each release), one entry each, so `models info fan`
and the README are one lookup. No torch."""

from __future__ import annotations

from dataclasses import dataclass

REPOSITORY = "1adrianb/face-alignment"
COMMIT = "608505f"  # v1.5.0 and after
LICENCE = "BSD-3-Clause"
PAPER = "Bulat and Tzimiropoulos, How far are we from solving the 2D & 3D Face Alignment problem? (and a " \
        "dataset of 230,000 3D facial landmarks), ICCV 2017"
POINTS = 68


@dataclass(frozen=True)
class Release:
    file: str
    url: str
    kind: str  # "state dict" or "TorchScript"
    code: str  # the API version whose crop and defaults go with it
    where: str  # the releases whose api.py names it
    note: str = ""


BASE = "https://www.adrianbulat.com/downloads/python-fan/"
RELEASES = (
    Release("2DFAN4-11f355bf06.pth.tar", BASE + "2DFAN4-11f355bf06.pth.tar", "state dict", "1.5",
            "face_alignment/api.py models_urls of v1.0-v1.2 and v1.5.0",
            "the file name carries the first 10 hex digits of its SHA-256 (torch.hub's check_hash)"),
    Release("2DFAN4-cd938726ad.zip", BASE + "2DFAN4-cd938726ad.zip", "TorchScript", "1.4",
            "default_model_urls of v1.3.0-v1.4.1"),
    Release("2DFAN4_1.6-c827573f02.zip", BASE + "2DFAN4_1.6-c827573f02.zip", "TorchScript", "1.4",
            "models_urls['1.6'] of v1.3.4-v1.4.1 (PyTorch 1.6)"),
    Release("2DFAN4_1.5-a60332318a.zip", BASE + "2DFAN4_1.5-a60332318a.zip", "TorchScript", "1.4",
            "models_urls['1.5'] of v1.3.4-v1.4.1 (PyTorch 1.5)"),
)
