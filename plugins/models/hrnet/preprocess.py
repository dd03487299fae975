"""HRNet-Facial's test-time input: each face's centre and scale, and its crop (lib/utils/transforms.py crop,
get_transform, transform_pixel; lib/datasets/*.py __getitem__).

The crop is not one warp. crop() finds the window's corners through transform_pixel (which truncates to whole
pixels), pastes the image into a zero-padded float32 window, and resizes it to 256 x 256 with
scipy.misc.imresize. That function (SciPy 1.0-1.2, removed in 1.3) first byte-scales the array, stretching its
own minimum and maximum to 0 and 255, then resizes with PIL's bilinear filter; a face whose window is twice the
crop or more is first shrunk the same way as a whole image. Both are written out here, so the crop is the one
HRNet-Facial's numbers were measured on. Coordinates are in the annotation files' frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SOURCE = "lib/utils/transforms.py:130-215 (get_transform, transform_pixel, crop); lib/datasets/wflw.py:47-75; " \
         "lib/datasets/cofw.py:58-75 (centre and scale from the landmarks); SciPy 1.2 scipy/misc/pilutil.py " \
         "(bytescale, toimage, imresize)"
OUTPUT_SIZE = (256, 256)
PADDING = 1.25  # scale *= 1.25 in every dataset's __getitem__


@dataclass(frozen=True)
class CentreScale:
    """A face's centre (float32, as torch.Tensor([w, h]) stores it) and scale (the box side / 200, before the
    dataset's x 1.25)."""

    centre_w: float
    centre_h: float
    scale: float

    @property
    def centre(self) -> tuple[float, float]:
        return float(np.float32(self.centre_w)), float(np.float32(self.centre_h))

    @property
    def padded_scale(self) -> float:
        return self.scale * PADDING


def from_landmarks(points: np.ndarray) -> CentreScale:
    """lib/datasets/cofw.py: the landmarks' extent, floored and ceiled to whole pixels."""
    xmin, xmax = np.min(points[:, 0]), np.max(points[:, 0])
    ymin, ymax = np.min(points[:, 1]), np.max(points[:, 1])
    centre_w = (math.floor(xmin) + math.ceil(xmax)) / 2.0
    centre_h = (math.floor(ymin) + math.ceil(ymax)) / 2.0
    scale = max(math.ceil(xmax) - math.floor(xmin), math.ceil(ymax) - math.floor(ymin)) / 200.0
    return CentreScale(centre_w, centre_h, scale)


def from_box(box) -> CentreScale:
    """A face box (x0, y0, x1, y1) by the same convention: its centre, its longer side / 200."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return CentreScale((x0 + x1) / 2.0, (y0 + y1) / 2.0, max(x1 - x0, y1 - y0) / 200.0)


def transform(centre: tuple[float, float], scale: float, output_size, rot: float = 0) -> np.ndarray:
    """get_transform: image -> output pixels, 3 x 3, rotated by `rot` degrees about the output's middle (the
    training crop's rotation, in the direction crop() turns the image)."""
    h = 200 * scale
    t = np.zeros((3, 3))
    t[0, 0] = float(output_size[1]) / h
    t[1, 1] = float(output_size[0]) / h
    t[0, 2] = output_size[1] * (-float(centre[0]) / h + .5)
    t[1, 2] = output_size[0] * (-float(centre[1]) / h + .5)
    t[2, 2] = 1
    if rot != 0:
        rad = -rot * np.pi / 180
        sn, cs = np.sin(rad), np.cos(rad)
        rot_mat = np.zeros((3, 3))
        rot_mat[0, :2] = [cs, -sn]
        rot_mat[1, :2] = [sn, cs]
        rot_mat[2, 2] = 1
        to_middle = np.eye(3)
        to_middle[0, 2] = -output_size[1] / 2
        to_middle[1, 2] = -output_size[0] / 2
        back = to_middle.copy()
        back[:2, 2] *= -1
        t = np.dot(back, np.dot(rot_mat, np.dot(to_middle, t)))
    return t


def to_output_pixel(point, centre, scale: float, output_size, rot: float = 0) -> np.ndarray:
    """transform_pixel(point, ...) forwards: a 1-based image pixel to the 1-based output pixel, truncated."""
    mapped = np.dot(transform(centre, scale, output_size, rot), np.array([point[0] - 1, point[1] - 1, 1.]).T)
    return mapped[:2].astype(int) + 1


