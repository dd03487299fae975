"""A parametric 3D face whose 98 WFLW landmarks are known exactly, and its projection to the image.

Face frame: x to the image right, y down, z towards the camera; unit = half the face width at the eyes.
Every point follows the WFLW index semantics in ../shared/docs/datasets.md (1.6): 0-32 contour from the
image-left ear over the chin, 33-50 brows, 51-59 nose, 60-75 eyes (60/72 outer corners), 76-95 lips,
96-97 pupils. The image-right half of each symmetric part is built as the mirror of the image-left half,
so the WFLW flip permutation holds by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fabrec_bench.schemes import WFLW98


@dataclass
class FaceParams:
    """Everything that decides one synthetic face; drawn by `sample_face_params`."""

    # identity
    face_width: float = 1.0
    chin_y: float = 1.32
    jaw_width: float = 0.8
    eye_x: float = 0.42
    eye_width: float = 0.17
    eye_height: float = 0.075
    brow_y: float = -0.27
    brow_arch: float = 0.06
    nose_length: float = 0.52
    nose_width: float = 0.2
    mouth_y: float = 0.86
    mouth_width: float = 0.33
    lip_thickness: float = 0.09
    jitter: np.ndarray = field(default_factory=lambda: np.zeros((98, 3)))
    # expression
    mouth_open: float = 0.0
    smile: float = 0.0
    brow_raise: float = 0.0
    eye_closure: tuple[float, float] = (0.0, 0.0)
    gaze: tuple[float, float] = (0.0, 0.0)
    # pose, degrees
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0


def sample_face_params(rng: np.random.Generator, *, large_pose: bool, exaggerated: bool) -> FaceParams:
    """Draw identity, expression and pose; `large_pose` and `exaggerated` force the WFLW attributes."""
    p = FaceParams(
        face_width=rng.uniform(0.92, 1.08),
        chin_y=rng.uniform(1.2, 1.45),
        jaw_width=rng.uniform(0.68, 0.9),
        eye_x=rng.uniform(0.38, 0.46),
        eye_width=rng.uniform(0.15, 0.19),
        eye_height=rng.uniform(0.06, 0.09),
        brow_y=rng.uniform(-0.33, -0.24),
        brow_arch=rng.uniform(0.03, 0.09),
        nose_length=rng.uniform(0.46, 0.6),
        nose_width=rng.uniform(0.17, 0.24),
        mouth_y=rng.uniform(0.8, 0.92),
        mouth_width=rng.uniform(0.28, 0.38),
        lip_thickness=rng.uniform(0.07, 0.11),
        jitter=rng.normal(0, 0.008, size=(98, 3)),
    )
    if exaggerated:
        kind = rng.integers(4)
        p.mouth_open = rng.uniform(0.55, 1.0) if kind in (0, 3) else rng.uniform(0, 0.15)
        p.smile = rng.uniform(0.7, 1.0) if kind == 1 else rng.uniform(-0.2, 0.3)
        p.brow_raise = rng.uniform(0.6, 1.0) if kind in (2, 3) else rng.uniform(0, 0.3)
        closure = rng.uniform(0.8, 1.0) if kind == 2 and rng.random() < 0.5 else rng.uniform(0, 0.2)
        p.eye_closure = (closure, closure)
    else:
        p.mouth_open = max(0.0, rng.normal(0.0, 0.12))
        p.smile = rng.uniform(-0.2, 0.45)
        p.brow_raise = rng.uniform(-0.2, 0.35)
        closure = rng.uniform(0, 0.3)
        p.eye_closure = (closure, float(np.clip(closure + rng.normal(0, 0.05), 0, 0.35)))
    p.gaze = (rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.3))
    if large_pose:
        axis = rng.integers(3)
        p.yaw = rng.choice([-1, 1]) * rng.uniform(40, 60) if axis == 0 else rng.normal(0, 12)
        p.pitch = rng.choice([-1, 1]) * rng.uniform(26, 35) if axis == 1 else rng.normal(0, 8)
        p.roll = rng.choice([-1, 1]) * rng.uniform(36, 55) if axis == 2 else rng.normal(0, 10)
    else:
        p.yaw = float(np.clip(rng.normal(0, 13), -32, 32))
        p.pitch = float(np.clip(rng.normal(0, 8), -22, 22))
        p.roll = float(np.clip(rng.normal(0, 9), -30, 30))
    return p


def is_large_pose(p: FaceParams) -> bool:
    """The rule that sets WFLW's pose flag for a synthetic face."""
    return abs(p.yaw) > 35 or abs(p.pitch) > 25 or abs(p.roll) > 35


