"""Landmark schemes: how many points an annotation format has, and what they mean.

Indices are 0-based. "image-left" is the subject's right side. The flip permutation maps each point to
the point it becomes after a horizontal flip; normaliser indices follow ../shared/docs/metrics.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LandmarkScheme:
    """The description of one annotation format's landmarks."""

    name: str
    num_points: int
    flip_permutation: tuple[int, ...]
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    # Outer eye corners, for inter-ocular NME.
    outer_eye_corners: tuple[int, int] | None = None
    # Points averaged into each eye centre, for inter-pupil NME.
    eye_centres: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if sorted(self.flip_permutation) != list(range(self.num_points)):
            raise ValueError(f"scheme {self.name}: flip permutation is not a permutation of {self.num_points} points")
        perm = self.flip_permutation
        if any(perm[perm[i]] != i for i in range(self.num_points)):
            raise ValueError(f"scheme {self.name}: flipping twice must give the identity")
        for group, indices in self.groups.items():
            if any(not 0 <= i < self.num_points for i in indices):
                raise ValueError(f"scheme {self.name}: group {group} has an index outside 0..{self.num_points - 1}")

    def to_dict(self) -> dict:
        """A JSON-friendly summary (used by `fabrec-bench plugins --json`)."""
        return {
            "name": self.name,
            "num_points": self.num_points,
            "groups": {k: list(v) for k, v in self.groups.items()},
            "outer_eye_corners": list(self.outer_eye_corners) if self.outer_eye_corners else None,
            "eye_centres": [list(e) for e in self.eye_centres] if self.eye_centres else None,
        }


def permutation_from_pairs(num_points: int, pairs: list[tuple[int, int]]) -> tuple[int, ...]:
    """Build a flip permutation from left-right pairs; unpaired points map to themselves."""
    perm = list(range(num_points))
    for a, b in pairs:
        perm[a], perm[b] = b, a
    return tuple(perm)


def _wflw98_pairs() -> list[tuple[int, int]]:
    pairs = [(i, 32 - i) for i in range(16)]
    pairs += [(33, 46), (34, 45), (35, 44), (36, 43), (37, 42), (38, 50), (39, 49), (40, 48), (41, 47)]
    pairs += [(55, 59), (56, 58)]
    pairs += [(60, 72), (61, 71), (62, 70), (63, 69), (64, 68), (65, 75), (66, 74), (67, 73)]
    pairs += [(76, 82), (77, 81), (78, 80), (83, 87), (84, 86), (88, 92), (89, 91), (93, 95), (96, 97)]
    return pairs


