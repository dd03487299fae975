"""The field's protocols (HRNet, STAR/ADNet, PIPNet, SPIGA, mmpose): hand-computed cases per protocol, and each
AUC rule pinned against a direct implementation on random data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import simpson

from fabrec_bench.api import evaluate
from fabrec_bench.metrics import (
    Normaliser,
    area_under_ced,
    box_axes,
    face_errors,
    failure_rate,
    field_grid,
    mean_nme,
    simpson_classic,
    spiga_auc_fr,
)
from fabrec_bench.plugins import get_registry
from fabrec_bench.protocol import EvalProtocol
from fabrec_bench.schemes import AFLW19, COFW29, IBUG68, WFLW98
from fabrec_bench.types import FaceSample, Split


def protocol(name: str, dataset: str) -> EvalProtocol:
    registry = get_registry()
    return registry.protocol(name).rules_for(registry.dataset(dataset))


def split_of(scheme, gts, boxes, dataset="wflw"):
    samples = [FaceSample(id=f"f{i}", image_path="x.png", landmarks_px=g, box_px=tuple(b))
               for i, (g, b) in enumerate(zip(gts, boxes, strict=True))]
    return Split(dataset, "test", scheme, samples)


def faces_with_nme(scheme, nmes, eye_distance=100.0):
    """Ground truth with the outer eye corners `eye_distance` apart and predictions every point of which is
    off by nme * eye_distance along x: per-face NME (outer corners) is exactly `nme`."""
    a, b = scheme.outer_eye_corners
    gts, preds = [], []
    rng = np.random.default_rng(0)
    for nme in nmes:
        gt = rng.uniform(0, 200, (scheme.num_points, 2))
        gt[a], gt[b] = (50.0, 80.0), (50.0 + eye_distance, 80.0)
        pred = gt + np.array([nme * eye_distance, 0.0])
        gts.append(gt)
        preds.append(pred)
    boxes = [(0, 0, 200, 200)] * len(nmes)
    return np.stack(preds), split_of(scheme, gts, boxes)


# -- HRNet ---------------------------------------------------------------------------------------------


def test_hrnet_reports_fr_at_008_and_010_strictly_and_no_auc():
    pred, split = faces_with_nme(WFLW98, [0.02, 0.08, 0.09, 0.10, 0.11])
    ev = evaluate(pred, split, protocol("hrnet", "wflw"))
    assert ev.metrics["nme"] == pytest.approx(np.mean([0.02, 0.08, 0.09, 0.10, 0.11]))
    assert ev.metrics["fr"] == pytest.approx(1 / 5)  # only 0.11 > 0.10
    assert ev.metrics["fr2"] == pytest.approx(3 / 5)  # 0.09, 0.10, 0.11 > 0.08 (0.08 itself is not)
    assert "auc" not in ev.metrics
    assert get_registry().metric("fr2").label_for(ev.protocol) == "FR@0.08 (%)"


def test_hrnet_on_aflw_divides_by_the_boxs_sqrt_wh_and_on_cofw_by_points_8_and_9():
    gt = np.zeros((19, 2))
    pred = gt + [3.0, 4.0]  # every point 5 px off
    ev = evaluate(pred[None], split_of(AFLW19, [gt], [(10, 10, 110, 35)], "aflw"), protocol("hrnet", "aflw"))
    assert ev.metrics["nme"] == pytest.approx(5 / np.sqrt(100 * 25))
    p = protocol("hrnet", "cofw")
    assert p.normaliser == "inter-ocular" and COFW29.outer_eye_corners == (8, 9)


# -- STAR / ADNet --------------------------------------------------------------------------------------


def test_star_uses_005_on_300w_read_at_the_grids_end_0_0501():
    p = protocol("star", "300w")
    assert p.threshold == 0.05 and p.fr_rule == "grid-end" and p.auc_rule == "simpson"
    grid = field_grid(0.05)
    assert len(grid) == 502 and grid[-1] == pytest.approx(0.0501)
    nme = np.array([0.01, 0.05005, 0.06])
    assert failure_rate(nme, 0.05, "grid-end") == pytest.approx(1 / 3)  # 0.05005 <= 0.0501: not a failure
    assert failure_rate(nme, 0.05, "strict") == pytest.approx(2 / 3)
    assert protocol("star", "wflw").threshold == 0.10


def test_star_scores_cofw_by_the_pupils_16_and_17():
    p = protocol("star", "cofw")
    assert p.normaliser == "inter-pupil" and COFW29.eye_centres == ((16,), (17,))
    gt = np.zeros((29, 2))
    gt[16], gt[17] = (0.0, 0.0), (40.0, 0.0)  # pupils 40 px apart
    gt[8], gt[9] = (-10.0, 0.0), (50.0, 0.0)  # outer corners 60 px apart
    pred = gt + [2.0, 0.0]
    split = split_of(COFW29, [gt], [(0, 0, 100, 100)], "cofw")
    assert evaluate(pred[None], split, p).metrics["nme"] == pytest.approx(2 / 40)
    assert evaluate(pred[None], split, protocol("hrnet", "cofw")).metrics["nme"] == pytest.approx(2 / 60)


def test_star_auc_by_hand_on_a_one_face_ced():
    # One face at NME 0.04: CED is 0 below 0.04 and 1 from it (grid point 400, the end of a Simpson panel).
    # Panels after it integrate 1 exactly (0.06); the panel ending at it holds samples (0, 0, 1) and adds
    # h/3 with h = 1e-4. AUC = (0.06 + 1e-4/3) / 0.1.
    auc = area_under_ced(np.array([0.04]), 0.1, "simpson")
    assert auc == pytest.approx((0.06 + 1e-4 / 3) / 0.1, abs=1e-9)
    x = field_grid(0.1)
    assert auc == pytest.approx(simpson((x >= 0.04 - 1e-12).astype(float), x=x) / 0.1, abs=1e-12)


# -- PIPNet --------------------------------------------------------------------------------------------


def test_pipnet_on_aflw_divides_x_by_the_box_width_and_y_by_its_height(tmp_path):
    import cv2

    p = protocol("pipnet", "aflw")
    assert p.normaliser == "box-axes" and p.threshold == 0.10 and p.fr_rule == "grid-end"
    gt = np.zeros((19, 2))
    pred = gt + [10.0, 5.0]
    image = tmp_path / "face.png"  # PIPNet clips its box to the image: this one lies inside
    cv2.imwrite(str(image), np.zeros((120, 200, 3), np.uint8))
    split = split_of(AFLW19, [gt], [(0, 0, 100, 50)], "aflw")
    split.samples[0].image_path = image
    ev = evaluate(pred[None], split, p)
    assert ev.metrics["nme"] == pytest.approx(np.hypot(10 / 100, 5 / 50))
    assert box_axes(gt[None], np.array([[0, 0, 100, 50.0]]), AFLW19).tolist() == [[100, 50]]
    assert all(protocol("pipnet", d).threshold == 0.10 for d in ("wflw", "300w", "cofw", "cofw68"))


# -- SPIGA ---------------------------------------------------------------------------------------------


def direct_spiga(nme, thr_fraction, bins=10_000):
    """SPIGA's rule written out with SciPy's simpson on odd-length pieces (its old even-count averaging)."""
    err = np.asarray(nme) * 100
    thr = thr_fraction * 100
    counts, edges = np.histogram(err, bins=bins)
    cum = np.cumsum(counts) / len(err)
    base = edges[:bins]
    base = base[base < thr]
    cum = cum[: len(base)]
    if len(base) % 2:
        area = simpson(cum, x=base)
    else:
        first = simpson(cum[:-1], x=base[:-1]) + (base[-1] - base[-2]) * (cum[-1] + cum[-2]) / 2
        last = (base[1] - base[0]) * (cum[0] + cum[1]) / 2 + simpson(cum[1:], x=base[1:])
        area = (first + last) / 2
    auc = area / thr
    if base[-1] < thr and cum[-1] == 1:
        auc += (thr - base[-1]) / thr
    return auc, 1 - cum[-1]


def test_spiga_defaults_and_a_hand_computed_case():
    assert protocol("spiga", "wflw").threshold == 0.10 and protocol("spiga", "300w").threshold == 0.08
    # The private 300-W test set and COFW-68 by lnd_bbox at 7 (their db_info.json); SPIGA defines no AFLW.
    registry = get_registry()
    private = registry.protocol("spiga").rules_for(registry.dataset("300w"), "test")
    assert (private.normaliser, private.threshold) == ("landmark-box", 0.07)
    assert protocol("spiga", "cofw68").normaliser == "landmark-box" and not registry.protocol("spiga").applies_to("aflw")
    # Four faces at 2, 4, 6 and 20 %: the histogram runs from 2 to 20 %, bins 0.0018 % wide; edges below 10 %
    # reach the bin holding 6 %, so the last kept CED value is 3/4: FR = 1/4 (the 20 % face), and no tail
    # correction (not every face is counted).
    auc, fr = spiga_auc_fr(np.array([0.02, 0.04, 0.06, 0.20]), 0.10)
    assert fr == pytest.approx(0.25)
    # The CED is 1/4 from 2 %, 1/2 from 4 %, 3/4 from 6 % (to within a bin): area (2*0.25 + 2*0.5 + 4*0.75) / 10
    assert auc == pytest.approx((2 * 0.25 + 2 * 0.5 + 4 * 0.75) / 10, abs=1e-3)


def test_spiga_tail_correction_when_every_face_is_below_the_threshold():
    auc, fr = spiga_auc_fr(np.array([0.01, 0.02, 0.03]), 0.10)
    # CED 1/3 from 1 %, 2/3 from 2 %, 1 from 3 % (the last bin's right edge): the histogram stops at 3 %, the
    # correction adds the 7 % beyond it at CED 1.
    assert fr == 0.0
    assert auc == pytest.approx((1 * (1 / 3) + 1 * (2 / 3) + 7 * 1.0) / 10, abs=2e-3)


# -- mmpose --------------------------------------------------------------------------------------------


def test_mmpose_pools_points_over_the_dataset():
    p = protocol("mmpose", "300w")
    assert p.averaging == "pooled" and p.metrics == ("nme",)
    gt = np.zeros((2, 68, 2))
    pred = gt.copy()
    pred[0, :, 0] = 1.0  # face 0: every point 1 off
    pred[1, 0, 0] = 10.0  # face 1: one point 10 off
    d = Normaliser("unit", lambda g, b, s: np.ones(len(g)))
    visible = np.ones((2, 68), dtype=bool)
    visible[0, 34:] = False  # face 0 has 34 scored points, face 1 all 68
    errors = face_errors(pred, gt, np.zeros((2, 4)), IBUG68, d, visible=visible, mask_invisible=True)
    pooled = mean_nme(errors, EvalProtocol(averaging="pooled"))
    assert pooled == pytest.approx((34 * 1.0 + 10.0) / (34 + 68))
    assert mean_nme(errors, EvalProtocol()) == pytest.approx((1.0 + 10.0 / 68) / 2)
    # Every point scored, every face complete: pooling equals the per-face mean.
    full = face_errors(pred, gt, np.zeros((2, 4)), IBUG68, d)
    assert mean_nme(full, p) == pytest.approx(mean_nme(full, EvalProtocol()))


# -- the AUC rules against direct implementations ------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.1, 0.08, 0.05, 0.07])
def test_simpson_rule_equals_scipy_simpson_on_the_fields_grid(threshold):
    rng = np.random.default_rng(int(threshold * 1000))
    nme = rng.gamma(2.0, threshold / 3, 300)
    x = np.arange(0, threshold + 1e-4, 1e-4)
    y = np.array([np.count_nonzero(nme <= v) for v in x]) / len(nme)
    if len(x) % 2:  # odd count: the composite rule, as every SciPy computes it
        expected = simpson(y, x=x) / threshold
    else:  # even count: SciPy < 1.11 averaged the two one-trapezoid variants
        first = simpson(y[:-1], x=x[:-1]) + (x[-1] - x[-2]) * (y[-1] + y[-2]) / 2
        last = (x[1] - x[0]) * (y[0] + y[1]) / 2 + simpson(y[1:], x=x[1:])
        expected = (first + last) / 2 / threshold
    assert area_under_ced(nme, threshold, "simpson") == pytest.approx(expected, abs=1e-12)
    assert failure_rate(nme, threshold, "grid-end") == pytest.approx(1 - y[-1], abs=1e-15)


def test_simpson_classic_integrates_quadratics_exactly_on_uneven_grids():
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 1, 41))
    y = 3 * x ** 2 - x + 1
    exact = (x[-1] ** 3 - x[0] ** 3) - (x[-1] ** 2 - x[0] ** 2) / 2 + (x[-1] - x[0])
    assert simpson_classic(y, x) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_spiga_rule_equals_a_direct_implementation_on_random_errors(seed):
    rng = np.random.default_rng(seed)
    nme = rng.gamma(2.0, 0.02, int(rng.integers(20, 400)))
    assert spiga_auc_fr(nme, 0.08) == pytest.approx(direct_spiga(nme, 0.08), abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_trapezoid_and_fabrec50_rules_equal_direct_implementations(seed):
    rng = np.random.default_rng(seed)
    nme = rng.gamma(2.0, 0.03, 200)
    x = np.linspace(0, 0.1, 1001)
    y = np.array([np.mean(nme <= v) for v in x])
    trapezoid = np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2
    assert area_under_ced(nme, 0.1, "trapezoid") == pytest.approx(trapezoid / 0.1, abs=1e-12)
    x50 = np.linspace(0, 0.1, 50)
    assert area_under_ced(nme, 0.1, "fabrec50") == pytest.approx(np.mean([np.mean(nme <= v) for v in x50]))


def test_every_protocol_says_which_datasets_it_covers():
    registry = get_registry()
    assert {"hrnet", "star", "pipnet", "spiga", "mmpose"} <= set(registry.protocols)

    def applies(name, dataset):
        return registry.protocol(name).applies_to(dataset)

    assert not applies("star", "aflw") and not applies("spiga", "cofw")
    assert applies("standard", "cofw") and applies("mmpose", "cofw")
    from fabrec_bench.errors import UserError

    with pytest.raises(UserError, match="no rules for 'aflw'"):
        protocol("star", "aflw")