def is_exaggerated(p: FaceParams) -> bool:
    """The rule that sets WFLW's expression flag for a synthetic face."""
    return p.mouth_open > 0.5 or p.smile > 0.65 or p.brow_raise > 0.55 or max(p.eye_closure) > 0.75


def _arc(u: np.ndarray) -> np.ndarray:
    return np.sin(np.pi * u)


def _left_half(p: FaceParams) -> dict[str, np.ndarray]:
    """The image-left (x < 0) parts, as (n, 3) arrays in face units."""
    w = p.face_width
    # Contour 0..16 (ear to chin), theta from -pi/2 (ear) to 0 (chin).
    theta = np.linspace(-np.pi / 2, 0, 17)
    s = np.sin(theta)  # -1 .. 0
    c = np.cos(theta)  # 0 .. 1
    jaw_x = -w * np.abs(s) ** p.jaw_width * 1.02
    ytop = 0.05
    chin_drop = 0.32 * p.mouth_open
    jaw_y = ytop + (p.chin_y + chin_drop - ytop) * c ** 1.15
    jaw_z = 0.05 - 0.95 * np.abs(s) ** 0.9
    contour = np.stack([jaw_x, jaw_y, jaw_z], axis=1)

    # Eye (image-left = subject's right): 60 outer corner, 61-63 upper lid, 64 inner, 65-67 lower lid.
    cx, cy = -p.eye_x * w, 0.0
    ew = p.eye_width
    outer, inner = cx - ew, cx + ew
    closure = p.eye_closure[0]
    u = np.array([0.25, 0.5, 0.75])
    upper_open = cy - p.eye_height * 1.1 * _arc(u)
    lower = cy + p.eye_height * 0.8 * _arc(u)
    upper = upper_open + closure * (lower * 0.9 - upper_open)
    ex = outer + u * (inner - outer)
    eye = np.concatenate([
        [[outer, cy + 0.01, -0.32]],
        np.stack([ex, upper, np.full(3, -0.22)], axis=1),
        [[inner, cy + 0.01, -0.24]],
        np.stack([ex[::-1], lower[::-1], np.full(3, -0.24)], axis=1),
    ])
    lid_mid = (upper[1] + lower[1]) / 2
    pupil = np.array([[cx + p.gaze[0] * ew * 0.45, lid_mid + p.gaze[1] * p.eye_height * 0.3 * (1 - closure), -0.2]])

    # Brow: 33-37 upper edge outer->inner, 38-41 lower edge inner->outer.
    by = p.brow_y - 0.09 * p.brow_raise
    b_outer, b_inner = -0.8 * w, -0.13 * w
    bu = np.linspace(0, 1, 5)
    brow_up = np.stack([b_outer + bu * (b_inner - b_outer), by - p.brow_arch * _arc(bu * 0.9 + 0.05)
                        + 0.02 * bu, np.full(5, -0.12)], axis=1)
    bl = np.array([0.85, 0.62, 0.38, 0.15])
    brow_low = np.stack([b_outer + bl * (b_inner - b_outer), by + 0.055 - p.brow_arch * 0.8 * _arc(bl * 0.9 + 0.05)
                         + 0.02 * bl, np.full(4, -0.1)], axis=1)
    return {"contour": contour, "eye": eye, "pupil": pupil, "brow": np.concatenate([brow_up, brow_low])}


def _mirror(points: np.ndarray) -> np.ndarray:
    out = points.copy()
    out[:, 0] *= -1
    return out


def _mouth(p: FaceParams) -> np.ndarray:
    """Points 76-95: outer lip 76-87 from the image-left corner clockwise, inner lip 88-95."""
    my, mw, t = p.mouth_y, p.mouth_width * (1 + 0.12 * max(p.smile, 0)), p.lip_thickness
    corner_y = my - 0.09 * p.smile
    opening = 0.3 * p.mouth_open
    xs = np.array([-1.0, -0.62, -0.25, 0.0, 0.25, 0.62, 1.0]) * mw
    bow = np.array([0, 0.9, 1.0, 0.8, 1.0, 0.9, 0])  # cupid's bow: the centre dips a little
    top_outer = np.stack([xs, corner_y + (my - t * 1.05 - corner_y) * bow, 0.1 + 0.1 * bow], axis=1)
    bottom_shape = np.array([0.55, 0.9, 1.0, 0.9, 0.55])
    xb = np.array([0.75, 0.38, 0.0, -0.38, -0.75]) * mw
    bottom_outer = np.stack([xb, corner_y + (my + opening + t * 1.25 + 0.02 - corner_y) * bottom_shape,
                             0.05 + 0.12 * bottom_shape], axis=1)
    xi = np.array([-0.82, -0.4, 0.0, 0.4, 0.82]) * mw
    shape_i = np.array([0.0, 0.85, 1.0, 0.85, 0.0])
    top_inner = np.stack([xi, corner_y + (my - 0.015 - corner_y) * shape_i + 0.004, 0.1 + 0.05 * shape_i], axis=1)
    xbi = np.array([0.4, 0.0, -0.4]) * mw
    bottom_inner = np.stack([xbi, my + 0.015 + opening * np.array([0.85, 1.0, 0.85]), np.full(3, 0.12)], axis=1)
    return np.concatenate([top_outer, bottom_outer, top_inner, bottom_inner])