def _ibug68_pairs() -> list[tuple[int, int]]:
    pairs = [(i, 16 - i) for i in range(8)]
    pairs += [(17 + i, 26 - i) for i in range(5)]
    pairs += [(31, 35), (32, 34)]
    pairs += [(36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    return pairs


WFLW98 = LandmarkScheme(
    name="wflw98",
    num_points=98,
    flip_permutation=permutation_from_pairs(98, _wflw98_pairs()),
    groups={
        "outline": tuple(range(0, 33)),
        "inner": tuple(range(33, 98)),
        "brows": tuple(range(33, 51)),
        "nose": tuple(range(51, 60)),
        "eyes": tuple(range(60, 76)),
        "mouth": tuple(range(76, 96)),
        "pupils": (96, 97),
    },
    outer_eye_corners=(60, 72),
    eye_centres=((96,), (97,)),
    description="WFLW 98 points: contour 0-32, brows 33-50, nose 51-59, eyes 60-75, mouth 76-95, pupils 96-97",
)

IBUG68 = LandmarkScheme(
    name="ibug68",
    num_points=68,
    flip_permutation=permutation_from_pairs(68, _ibug68_pairs()),
    groups={
        "outline": tuple(range(0, 17)),
        "inner": tuple(range(17, 68)),
        "brows": tuple(range(17, 27)),
        "nose": tuple(range(27, 36)),
        "eyes": tuple(range(36, 48)),
        "mouth": tuple(range(48, 68)),
    },
    outer_eye_corners=(36, 45),
    eye_centres=(tuple(range(36, 42)), tuple(range(42, 48))),
    description="iBUG/Multi-PIE 68 points: jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67",
)

AFLW19 = LandmarkScheme(
    name="aflw19",
    num_points=19,
    flip_permutation=permutation_from_pairs(19, [(0, 5), (1, 4), (2, 3), (6, 11), (7, 10), (8, 9), (12, 14),
                                                 (15, 17)]),
    groups={"inner": tuple(range(19)), "brows": tuple(range(0, 6)), "eyes": tuple(range(6, 12)),
            "nose": (12, 13, 14), "mouth": (15, 16, 17), "chin": (18,)},
    outer_eye_corners=(6, 11),
    eye_centres=((7,), (10,)),
    description="AFLW-19: brows 0-5, eyes 6-11 (7, 10 centres), nose 12-14, mouth 15-17, chin 18",
)

COFW29 = LandmarkScheme(
    name="cofw29",
    num_points=29,
    flip_permutation=permutation_from_pairs(29, [(0, 1), (2, 3), (4, 6), (5, 7), (8, 9), (10, 11), (12, 14),
                                                 (13, 15), (16, 17), (18, 19), (22, 23)]),
    groups={"inner": tuple(range(28)), "brows": tuple(range(0, 8)), "eyes": tuple(range(8, 18)),
            "pupils": (16, 17), "nose": (18, 19, 20, 21), "mouth": tuple(range(22, 28)), "chin": (28,)},
    outer_eye_corners=(8, 9),
    eye_centres=((16,), (17,)),
    description="COFW (LFPW-29 order): brows 0-7, eye corners 8-11 (8/9 outer), eyelids 12-15, pupils 16-17, "
                "nose 18-21, mouth 22-27, chin 28",
)

FIVE_POINT = LandmarkScheme(
    name="five-point",
    num_points=5,
    flip_permutation=(1, 0, 2, 4, 3),
    groups={"inner": (0, 1, 2, 3, 4)},
    eye_centres=((0,), (1,)),
    description="MTCNN 5 points: image-left eye, image-right eye, nose tip, left and right mouth corners",
)

# The standard 98 -> 68 reduction (as used by 3FabRec and others).
WFLW98_TO_IBUG68: tuple[int, ...] = (
    tuple(range(0, 33, 2))
    + tuple(range(33, 38))
    + tuple(range(42, 47))
    + tuple(range(51, 60))
    + (60, 61, 63, 64, 65, 67, 68, 69, 71, 72, 73, 75)
    + tuple(range(76, 96))
)
assert len(WFLW98_TO_IBUG68) == 68

# Synthetic-data reductions of the 98 WFLW points (pairs are averaged): AFLW-19 and the 5 MTCNN points.
WFLW98_TO_AFLW19: tuple[tuple[int, ...], ...] = (
    (33,), (35,), (37,), (42,), (44,), (46,), (60,), (96,), (64,), (68,), (97,), (72,),
    (55,), (54,), (59,), (76,), (90, 94), (82,), (16,),
)
# For synthetic COFW files: the 29 COFW points picked from the 98 (mirror pairs as COFW29's flips).
WFLW98_TO_COFW29: tuple[int, ...] = (33, 46, 37, 42, 35, 40, 44, 48, 60, 72, 64, 68, 62, 66, 70, 74, 96, 97,
                                     55, 59, 54, 57, 76, 82, 79, 90, 94, 85, 16)
WFLW98_TO_FIVE: tuple[tuple[int, ...], ...] = ((96,), (97,), (54,), (76,), (82,))


# The built-in schemes by name (fabrec_bench.plugins.scheme_by_name adds those of installed datasets).
BUILTIN_SCHEMES: dict[str, LandmarkScheme] = {s.name: s for s in (WFLW98, IBUG68, AFLW19, COFW29, FIVE_POINT)}


def scheme_for_points(num_points: int) -> LandmarkScheme:
    """The built-in scheme with that many points (a released checkpoint knows only its count), or a plain one
    that flips no point, for a count no built-in scheme has."""
    for scheme in BUILTIN_SCHEMES.values():
        if scheme.num_points == num_points:
            return scheme
    return LandmarkScheme(name=f"{num_points}-points", num_points=num_points,
                          flip_permutation=tuple(range(num_points)), description="points without a known order")


def reduce_points(landmarks: np.ndarray, mapping) -> np.ndarray:
    """Pick (or average) points of (..., L, 2) landmarks: `mapping` holds an index or a tuple per new point."""
    out = [landmarks[..., list(m) if isinstance(m, tuple) else [m], :].mean(axis=-2) for m in mapping]
    return np.stack(out, axis=-2)
