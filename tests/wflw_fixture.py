"""A hand-written WFLW release in the official layout (../shared/docs/datasets.md 1.8), for adapter tests."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

ANN = "WFLW_annotations/list_98pt_rect_attr_train_test"


def landmarks(seed: int, shift: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pts = rng.uniform(5, 60, (98, 2)) + shift
    pts[60] = [10.0 + shift, 20.0]
    pts[72] = [50.0 + shift, 20.0]
    return pts


def line(pts: np.ndarray, box=(1, 2, 60, 45), flags=(0, 0, 0, 0, 0, 0), path="0--Parade/0_Parade_marchingband_1_1.jpg"):
    coords = " ".join(f"{v:.6f}" for v in pts.reshape(-1))
    return f"{coords} {' '.join(map(str, box))} {' '.join(map(str, flags))} {path}"


def write_release(root: Path, test_lines: list[str] | None = None) -> dict:
    """3 train and 3 test faces; two test faces share an image, one has a negative coordinate."""
    for rel in ("0--Parade/0_Parade_marchingband_1_1.jpg", "37--Soccer/37_Soccer_soccer_ball_37_45.jpg"):
        path = root / "WFLW_images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((48, 64, 3), 128, np.uint8))
    (root / ANN).mkdir(parents=True, exist_ok=True)
    train = [landmarks(i) for i in range(3)]
    test = [landmarks(10), landmarks(11, shift=-8.0), landmarks(12)]
    assert test[1].min() < 0
    flags = [(1, 0, 1, 0, 1, 0), (0, 1, 0, 1, 0, 1), (1, 1, 1, 1, 1, 1)]
    paths = ["0--Parade/0_Parade_marchingband_1_1.jpg", "37--Soccer/37_Soccer_soccer_ball_37_45.jpg",
             "37--Soccer/37_Soccer_soccer_ball_37_45.jpg"]
    (root / ANN / "list_98pt_rect_attr_train.txt").write_text("".join(line(p) + "\n" for p in train))
    if test_lines is None:
        test_lines = [line(p, flags=f, path=rel) for p, f, rel in zip(test, flags, paths, strict=True)]
    (root / ANN / "list_98pt_rect_attr_test.txt").write_text("".join(t + "\n" for t in test_lines))
    return {"train": train, "test": test, "flags": flags, "paths": paths}
