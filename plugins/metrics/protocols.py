"""The built-in protocols, registered as an ordinary plugin: `standard` and the evaluation protocols of the
field's major codes, as data (which normaliser and threshold each code uses on each dataset, how it
averages, how it reads FR and integrates AUC, and the files it follows).

Every fact below was read from the code named in `follows` (the search tool's copies of the public
repositories); what could not be read there is said in `notes`. `fabrec-bench protocols show NAME` prints
them; `--protocol NAME` scores by them and `--protocol all` scores one set of predictions by each.
Normaliser names are fabrec-bench's (fabrec_bench.metrics): `inter-ocular` = outer eye corners (WFLW 60/72,
68 points 36/45, COFW 8/9), `inter-pupil` = eye centres (WFLW 96/97, 68 points the means of 36-41 and 42-47,
COFW 16/17), `box` = sqrt(w * h) of the face box, `box-axes` = x by the box width and y by its height.
"""

from __future__ import annotations

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.protocol import DatasetRule, Protocol

STANDARD = Protocol(
    name="standard", from_dataset=True, metrics=None,
    summary="each dataset's own protocol, in original-image coordinates, with any option given on the command "
            "line; for comparing models",
    follows="fabrec-bench (../shared/docs/metrics.md)",
)

FIELD_PROTOCOLS: tuple[Protocol, ...] = (
    Protocol(
        name="hrnet", follows="HRNet/HRNet-Facial-Landmark-Detection: "
                "lib/core/evaluation.py (compute_nme), lib/core/function.py (failure rates)",
        summary="per-face mean point error over the normaliser; FR at 0.08 and at 0.10 (NME > t); no AUC",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10), "300w": DatasetRule("inter-ocular", 0.10),
                  "cofw": DatasetRule("inter-ocular", 0.10), "aflw": DatasetRule("box", 0.10)},
        metrics=("nme", "fr", "fr2"), auc_rule="none", fr_rule="strict", second_threshold=0.08,
        notes=("The normaliser is chosen by the number of points: 68 -> 36/45, 98 -> 60/72, 29 -> 8/9, "
               "19 -> the face's box_size from HRNet's AFLW annotation file (here sqrt(w * h) of the box).",),
    ),
    Protocol(
        name="star", follows="ZhenglinZhou/STAR (the ADNet lineage): "
                "lib/metric/nme.py, lib/metric/fr_and_auc.py, conf/alignment.py",
        summary="per-face mean point error; FR and AUC from the CED sampled on np.arange(0, t + 1e-4, 1e-4), "
                "AUC by Simpson's rule divided by t; t = 0.05 on 300-W, 0.1 otherwise",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10), "300w": DatasetRule("inter-ocular", 0.05),
                  "cofw": DatasetRule("inter-pupil", 0.10)},
        metrics=("nme", "fr", "auc"), auc_rule="simpson", fr_rule="grid-end",
        notes=("norm_type 'default': 300-W 36/45, WFLW 60/72, COFW the pupils 16/17 (its 'ocular' option is 8/9).",
               "FR = 1 - CED at the grid's last point: for t = 0.05 the grid ends at 0.0501, so a face with NME "
               "0.0500x does not fail.",
               "Simpson's rule as SciPy's simps before 1.11 (STAR pins numpy 1.16); the 502-point 300-W grid "
               "uses its even-count averaging.",
               "No AFLW definition in conf/alignment.py."),
    ),
    Protocol(
        name="pipnet", follows="jhb86253817/PIPNet: "
                "lib/functions.py (compute_nme, compute_fr_and_auc), lib/test.py, the AFLW preprocessing (process_aflw)",
        summary="per-face mean point error; FR and AUC at 0.1 on every dataset, CED grid and Simpson's rule as "
                "STAR; AFLW errors in box-normalised coordinates (normaliser 1)",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10), "300w": DatasetRule("inter-ocular", 0.10),
                  "cofw": DatasetRule("inter-ocular", 0.10), "cofw68": DatasetRule("inter-ocular", 0.10),
                  "aflw": DatasetRule("box-axes", 0.10)},
        metrics=("nme", "fr", "auc"), auc_rule="simpson", fr_rule="grid-end",
        notes=("COFW-68 (its data_300W_COFW_WFLW test): 36/45, as for 300-W.",
               "AFLW: PIPNet's preprocessing divides x by the box width and y by its height after clipping the "
               "box and clamping the ground truth to the image; fabrec-bench divides by the annotation box as "
               "given (no clipping), which differs only for boxes or points outside the image.",),
    ),
    Protocol(
        name="spiga", follows="andresprados/SPIGA: "
                "spiga/eval/benchmark/metrics/landmarks.py, spiga/data/annotations/wflw/db_info.json",
        summary="per-face mean point error (in percent); CED from a 10,000-bin histogram between the smallest "
                "and largest error, edges below the threshold kept; AUC by Simpson's rule over them divided by "
                "the threshold plus a tail correction; FR = 1 - the last kept CED value",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10), "300w": DatasetRule("inter-ocular", 0.08),
                  "aflw": DatasetRule("box", 0.07)},
        metrics=("nme", "fr", "auc"), auc_rule="spiga", fr_rule="histogram",
        notes=("WFLW: 'corners' at 10 is the default in db_info.json (read). 'corners' are SPIGA's landmark ids "
               "12 and 7, which its 300-W annotations (eval/results/300wprivate) list at positions 45 and 36. "
               "The 300-W threshold (8) and the AFLW default (box sqrt(w * h), 7) come from the issue's look-up: "
               "those db_info.json files were not in the sources read.",
               "Points are the ones listed in each annotation's ids; fabrec-bench scores every point."),
    ),
    Protocol(
        name="mmpose", follows="open-mmlab/mmpose: "
                "mmpose/evaluation/metrics/keypoint_2d_metrics.py (NME), "
              "mmpose/evaluation/functional/keypoint_eval.py (keypoint_nme)",
        summary="NME averaged over every scored point of the dataset pooled (not per face first); no FR, no "
                "AUC for faces",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10), "300w": DatasetRule("inter-ocular", 0.10),
                  "cofw": DatasetRule("inter-ocular", 0.10), "aflw": DatasetRule("box", 0.10)},
        metrics=("nme",), auc_rule="none", fr_rule="strict", averaging="pooled",
        notes=("DEFAULT_KEYPOINT_INDICES: 300w 36/45, wflw 60/72, cofw 8/9; AFLW uses norm_item box_size.",
               "Points with keypoints_visible 0 are skipped; mmpose's converters mark every annotated point "
               "visible (COFW's occluded points get COCO visibility 1, still counted), so every point is scored, "
               "and with every face fully annotated the pooled mean equals the per-face mean. It differs where "
               "points are masked or faces miss points."),
    ),
)


@hookimpl
def fabrec_bench_register_protocols(register):
    register(STANDARD)
    for protocol in FIELD_PROTOCOLS:
        register(protocol)
