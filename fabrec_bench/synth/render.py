"""Draw synthetic face images (RGB float, 0..1) with OpenCV, and decide the six WFLW attribute flags.

A scene has a cluttered background and one or two faces. Each face is drawn back to front: hair behind the
head, neck and shirt, ears, shaded skin, make-up, brows, eyes, nose, lips, front hair, then an occluder.
Illumination and blur act on the whole picture. The attribute flags are computed from what was drawn
(pose angles, expression strengths, measured occluder coverage of the landmarks, light and blur strength).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fabrec_bench.synth.face import (
    FaceParams,
    extra_points_3d,
    is_exaggerated,
    is_large_pose,
    landmarks_3d,
    project,
    rotation,
    sample_face_params,
)

ATTRIBUTES = ("pose", "expression", "illumination", "make-up", "occlusion", "blur")
SHIFT = 4  # fixed-point bits for sub-pixel polygon drawing
SKIN_TONES = np.array([
    [0.97, 0.83, 0.72], [0.92, 0.72, 0.58], [0.84, 0.62, 0.47], [0.72, 0.51, 0.36], [0.56, 0.38, 0.26],
    [0.40, 0.26, 0.17],
])
HAIR_COLOURS = np.array([
    [0.07, 0.05, 0.04], [0.18, 0.11, 0.07], [0.35, 0.22, 0.12], [0.74, 0.60, 0.36], [0.52, 0.20, 0.09],
    [0.62, 0.61, 0.60],
])
IRIS_COLOURS = np.array([[0.30, 0.18, 0.08], [0.25, 0.42, 0.62], [0.30, 0.45, 0.25], [0.45, 0.33, 0.15]])
LIPSTICKS = np.array([[0.75, 0.05, 0.15], [0.85, 0.25, 0.45], [0.45, 0.05, 0.20], [0.90, 0.35, 0.30]])
EYESHADOWS = np.array([[0.45, 0.25, 0.55], [0.20, 0.35, 0.65], [0.65, 0.45, 0.25], [0.30, 0.55, 0.40]])


@dataclass
class DrawnFace:
    """One face as drawn: its landmarks in image pixels and its attribute flags."""

    landmarks_px: np.ndarray
    attributes: dict[str, int]
    params: FaceParams
    occluded_points: np.ndarray  # (98,) bool: the point lies under an occluder


@dataclass
class Look:
    """Per-face appearance choices."""

    skin: np.ndarray
    hair: np.ndarray
    iris: np.ndarray
    hair_style: int  # 0 short, 1 long, 2 bald, 3 fringe
    makeup: bool
    lipstick: np.ndarray
    eyeshadow: np.ndarray
    occluder: str | None
    glasses: bool
    shirt: np.ndarray


def _pts(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points) * (1 << SHIFT)).astype(np.int32).reshape(-1, 1, 2)


def poly_mask(shape: tuple[int, int], points: np.ndarray, blur: float = 0.0) -> np.ndarray:
    """An anti-aliased float mask (0..1) of a filled polygon, optionally feathered by a Gaussian."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [_pts(points)], 255, lineType=cv2.LINE_AA, shift=SHIFT)
    m = mask.astype(np.float32) / 255.0
    return cv2.GaussianBlur(m, (0, 0), blur) if blur > 0 else m


def ellipse_mask(shape, centre, axes, angle, blur: float = 0.0) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    c = tuple(int(round(v * (1 << SHIFT))) for v in centre)
    a = tuple(max(1, int(round(v * (1 << SHIFT)))) for v in axes)
    cv2.ellipse(mask, c, a, float(angle), 0, 360, 255, -1, lineType=cv2.LINE_AA, shift=SHIFT)
    m = mask.astype(np.float32) / 255.0
    return cv2.GaussianBlur(m, (0, 0), blur) if blur > 0 else m


