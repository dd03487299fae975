"""The built-in metrics and NME normalisers, registered as an ordinary plugin.

The formulas live in core (`fabrec_bench.metrics`, pinned by tests/test_metrics.py): FR@t counts faces with
NME strictly greater than t; CED(x) is the fraction of faces with NME <= x; AUC@t is the area under the CED on
[0, t] divided by t, by the `trapezoid` rule (CED every 1e-4, as the STAR/ADNet code) or `fabrec50`
(3FabRec's mean of the CED at 50 thresholds). This module names them and says what each one means.
"""

from __future__ import annotations

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.metrics import (
    Metric,
    Normaliser,
    area_under_ced,
    box_axes,
    box_size_max,
    box_size_sqrt,
    failure_rate,
    group_nme,
    inter_ocular_distance,
    inter_pupil_distance,
    landmark_box_sqrt,
    mean_nme,
)


def _fmt(t: float) -> str:
    return f"{t:g}"


@hookimpl
def fabrec_bench_register_metrics(register):
    register(Normaliser("inter-ocular", inter_ocular_distance, "outer eye corners (WFLW 60-72, 68-pt 36-45)"))
    register(Normaliser("inter-pupil", inter_pupil_distance, "eye centres (WFLW 96-97, 68-pt eye means)"))
    register(Normaliser("box", box_size_sqrt, "sqrt(w * h) of the ground-truth box (AFLW-19 in SAN, HRNet)"))
    register(Normaliser("box-axes", box_axes, "x by the box width, y by its height (PIPNet's AFLW)"))
    register(Normaliser("landmark-box", landmark_box_sqrt,
                        "sqrt(w * h) of the ground-truth landmarks' extent (SPIGA's lnd_bbox)"))
    register(Normaliser("box-max", box_size_max, "max(w, h) of the ground-truth box (3FabRec's crop side)"))
    register(
        Metric("nme", mean_nme, "mean per-face NME (over the faces a box detector found)", label=lambda p: "NME")
    )
    register(
        Metric("missed", lambda e, p: float(e.missed.mean()) if e.missed is not None and e.missed.size else 0.0,
               "faces the box detector missed (counted as failures in FR and AUC)", label=lambda p: "missed")
    )
    register(
        Metric("fr", lambda e, p: failure_rate(e.per_face, p.threshold, p.fr_rule),
               "failure rate: faces with NME > threshold", label=lambda p: f"FR@{_fmt(p.threshold)}")
    )
    register(
        Metric("fr2", lambda e, p: failure_rate(e.per_face, p.second_threshold, p.fr_rule)
               if p.second_threshold else float("nan"),
               "failure rate at the protocol's second threshold (HRNet's 0.08)",
               label=lambda p: f"FR@{_fmt(p.second_threshold or float('nan'))}")
    )
    register(
        Metric("auc", lambda e, p: area_under_ced(e.per_face, p.threshold, p.auc_rule),
               "area under the CED up to the threshold, divided by it", higher_is_better=True, percent=False,
               label=lambda p: f"AUC@{_fmt(p.threshold)}")
    )
    register(Metric("nme-inner", lambda e, p: group_nme(e, "inner"), "NME over non-outline points",
                    label=lambda p: "NME inner"))
    register(Metric("nme-outline", lambda e, p: group_nme(e, "outline"), "NME over the jaw contour",
                    label=lambda p: "NME outline"))
