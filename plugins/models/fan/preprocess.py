"""FAN's crop (face_alignment/api.py get_landmarks_from_image; face_alignment/utils.py transform, crop).

From a face box (x0, y0, x1, y1): centre = the box centre moved up by 0.12 h, scale = (w + h) / the detector's
reference scale (195 for its S3FD, dlib and folder detectors). The crop window's corners come from transform():
a float32 3x3 matrix, inverted in float32, applied to the crop's pixels (1, 1) and (256, 256), truncated to
integers. The window is cut out of the image (zeros outside it, 1-based index ranges as the code writes them)
and resized to 256 x 256 by OpenCV's bilinear resize. The network sees RGB / 255.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

CROP = 256
SCALE_UNIT = 200.0  # FAN's scale is the face size in units of 200 pixels
CENTRE_SHIFT = 0.12  # the centre moves up by this fraction of the box height
REFERENCE_SCALE = 195.0  # core.FaceDetector.reference_scale (S3FD, dlib, folder)
SOURCE = "face_alignment/api.py:226-232 (centre, scale, crop call), face_alignment/utils.py:76-144 (transform, crop)"


@dataclass(frozen=True)
class CentreScale:
    centre: tuple[float, float]
    scale: float
    # the centre is a float32 tensor (face-alignment <= 1.4 given integer boxes or a list of Python numbers), not
    # float64 (1.5's NumPy array; 1.4's tensor of the float64 boxes S3FD hands over)
    single: bool = False


def from_box(box: np.ndarray, reference_scale: float = REFERENCE_SCALE, single: bool = False) -> CentreScale:
    """The centre and scale the API computes for a detected box [x0, y0, x1, y1]; `single`: as releases up to
    1.4 compute it from integer boxes (torch.FloatTensor, the shift subtracted in float32)."""
    d = [float(v) for v in box]
    centre = [d[2] - (d[2] - d[0]) / 2.0, d[3] - (d[3] - d[1]) / 2.0]
    if single:
        c = torch.tensor(centre, dtype=torch.float32)
        c[1] = c[1] - (d[3] - d[1]) * CENTRE_SHIFT
        centre = c.tolist()
    else:
        centre[1] = centre[1] - (d[3] - d[1]) * CENTRE_SHIFT
    return CentreScale((centre[0], centre[1]), (d[2] - d[0] + d[3] - d[1]) / reference_scale, single)


def crop_corner(point: tuple[float, float], where: CentreScale, resolution: float = CROP) -> tuple[int, int]:
    """transform(point, centre, scale, resolution, invert=True): the image pixel of a crop pixel, truncated."""
    h = SCALE_UNIT * where.scale
    t = torch.eye(3)
    t[0, 0] = resolution / h
    t[1, 1] = resolution / h
    for axis in (0, 1):  # a float32 tensor centre makes this arithmetic float32 too
        c = torch.tensor(where.centre[axis], dtype=torch.float32) if where.single else where.centre[axis]
        t[axis, 2] = resolution * (-c / h + 0.5)
    p = torch.ones(3)
    p[0], p[1] = point[0], point[1]
    x, y = torch.matmul(torch.inverse(t), p)[:2].int().tolist()
    return x, y


def crop(image: np.ndarray, where: CentreScale, resolution: int = CROP) -> np.ndarray:
    """(resolution, resolution, 3) uint8: the window around the face, zero outside the image, resized."""
    import cv2

    ul = crop_corner((1, 1), where, resolution)
    br = crop_corner((resolution, resolution), where, resolution)
    height, width = image.shape[:2]
    window = np.zeros((br[1] - ul[1], br[0] - ul[0], image.shape[2]), dtype=np.uint8)
    new_x = (max(1, -ul[0] + 1), min(br[0], width) - ul[0])
    new_y = (max(1, -ul[1] + 1), min(br[1], height) - ul[1])
    old_x = (max(1, ul[0] + 1), min(br[0], width))
    old_y = (max(1, ul[1] + 1), min(br[1], height))
    if new_x[1] < new_x[0] or new_y[1] < new_y[0]:
        raise ValueError(f"the crop window {ul}-{br} lies outside the {width} x {height} image")
    window[new_y[0] - 1:new_y[1], new_x[0] - 1:new_x[1]] = image[old_y[0] - 1:old_y[1], old_x[0] - 1:old_x[1], :]
    return cv2.resize(window, dsize=(resolution, resolution), interpolation=cv2.INTER_LINEAR)