def line_mask(shape, points: np.ndarray, thickness: float, blur: float = 0.0) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.polylines(mask, [_pts(points)], False, 255, max(1, int(round(thickness))), cv2.LINE_AA, shift=SHIFT)
    m = mask.astype(np.float32) / 255.0
    return cv2.GaussianBlur(m, (0, 0), blur) if blur > 0 else m


def paint(img: np.ndarray, mask: np.ndarray, colour, alpha: float = 1.0) -> None:
    """Blend `colour` (RGB, or an image) into `img` where `mask` is set."""
    a = (mask * alpha)[..., None]
    img *= 1 - a
    img += a * np.asarray(colour, np.float32)


# -- background --------------------------------------------------------------------------------------


def draw_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A gradient with clutter (boxes, discs, bars, lines), softly out of focus."""
    c0, c1 = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = ((xx / w - 0.5) * np.cos(angle) + (yy / h - 0.5) * np.sin(angle) + 0.5).clip(0, 1)[..., None]
    img = (c0 * (1 - t) + c1 * t).astype(np.float32)
    for _ in range(rng.integers(4, 22)):
        colour = rng.uniform(0.05, 0.95, 3)
        kind = rng.integers(4)
        x, y = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        size = rng.uniform(0.05, 0.45) * min(h, w)
        if kind == 0:
            angle_r = rng.uniform(0, np.pi)
            rect = cv2.boxPoints(((x, y), (size, size * rng.uniform(0.3, 2.5)), np.degrees(angle_r)))
            m = poly_mask((h, w), rect)
        elif kind == 1:
            m = ellipse_mask((h, w), (x, y), (size / 2, size / 2 * rng.uniform(0.5, 1.0)), rng.uniform(0, 180))
        elif kind == 2:
            x2, y2 = rng.uniform(0, w), rng.uniform(0, h)
            m = line_mask((h, w), np.array([[x, y], [x2, y2]]), rng.uniform(1, 0.08 * min(h, w)))
        else:
            pts = np.stack([x + rng.normal(0, size / 2, 5), y + rng.normal(0, size / 2, 5)], axis=1)
            m = poly_mask((h, w), cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2))
        paint(img, m, colour, rng.uniform(0.5, 1.0))
    texture = cv2.resize(rng.normal(0, 1, (max(2, h // 16), max(2, w // 16))).astype(np.float32), (w, h))
    img += 0.04 * texture[..., None]
    return cv2.GaussianBlur(img, (0, 0), rng.uniform(0.8, 3.0)).clip(0, 1)


# -- one face -----------------------------------------------------------------------------------------


def sample_look(rng: np.random.Generator, *, makeup: bool, occluded: bool) -> Look:
    i = rng.uniform(0, len(SKIN_TONES) - 1)
    lo = int(np.floor(i))
    skin = SKIN_TONES[lo] * (1 - (i - lo)) + SKIN_TONES[min(lo + 1, len(SKIN_TONES) - 1)] * (i - lo)
    occluders = ("hand", "mask", "sunglasses", "object", "strand")
    return Look(
        skin=skin * rng.uniform(0.95, 1.05, 3),
        hair=HAIR_COLOURS[rng.integers(len(HAIR_COLOURS))] * rng.uniform(0.85, 1.15),
        iris=IRIS_COLOURS[rng.integers(len(IRIS_COLOURS))],
        hair_style=int(rng.choice(4, p=[0.4, 0.35, 0.08, 0.17])),
        makeup=makeup,
        lipstick=LIPSTICKS[rng.integers(len(LIPSTICKS))],
        eyeshadow=EYESHADOWS[rng.integers(len(EYESHADOWS))],
        occluder=str(rng.choice(occluders)) if occluded else None,
        glasses=bool(rng.random() < 0.12),
        shirt=rng.uniform(0.05, 0.9, 3),
    )


def _shading(shape, centre, rot, scale, light, ambient) -> np.ndarray:
    """Lambert shading of a head-sized ellipsoid seen under `rot`; a cheap stand-in for a face normal map."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.stack([(xx - centre[0]) / (scale * 1.05), (yy - centre[1]) / (scale * 1.45)], axis=-1)
    # Undo the in-plane part of the rotation so the ellipsoid's axes follow the face.
    inplane = rot[:2, :2] / max(np.linalg.norm(rot[:2, 0]), 1e-6)
    local = d @ inplane
    r2 = (local ** 2).sum(-1)
    nz = np.sqrt(np.clip(1 - r2, 0.02, 1))
    normals = np.concatenate([local, nz[..., None]], axis=-1)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    # Turn the normals with the head's yaw and pitch so the far side of a turned face darkens.
    out_of_plane = np.eye(3)
    out_of_plane[:, :] = rot
    out_of_plane[:2, :] = inplane.T @ rot[:2, :]
    normals = normals @ out_of_plane
    lam = np.clip(normals @ (light / np.linalg.norm(light)), 0, 1)
    return (ambient + (1 - ambient) * lam).astype(np.float32)