def _nose(p: FaceParams) -> np.ndarray:
    """Points 51-59: bridge 51-54 (54 near the tip), lower nose 55-59 (57 centre)."""
    nl, nw = p.nose_length, p.nose_width
    bridge = np.stack([np.zeros(4), np.linspace(-0.02, nl * 0.92, 4), np.linspace(0.02, 0.42, 4)], axis=1)
    xs = np.array([-1.0, -0.5, 0.0, 0.5, 1.0]) * nw
    lower = np.stack([xs, nl + 0.07 - np.array([0.04, 0.0, -0.01, 0.0, 0.04]),
                      np.array([0.12, 0.22, 0.28, 0.22, 0.12])], axis=1)
    return np.concatenate([bridge, lower])


def landmarks_3d(p: FaceParams) -> np.ndarray:
    """The 98 WFLW landmarks of face `p` in its own 3D frame, (98, 3)."""
    left = _left_half(p)
    pts = np.zeros((98, 3))
    perm = np.asarray(WFLW98.flip_permutation)
    pts[0:17] = left["contour"]
    pts[33:42] = left["brow"]
    pts[60:68] = left["eye"]
    pts[96] = left["pupil"][0]
    mirrored_idx = np.r_[0:16, 33:42, 60:68, 96]
    pts[perm[mirrored_idx]] = _mirror(pts[mirrored_idx])
    # The right eye's own closure and gaze are applied after mirroring.
    pts[51:60] = _nose(p)
    pts[76:96] = _mouth(p)
    right_closure = p.eye_closure[1] - p.eye_closure[0]
    if right_closure:
        upper, lower = [69, 70, 71], [75, 74, 73]
        pts[upper, 1] += right_closure * (pts[lower, 1] * 0.9 - pts[upper, 1])
    pts[97, 0] = -pts[96, 0] + 2 * p.gaze[0] * p.eye_width * 0.45
    return pts + p.jitter


def extra_points_3d(p: FaceParams) -> dict[str, np.ndarray]:
    """Non-landmark 3D points needed to draw the head: skull outline, hairline, ears."""
    w = p.face_width
    a = np.linspace(0, np.pi, 25)  # over the top, image-right ear to image-left ear
    skull = np.stack([w * 1.02 * np.cos(a), 0.05 - 1.45 * np.sin(a), -0.1 - 0.65 * np.sin(a) ** 0.5], axis=1)
    hairline = np.stack([w * 0.98 * np.cos(a), -0.5 - 0.25 * np.sin(a) ** 0.8, 0.0 - 0.2 * np.sin(a)], axis=1)
    ears = np.array([[-w * 1.02, 0.15, -0.95], [w * 1.02, 0.15, -0.95]])
    neck = np.array([[-0.55 * w, 1.0, -0.6], [0.55 * w, 1.0, -0.6], [0.6 * w, 2.3, -0.6], [-0.6 * w, 2.3, -0.6]])
    return {"skull": skull, "hairline": hairline, "ears": ears, "neck": neck}


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Rotation for a head turned by yaw (about y), pitch (about x) and roll (in the image plane), degrees."""
    y, x, r = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def project(points: np.ndarray, rot: np.ndarray, scale_px: float, centre_px: tuple[float, float],
            camera_distance: float = 9.0) -> tuple[np.ndarray, np.ndarray]:
    """Perspective projection of face-frame points: image pixels (n, 2) and depth towards the camera (n,)."""
    rotated = points @ rot.T
    factor = camera_distance / (camera_distance - rotated[:, 2])
    xy = rotated[:, :2] * factor[:, None] * scale_px + np.asarray(centre_px)
    return xy, rotated[:, 2]