def to_image_pixels(points: np.ndarray, centre, scale: float, output_size) -> np.ndarray:
    """transform_pixel(..., invert=1) for each (x, y): the inverse map, truncated to whole pixels (+1 after the
    -1 the function starts with), as HRNet-Facial returns its predictions."""
    inverse = np.linalg.inv(transform(centre, scale, output_size))
    out = np.empty((len(points), 2), dtype=np.int64)
    for i, (x, y) in enumerate(points):
        mapped = np.dot(inverse, np.array([x - 1, y - 1, 1.]).T)
        out[i] = mapped[:2].astype(int) + 1
    return out


def _corner(point, centre, scale, output_size) -> np.ndarray:
    return to_image_pixels(np.asarray([point], dtype=np.float64), centre, scale, output_size)[0]


def bytescale(data: np.ndarray) -> np.ndarray:
    """SciPy 1.2's bytescale: uint8 passes; anything else has its minimum and maximum stretched to 0 and 255
    (in float32 for float32 input, the scale rounded to float32 as NumPy 1.x did)."""
    if data.dtype == np.uint8:
        return data
    cmin, cmax = data.min(), data.max()
    spread = cmax - cmin
    if spread == 0:
        spread = 1
    scaled = (data - cmin) * (255.0 / float(spread))
    return (scaled.clip(0, 255) + 0.5).astype(np.uint8)


def imresize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """scipy.misc.imresize(image, [height, width]) of an (H, W, 3) array: bytescale, then PIL's bilinear resize."""
    from PIL import Image

    data = bytescale(np.asarray(image))
    resized = Image.frombytes("RGB", (data.shape[1], data.shape[0]), np.ascontiguousarray(data).tobytes())
    return np.array(resized.resize((width, height), resample=Image.BILINEAR))


def imrotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """scipy.misc.imrotate(image, degrees) of an (H, W, 3) array: bytescale, then PIL's bilinear rotate (counter-
    clockwise, same size, black corners)."""
    from PIL import Image

    data = np.ascontiguousarray(bytescale(np.asarray(image)))
    turned = Image.frombytes("RGB", (data.shape[1], data.shape[0]), data.tobytes()).rotate(degrees,
                                                                                           resample=Image.BILINEAR)
    return np.array(turned)


def crop(image: np.ndarray, centre: tuple[float, float], scale: float, output_size=OUTPUT_SIZE,
         rot: float = 0) -> np.ndarray:
    """crop(): an (H, W, 3) image (float32 from PIL, or uint8 as COFW's .mat holds it) -> the (256, 256, 3)
    uint8 crop the network sees; `rot` (training) widens the window by the padding a rotation needs, turns it
    with imrotate and cuts the padding off again."""
    centre_w, centre_h = np.float32(centre[0]), np.float32(centre[1])
    height, width = image.shape[0], image.shape[1]
    factor = scale * 200.0 / output_size[0]
    if factor < 2:
        factor = 1
    else:
        new_size = int(math.floor(max(height, width) / factor))
        if new_size < 2:
            return np.zeros((output_size[0], output_size[1], 3), dtype=np.uint8)
        image = imresize(image, int(math.floor(height / factor)), int(math.floor(width / factor)))
        centre_w = np.float32(centre_w * np.float32(1.0) / np.float32(factor))  # float32 tensor arithmetic
        centre_h = np.float32(centre_h * np.float32(1.0) / np.float32(factor))
        scale = scale / factor
    centre = (float(centre_w), float(centre_h))
    ul = _corner((0, 0), centre, scale, output_size)
    br = _corner(output_size, centre, scale, output_size)
    pad = int(np.linalg.norm(br - ul) / 2 - float(br[1] - ul[1]) / 2)  # the context a rotation needs
    if rot != 0:
        ul, br = ul - pad, br + pad
    window = np.zeros((br[1] - ul[1], br[0] - ul[0], image.shape[2]), dtype=np.float32)
    new_x = max(0, -ul[0]), min(br[0], image.shape[1]) - ul[0]
    new_y = max(0, -ul[1]), min(br[1], image.shape[0]) - ul[1]
    old_x = max(0, ul[0]), min(image.shape[1], br[0])
    old_y = max(0, ul[1]), min(image.shape[0], br[1])
    if old_x[1] <= old_x[0] or old_y[1] <= old_y[0]:
        raise ValueError(f"the face's window ({ul[0]}, {ul[1]})-({br[0]}, {br[1]}) holds no pixel of the "
                         f"{image.shape[1]}x{image.shape[0]} image")
    window[new_y[0]:new_y[1], new_x[0]:new_x[1]] = image[old_y[0]:old_y[1], old_x[0]:old_x[1]]
    if rot != 0:
        window = imrotate(window, rot)[pad:-pad, pad:-pad]
    return imresize(window, output_size[0], output_size[1])