def draw_face(img: np.ndarray, rng: np.random.Generator, p: FaceParams, look: Look, centre, scale: float,
              light: np.ndarray, ambient: float) -> tuple[np.ndarray, np.ndarray]:
    """Draw one face; returns its (98, 2) landmarks in pixels and which of them an occluder covers."""
    h, w = img.shape[:2]
    rot = rotation(p.yaw, p.pitch, p.roll)
    lm, depth = project(landmarks_3d(p), rot, scale, centre)
    extra = {k: project(v, rot, scale, centre)[0] for k, v in extra_points_3d(p).items()}
    shape = (h, w)
    px = scale / 100.0  # one "percent of the half face width" in pixels
    hair = look.hair
    skin = look.skin

    # Hair behind the head, then neck, shirt and ears.
    skull = extra["skull"]
    centre_skull = skull.mean(axis=0)
    back = centre_skull + (skull - centre_skull) * 1.1
    if look.hair_style == 1:  # long hair falls to the shoulders
        down = project(np.array([[1.25 * p.face_width, 1.9, -0.7], [-1.25 * p.face_width, 1.9, -0.7]]),
                       rot, scale, centre)[0]
        back = np.concatenate([back, down])
    if look.hair_style != 2:
        paint(img, poly_mask(shape, cv2.convexHull(back.astype(np.float32)).reshape(-1, 2), blur=px * 2), hair)
    neck = extra["neck"]
    paint(img, poly_mask(shape, neck, blur=px), skin * 0.82)
    shoulders = project(np.array([[-2.2, 2.25, -0.6], [2.2, 2.25, -0.6], [2.6, 4.0, -0.6], [-2.6, 4.0, -0.6]]),
                        rot * np.array([1, 1, 1]), scale, centre)[0]
    paint(img, poly_mask(shape, shoulders, blur=px), look.shirt)
    ear_axes = (0.13 * scale, 0.27 * scale)
    roll = p.roll
    for ear in extra["ears"]:
        paint(img, ellipse_mask(shape, ear, ear_axes, roll, blur=px), skin * 0.9)

    # Skin, shaded like a lit ellipsoid, darker towards the outline.
    outline = np.concatenate([lm[0:33], extra["skull"]])
    hull = cv2.convexHull(outline.astype(np.float32)).reshape(-1, 2)
    face_mask = poly_mask(shape, hull, blur=px * 0.8)
    face_centre = project(np.array([[0.0, 0.25, 0.0]]), rot, scale, centre)[0][0]
    shade = _shading(shape, face_centre, rot, scale, light, ambient)
    edge = cv2.GaussianBlur(face_mask, (0, 0), px * 9)
    skin_img = skin[None, None, :] * shade[..., None] * (0.8 + 0.2 * edge[..., None])
    paint(img, face_mask, skin_img)

    # Make-up under the features: blush and eye shadow.
    if look.makeup:
        for cheek in (lm[[4, 55]].mean(axis=0), lm[[28, 59]].mean(axis=0)):
            paint(img, ellipse_mask(shape, cheek, (18 * px, 12 * px), roll, blur=8 * px), [0.9, 0.4, 0.45], 0.35)
        for lid, brow in ((lm[60:65], lm[38:42][::-1]), (lm[68:73], lm[47:51][::-1])):
            region = np.concatenate([lid, brow[::-1] * 0.5 + lid[[4, 3, 1, 0]] * 0.5]) if len(brow) == 4 else lid
            paint(img, poly_mask(shape, region, blur=3 * px), look.eyeshadow, 0.6)

    # Brows.
    brow_colour = hair * 0.7 if look.hair_style != 2 else skin * 0.35
    for brow in (lm[33:42], lm[42:51]):
        paint(img, poly_mask(shape, brow, blur=px * 1.2), brow_colour, 0.9)

    # Eyes: sclera, iris and pupil clipped to the lids, lashes along the upper lid.
    for contour, pupil in ((lm[60:68], lm[96]), (lm[68:76], lm[97])):
        sclera = poly_mask(shape, contour)
        paint(img, sclera, [0.93, 0.91, 0.88])
        eye_h = np.linalg.norm(contour[0] - contour[4])
        iris = ellipse_mask(shape, pupil, (0.23 * eye_h, 0.23 * eye_h), 0) * sclera
        paint(img, iris, look.iris)
        paint(img, ellipse_mask(shape, pupil, (0.1 * eye_h, 0.1 * eye_h), 0) * sclera, [0.02, 0.02, 0.02])
        glint = pupil + np.array([0.06, -0.06]) * eye_h
        paint(img, ellipse_mask(shape, glint, (0.03 * eye_h, 0.03 * eye_h), 0) * sclera, [1, 1, 1], 0.8)
        upper = contour[0:5]
        lash = 2.5 if look.makeup else 1.4
        paint(img, line_mask(shape, upper, max(1.0, lash * px * 1.5)), [0.05, 0.03, 0.03], 0.9)
        lower = np.concatenate([contour[4:8], contour[:1]])
        paint(img, line_mask(shape, lower, max(1.0, px * 0.8)), skin * 0.5, 0.5)

    # Nose: a soft shadow on the side away from the light, nostrils, a highlight on the tip.
    side = -1 if light[0] > 0 else 1
    bridge = lm[51:55] + np.array([side * 5 * px, 0])
    paint(img, line_mask(shape, bridge, 4 * px, blur=3 * px), skin * 0.55, 0.35)
    for a, b in ((55, 56), (58, 59)):
        nostril = lm[[a, b]].mean(axis=0) + np.array([0, -1.5 * px])
        paint(img, ellipse_mask(shape, nostril, (4 * px, 2.2 * px), roll, blur=px), skin * 0.3, 0.8)
    paint(img, ellipse_mask(shape, lm[54], (4 * px, 3 * px), roll, blur=3 * px), [1, 1, 1], 0.18)

    # Lips, the open mouth and teeth.
    lip_colour = look.lipstick if look.makeup else np.clip(skin * np.array([0.95, 0.62, 0.62]), 0, 1)
    paint(img, poly_mask(shape, lm[76:88], blur=px * 0.7), lip_colour)
    inner = lm[88:96]
    gap = np.linalg.norm(lm[90] - lm[94])
    if gap > 2.0:
        mouth = poly_mask(shape, inner)
        paint(img, mouth, [0.22, 0.05, 0.06])
        teeth = np.concatenate([inner[0:5], inner[[4, 3, 2, 1, 0]] + (lm[94] - lm[90]) * 0.35])
        paint(img, poly_mask(shape, teeth) * mouth, [0.92, 0.9, 0.85])
    paint(img, line_mask(shape, inner[0:5], max(1.0, px)), lip_colour * 0.5, 0.6)

    # Front hair: the skull cap above a hairline (or a fringe), never below the brows.
    if look.hair_style != 2:
        skull = extra["skull"]
        cap = skull[4:-4]  # the part of the skull arc above the temples
        line = extra["hairline"][4:-4]
        if look.hair_style == 3:
            line = project(np.array([[0.85, -0.4, -0.05], [0.3, -0.5, 0.1], [-0.4, -0.46, 0.1],
                                     [-0.85, -0.36, -0.05]]) * np.array([p.face_width, 1, 1]), rot, scale, centre)[0]
        paint(img, poly_mask(shape, np.concatenate([line, cap[::-1]]), blur=px * 1.5), hair)

    if look.glasses and look.occluder != "sunglasses":
        for contour in (lm[60:68], lm[68:76]):
            c = contour.mean(axis=0)
            r = np.linalg.norm(contour[0] - contour[4]) * 0.75
            ring = ellipse_mask(shape, c, (r, r * 0.75), roll) - ellipse_mask(shape, c, (r * 0.88, r * 0.63), roll)
            paint(img, ring.clip(0, 1), [0.1, 0.1, 0.1], 0.9)
        paint(img, line_mask(shape, np.array([lm[64], lm[68]]), 2 * px), [0.1, 0.1, 0.1], 0.9)

    occluded = np.zeros(len(lm), bool)
    if look.occluder:
        occ = _occluder_mask(rng, shape, look, lm, scale, roll)
        colour = {"hand": skin * 0.95, "mask": [0.75, 0.85, 0.95], "sunglasses": [0.05, 0.05, 0.07],
                  "object": rng.uniform(0, 1, 3), "strand": hair}[look.occluder]
        paint(img, occ, colour)
        inside = (lm[:, 0] >= 0) & (lm[:, 0] < w) & (lm[:, 1] >= 0) & (lm[:, 1] < h)
        xi = lm[:, 0].clip(0, w - 1).astype(int)
        yi = lm[:, 1].clip(0, h - 1).astype(int)
        occluded = (occ[yi, xi] > 0.5) & inside
    return lm, occluded


