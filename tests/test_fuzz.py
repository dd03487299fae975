"""Property-based tests (hypothesis): the annotation parsers only ever fail with an error naming file and
line, and the metrics keep their invariants (NME under similarity transforms, FR and AUC monotone in the
threshold)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fabrec_bench.errors import AnnotationError, UserError
from fabrec_bench.metrics import Normaliser, area_under_ced, face_errors, failure_rate, inter_ocular_distance
from fabrec_bench.schemes import IBUG68, WFLW98
from fabrec_bench_plugins.datasets.w300 import read_pts
from fabrec_bench_plugins.datasets.wflw import TOKENS_PER_LINE, parse_line

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
token = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=6).map(lambda s: s.replace(" ", "_")),
)


@FAST
@given(st.lists(token, min_size=0, max_size=TOKENS_PER_LINE + 3))
def test_wflw_lines_parse_or_fail_naming_file_and_line(tokens):
    line = " ".join(t.replace("\n", "") for t in tokens)
    try:
        landmarks, box, flags, rel = parse_line(line, Path("list.txt"), 7)
    except AnnotationError as e:
        assert str(e).startswith("list.txt:7: ")
        return
    assert landmarks.shape == (98, 2) and np.isfinite(landmarks).all()
    assert np.isfinite(box).all() and box[2] > box[0] and box[3] > box[1]


@FAST
@given(st.lists(st.text(max_size=30), max_size=75))
def test_pts_files_parse_or_fail_naming_the_file(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("pts") / "face.pts"
    path.write_text("\n".join(r.replace("\r", "") for r in rows), encoding="utf-8")
    try:
        points = read_pts(path)
    except UserError as e:
        assert str(path) in str(e)
        return
    assert np.isfinite(points).all() and points.ndim == 2 and points.shape[1] == 2


face = st.integers(0, 2**31 - 1).map(lambda s: np.random.default_rng(s))


def _faces(rng, n=6):
    base = rng.uniform(50, 250, size=(n, 98, 2))
    base[:, 60] = base[:, 72] - rng.uniform(40, 90, size=(n, 2))  # eyes apart: inter-ocular > 0
    pred = base + rng.normal(0, 4, size=base.shape)
    return pred, base


IOD = Normaliser("inter-ocular", inter_ocular_distance)


@FAST
@given(face, st.floats(0.2, 5), st.floats(-np.pi, np.pi), st.floats(-500, 500), st.floats(-500, 500))
def test_nme_is_invariant_to_similarity_transforms(rng, scale, angle, dx, dy):
    pred, gt = _faces(rng)
    boxes = np.zeros((len(gt), 4))
    before = face_errors(pred, gt, boxes, WFLW98, IOD).per_face
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    move = lambda x: x @ rot.T + np.array([dx, dy])  # noqa: E731
    after = face_errors(move(pred), move(gt), boxes, WFLW98, IOD).per_face
    np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)


@FAST
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=60), st.floats(0.01, 0.5),
       st.floats(0.01, 0.5), st.sampled_from(["trapezoid", "fabrec50"]))
def test_failure_rate_and_auc_are_monotone_in_the_threshold(values, t1, t2, rule):
    nme = np.array(values)
    lo, hi = sorted((t1, t2))
    assert failure_rate(nme, hi) <= failure_rate(nme, lo)
    assert 0 <= area_under_ced(nme, lo, rule) <= 1 and 0 <= area_under_ced(nme, hi, rule) <= 1
    # A face that fails at the larger threshold fails at the smaller one too; the CED only grows.
    assert failure_rate(np.append(nme, np.inf), hi) >= failure_rate(nme, hi)


@FAST
@given(face)
def test_perfect_predictions_score_zero_for_68_points(rng):
    gt = rng.uniform(0, 200, size=(4, 68, 2))
    gt[:, 36] = gt[:, 45] - 60
    errors = face_errors(gt.copy(), gt, np.zeros((4, 4)), IBUG68, IOD)
    assert np.all(errors.per_face == 0)
