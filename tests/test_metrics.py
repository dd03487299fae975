"""Metric functions against hand-computed cases, the published conventions and a brute-force loop."""

import math

import numpy as np
import pytest

from fabrec_bench.metrics import (
    area_under_ced,
    box_size_max,
    box_size_sqrt,
    ced,
    face_errors,
    failure_rate,
    inter_ocular_distance,
    inter_pupil_distance,
)
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import IBUG68, WFLW98


def wflw_face(iod: float = 100.0) -> np.ndarray:
    gt = np.zeros((98, 2))
    gt[:, 0] = np.linspace(0, iod, 98)
    gt[60] = [0, 0]
    gt[72] = [iod, 0]
    gt[96] = [20, 5]
    gt[97] = [80, 5]
    return gt


def test_nme_by_hand():
    gt = wflw_face(100.0)[None]
    pred = gt.copy()
    pred[0, :, 0] += 3.0  # every point off by 3 px; inter-ocular distance 100 px
    reg = get_registry()
    e = face_errors(pred, gt, np.array([[0, 0, 100, 100]]), WFLW98, reg.normaliser("inter-ocular"))
    assert e.per_face[0] == pytest.approx(0.03, abs=1e-15)
    e = face_errors(pred, gt, np.array([[0, 0, 100, 100]]), WFLW98, reg.normaliser("inter-pupil"))
    assert e.per_face[0] == pytest.approx(3 / 60, abs=1e-15)


def test_normalisers():
    gt = np.zeros((1, 68, 2))
    gt[0, 36:42] = [[0, 0], [1, -1], [2, -1], [3, 0], [2, 1], [1, 1]]
    gt[0, 42:48] = gt[0, 36:42] + [10, 0]
    gt[0, 45] = [13, 0]
    boxes = np.array([[0.0, 0.0, 30.0, 20.0]])
    assert inter_ocular_distance(gt, boxes, IBUG68)[0] == pytest.approx(13.0)
    assert inter_pupil_distance(gt, boxes, IBUG68)[0] == pytest.approx(10.0)
    assert box_size_max(gt, boxes, IBUG68)[0] == 30.0
    assert box_size_sqrt(gt, boxes, IBUG68)[0] == pytest.approx(math.sqrt(600))


def test_failure_rate_threshold_is_exclusive():
    nme = np.array([0.05, 0.10, 0.1000001, 0.2])
    assert failure_rate(nme, 0.10) == 0.5  # exactly 0.10 is not a failure


def test_ced_counts_faces_at_or_below_each_threshold():
    nme = np.array([0.01, 0.02, 0.02, 0.5])
    assert ced(nme, np.array([0.0, 0.01, 0.02, 0.3, 1.0])).tolist() == [0.0, 0.25, 0.75, 0.75, 1.0]


def test_auc_of_perfect_and_hopeless_predictions():
    assert area_under_ced(np.zeros(10), 0.1) == pytest.approx(1.0)
    assert area_under_ced(np.full(10, 0.5), 0.1) == 0.0
    # fabrec50 includes x=0, where the CED of exact predictions is already 1.
    assert area_under_ced(np.zeros(10), 0.1, "fabrec50") == 1.0


def test_auc_by_hand_for_a_single_face():
    # One face with NME 0.04005, between the grid points 0.0400 and 0.0401: the sampled CED is 0 up to 0.0400
    # and 1 from 0.0401 on; the trapezoid rule adds half of the step in between: (0.1 - 0.0401 + 0.00005) / 0.1.
    assert area_under_ced(np.array([0.04005]), 0.1) == pytest.approx(0.5995, abs=1e-9)
    # 50 thresholds k*0.1/49: those >= 0.04 are k >= 19.6, i.e. k = 20..49 -> 30 of 50.
    assert area_under_ced(np.array([0.04]), 0.1, "fabrec50") == pytest.approx(30 / 50)


def brute_force(pred, gt, a, b, threshold):
    """The formulas of ../shared/docs/metrics.md written as plain loops."""
    per_face = []
    for p, g in zip(pred, gt, strict=True):
        d = math.dist(g[a], g[b])
        per_face.append(sum(math.dist(p[i], g[i]) for i in range(len(g))) / len(g) / d)
    nme = sum(per_face) / len(per_face)
    fr = sum(1 for e in per_face if e > threshold) / len(per_face)
    xs = [k * 1e-4 for k in range(int(round(threshold / 1e-4)) + 1)]
    ys = [sum(1 for e in per_face if e <= x) / len(per_face) for x in xs]
    auc = sum((ys[k] + ys[k + 1]) / 2 * (xs[k + 1] - xs[k]) for k in range(len(xs) - 1)) / threshold
    xs50 = [threshold * k / 49 for k in range(50)]
    auc50 = sum(sum(1 for e in per_face if e <= x) / len(per_face) for x in xs50) / 50
    return per_face, nme, fr, auc, auc50


def test_vectorised_metrics_agree_with_a_loop_on_random_data():
    rng = np.random.default_rng(3)
    gt = rng.uniform(0, 200, (40, 98, 2))
    pred = gt + rng.normal(0, rng.uniform(1, 25, (40, 1, 1)), gt.shape)
    reg = get_registry()
    errors = face_errors(pred, gt, np.zeros((40, 4)), WFLW98, reg.normaliser("inter-ocular"))
    per_face, nme, fr, auc, auc50 = brute_force(pred, gt, 60, 72, 0.1)
    assert np.allclose(errors.per_face, per_face, rtol=0, atol=1e-12)
    protocol = EvalProtocol(threshold=0.1)
    assert reg.metric("nme").compute(errors, protocol) == pytest.approx(nme, abs=1e-12)
    assert reg.metric("fr").compute(errors, protocol) == pytest.approx(fr, abs=1e-12)
    assert reg.metric("auc").compute(errors, protocol) == pytest.approx(auc, abs=1e-9)
    assert reg.metric("auc").compute(errors, EvalProtocol(auc_rule="fabrec50")) == pytest.approx(auc50, abs=1e-12)


def test_fabrec50_is_slightly_below_trapezoid_on_typical_errors():
    nme = np.random.default_rng(0).gamma(4, 0.012, 2000)
    gap = area_under_ced(nme, 0.1) - area_under_ced(nme, 0.1, "fabrec50")
    assert 0 < gap < 0.01


def test_groups_split_outline_and_inner():
    gt = wflw_face()[None]
    pred = gt.copy()
    pred[0, 0:33, 1] += 10.0  # only the contour is off
    reg = get_registry()
    errors = face_errors(pred, gt, np.zeros((1, 4)), WFLW98, reg.normaliser("inter-ocular"))
    p = EvalProtocol()
    assert reg.metric("nme-outline").compute(errors, p) == pytest.approx(0.1)
    assert reg.metric("nme-inner").compute(errors, p) == 0.0


def test_degenerate_normaliser_is_a_clear_error():
    gt = np.zeros((1, 98, 2))
    with pytest.raises(Exception, match="inter-ocular.*face #0"):
        face_errors(gt, gt, np.zeros((1, 4)), WFLW98, get_registry().normaliser("inter-ocular"))