def _occluder_mask(rng, shape, look: Look, lm: np.ndarray, scale: float, roll: float) -> np.ndarray:
    px = scale / 100.0
    kind = look.occluder
    if kind == "mask":
        top = lm[[2, 52, 30]]
        region = np.concatenate([lm[2:31], top[::-1]])
        return poly_mask(shape, cv2.convexHull(region.astype(np.float32)).reshape(-1, 2), blur=px)
    if kind == "sunglasses":
        m = np.zeros(shape, np.float32)
        for contour in (lm[60:68], lm[68:76]):
            c = contour.mean(axis=0)
            r = np.linalg.norm(contour[0] - contour[4]) * 0.8
            m = np.maximum(m, ellipse_mask(shape, c, (r, r * 0.7), roll))
        return np.maximum(m, line_mask(shape, np.array([lm[64], lm[68]]), 3 * px))
    if kind == "hand":
        target = lm[rng.choice([16, 85, 4, 28, 54])]
        palm = ellipse_mask(shape, target, (32 * px, 42 * px), rng.uniform(0, 180), blur=px)
        for k in range(4):
            angle = np.radians(rng.uniform(-40, 40) - 90 + k * 15)
            tip = target + 75 * px * np.array([np.cos(angle), np.sin(angle)])
            palm = np.maximum(palm, line_mask(shape, np.array([target, tip]), 14 * px))
        return palm
    if kind == "object":
        target = lm[rng.integers(0, 98)]
        size = rng.uniform(35, 70) * px
        if rng.random() < 0.5:
            return ellipse_mask(shape, target, (size, size * rng.uniform(0.6, 1.4)), rng.uniform(0, 180))
        rect = cv2.boxPoints(((float(target[0]), float(target[1])), (size * 2, size * 1.3), rng.uniform(0, 180)))
        return poly_mask(shape, rect)
    # A strand of hair across one eye.
    eye = lm[60:68] if rng.random() < 0.5 else lm[68:76]
    c = eye.mean(axis=0)
    start, end = c + np.array([-30, -70]) * px, c + np.array([25, 60]) * px
    return line_mask(shape, np.array([start, c, end]), 18 * px, blur=px)


# -- scenes ------------------------------------------------------------------------------------------


def render_scene(rng: np.random.Generator, n_faces: int = 1, force: str | None = None) -> tuple[np.ndarray, list[DrawnFace]]:
    """Draw an image with `n_faces` faces; `force` names one attribute that every face gets.

    Returns the RGB float image and, per face, its landmarks and attribute flags.
    """
    want = {a: rng.random() < q for a, q in zip(ATTRIBUTES, (0.14, 0.14, 0.25, 0.1, 0.25, 0.25), strict=True)}
    if force:
        want[force] = True
    scale = float(rng.uniform(42, 85))
    face_w = 2.4 * scale
    w = int(face_w * rng.uniform(1.9, 2.6)) * n_faces
    h = int(face_w * rng.uniform(2.0, 2.6))
    img = draw_background(rng, h, w)

    # Illumination, shared by the faces of one scene.
    light = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.6, 0.1), 1.0])
    ambient = rng.uniform(0.45, 0.65)
    extreme_light = bool(want["illumination"])
    light_kind = int(rng.integers(4)) if extreme_light else -1
    if light_kind == 0:  # hard side light, the far side of the face in deep shadow
        light = np.array([rng.choice([-1, 1]) * rng.uniform(1.5, 3.0), rng.uniform(-0.5, 0.2), 0.35])
        ambient = rng.uniform(0.05, 0.15)

    faces = []
    for k in range(n_faces):
        params = sample_face_params(rng, large_pose=want["pose"], exaggerated=want["expression"])
        look = sample_look(rng, makeup=want["make-up"], occluded=want["occlusion"])
        cx = (k + 0.5) * w / n_faces + rng.normal(0, 0.08) * w / n_faces
        cy = h * 0.45 + rng.normal(0, 0.05) * h
        if rng.random() < 0.06:  # now and then a face runs off the edge of the picture
            cx = rng.choice([0.12, 0.88]) * w
        lm, occluded = draw_face(img, rng, params, look, (cx, cy), scale, light, ambient)
        flags = {
            "pose": int(is_large_pose(params)),
            "expression": int(is_exaggerated(params)),
            "illumination": int(extreme_light),
            "make-up": int(look.makeup),
            "occlusion": int(occluded.mean() >= 0.1),
            "blur": 0,
        }
        faces.append(DrawnFace(lm, flags, params, occluded))

    if light_kind == 1:  # very dark
        img *= rng.uniform(0.18, 0.35)
    elif light_kind == 2:  # over-exposed
        img = img * rng.uniform(1.7, 2.3) + 0.1
    elif light_kind == 3:  # strong coloured cast with a gradient
        tint = rng.uniform(0.2, 1.0, 3)
        tint /= tint.max()
        ramp = np.linspace(rng.uniform(0.2, 0.5), rng.uniform(1.0, 1.4), w, dtype=np.float32)[None, :, None]
        img = img * tint * ramp
    else:
        img = img * rng.uniform(0.88, 1.12)

    if want["blur"]:
        if rng.random() < 0.5:
            img = cv2.GaussianBlur(img, (0, 0), scale * rng.uniform(0.04, 0.07))
        else:
            length = int(scale * rng.uniform(0.12, 0.22)) | 1
            kernel = np.zeros((length, length), np.float32)
            kernel[length // 2, :] = 1.0 / length
            rot = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1.0)
            kernel = cv2.warpAffine(kernel, rot, (length, length))
            img = cv2.filter2D(img, -1, kernel / max(kernel.sum(), 1e-6))
        for f in faces:
            f.attributes["blur"] = 1
    else:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.6))
    img = img + rng.normal(0, rng.uniform(0.005, 0.02), img.shape).astype(np.float32)
    return np.clip(img, 0, 1), faces


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """RGB float 0..1 -> BGR uint8 for cv2.imwrite."""
    return cv2.cvtColor((img * 255 + 0.5).clip(0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
