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
from fabrec_bench_plugins.metrics.pipnet_frame import PIPNET_FRAME

STANDARD = Protocol(
    name="standard", from_dataset=True, metrics=None, repository="fabrec-bench",
    summary="each dataset's own protocol, in original-image coordinates, with any option given on the command "
            "line; for comparing models",
    follows="fabrec-bench (../shared/docs/metrics.md)",
)

FIELD_PROTOCOLS: tuple[Protocol, ...] = (
    Protocol(
        name="hrnet", repository="HRNet/HRNet-Facial-Landmark-Detection",
        commit="f776dbe8eb6fec831774a47209dae5547ae2cda5",
        follows="HRNet/HRNet-Facial-Landmark-Detection: lib/core/evaluation.py (compute_nme), lib/core/function.py "
                "(failure rates)",
        summary="per-face mean point error over the normaliser; FR at 0.08 and at 0.10 (NME > t); no AUC",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10, "lib/core/evaluation.py, compute_nme: L == 98 -> 60/72"),
                  "300w": DatasetRule("inter-ocular", 0.10, "lib/core/evaluation.py, compute_nme: L == 68 -> 36/45"),
                  "cofw": DatasetRule("inter-ocular", 0.10, "lib/core/evaluation.py, compute_nme: L == 29 -> 8/9"),
                  "aflw": DatasetRule("box", 0.10, "lib/core/evaluation.py, compute_nme: L == 19 -> meta['box_size']")},
        metrics=("nme", "fr", "fr2"), auc_rule="none", fr_rule="strict", second_threshold=0.08,
        sources={"NME": "lib/core/evaluation.py, compute_nme: sum of point distances / (normaliser * L), per face",
                 "failure": "lib/core/function.py, inference: nme > 0.08 and nme > 0.10, counted over faces"},
        notes=("The normaliser is chosen by the number of points: 68 -> 36/45, 98 -> 60/72, 29 -> 8/9, "
               "19 -> the face's box_size from HRNet's AFLW annotation file (face_landmarks_aflw_test.csv, "
               "column 2).",
               "AFLW: a `hrnet` run given that file (--config annotations=FILE) divides by its box_size, as "
               "compute_nme does, and records so; without the file (any other model, or a scored predictions "
               "file) the box_size is taken as sqrt(w * h) of the dataset's box, which equals HRNet's only if the "
               "file's box_size is that of the .mat box; the run records which it used."),
    ),
    Protocol(
        name="star", repository="ZhenglinZhou/STAR", commit="9b125749b0d35766ed83d047036d1aa5e384984c",
        follows="ZhenglinZhou/STAR (the ADNet lineage): lib/metric/nme.py, lib/metric/fr_and_auc.py, "
                "conf/alignment.py",
        summary="per-face mean point error; FR and AUC from the CED sampled on np.arange(0, t + 1e-4, 1e-4), "
                "AUC by Simpson's rule divided by t; t = 0.05 on 300-W, 0.1 otherwise",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10, "conf/alignment.py: WFLW nme indices 60/72"),
                  "300w": DatasetRule("inter-ocular", 0.05, "conf/alignment.py: 300W nme indices 36/45, threshold 0.05"),
                  "cofw": DatasetRule("inter-pupil", 0.10, "conf/alignment.py: COFW norm_type 'default', pupils 16/17")},
        metrics=("nme", "fr", "auc"), auc_rule="simpson", fr_rule="grid-end",
        sources={"NME": "lib/metric/nme.py, NME.test: mean point distance / normaliser, per face",
                 "failure and AUC": "lib/metric/fr_and_auc.py: CED on np.arange(0, t + 1e-4, 1e-4), FR = 1 - its "
                                    "last value, AUC = simps(CED) / t"},
        notes=("norm_type 'default': 300-W 36/45, WFLW 60/72, COFW the pupils 16/17 (its 'ocular' option is 8/9).",
               "FR = 1 - CED at the grid's last point: for t = 0.05 the grid ends at 0.0501, so a face with NME "
               "0.0500x does not fail.",
               "Simpson's rule as SciPy's simps before 1.11 (STAR pins numpy 1.16); the 502-point 300-W grid "
               "uses its even-count averaging.",
               "No AFLW definition in conf/alignment.py.",
               "This is evaluate.py's frame (image pixels). tester.py (main.py --mode=test) scores the same "
               "predictions in the 256-px crop's [-1, 1] frame with the ground truth clamped into the crop "
               "(alignmentDataset.py _norm_points); the two agree unless a ground-truth point lies outside the "
               "crop its metadata gives."),
    ),
    Protocol(
        name="pipnet", repository="jhb86253817/PIPNet", commit="b9eab58816437403a34aa5bc3adeafe5081fd36b",
        follows="jhb86253817/PIPNet: lib/test.py, lib/functions.py (compute_nme, compute_fr_and_auc), "
                "lib/preprocess.py, lib/preprocess_gssl.py",
        summary="errors in the frame of PIPNet's own crop box (x as a fraction of its width, y of its height, labels "
                "as its preprocessing writes them); per-face mean point error over the distance of two label points "
                "(1 for AFLW); FR and AUC at 0.1, CED grid and Simpson's rule as STAR",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10, "lib/test.py:104 (60/72), lib/preprocess.py:65-110"),
                  "300w": DatasetRule("inter-ocular", 0.10, "lib/test.py:100 (36/45), lib/preprocess.py:6-41"),
                  "cofw": DatasetRule("inter-ocular", 0.10, "lib/test.py:102 (8/9), lib/preprocess.py:43-63"),
                  "cofw68": DatasetRule("inter-ocular", 0.10, "lib/test.py:100 (data_300W_COFW_WFLW: 36/45), "
                                                               "lib/preprocess_gssl.py:136-161"),
                  "aflw": DatasetRule("box-axes", 0.10, "lib/test.py:125 (norm = 1), lib/preprocess.py:112-135")},
        metrics=("nme", "fr", "auc"), auc_rule="simpson", fr_rule="grid-end", frame=PIPNET_FRAME,
        sources={"NME": "lib/functions.py:198-202, compute_nme: mean point distance / norm, per face",
                 "failure and AUC": "lib/functions.py:204-210, compute_fr_and_auc(thres=0.1, step=0.0001)",
                 "frame": PIPNET_FRAME.source},
        notes=("Scored in PIPNet's crop frame: x and y as fractions of each face's crop box (not the image), the "
               "ground truth as its preprocessing writes it (WFLW and AFLW clamped into the image, 300-W truncated "
               "to integers, boxes clipped to the image).",
               "COFW-68 (its data_300W_COFW_WFLW test) reads cofw68_test_bboxes.mat as [x y w h] and widens the box "
               "by 1.3.",
               "The 300-W crop box is made from the ground truth (process_300w), whatever box the model was given."),
    ),
    Protocol(
        name="spiga", repository="andresprados/SPIGA", commit="656f90a76a6800e6091bbce519550e86e04cf17f",
        follows="andresprados/SPIGA: spiga/eval/benchmark/metrics/landmarks.py, "
                "spiga/data/annotations/<db>/db_info.json",
        summary="per-face mean point error (in percent); the normaliser and threshold are the first entry of each "
                "database's db_info.json; CED from a 10,000-bin histogram between the smallest and largest error, "
                "edges below the threshold kept; AUC by Simpson's rule over them divided by the threshold plus a "
                "tail correction; FR = 1 - the last kept CED value",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10, "spiga/data/annotations/wflw/db_info.json: norm "
                                                            "{corners: 10, ...}"),
                  "300w": DatasetRule("inter-ocular", 0.08, "spiga/data/annotations/300wpublic/db_info.json: norm "
                                                            "{corners: 8, ...} (common, challenging, full)"),
                  "300w/test": DatasetRule("landmark-box", 0.07, "spiga/data/annotations/300wprivate/db_info.json: "
                                                                 "norm {lnd_bbox: 7, ...} (the private test set)"),
                  "cofw68": DatasetRule("landmark-box", 0.07, "spiga/data/annotations/cofw68/db_info.json: norm "
                                                              "{lnd_bbox: 7, ...}")},
        metrics=("nme", "fr", "auc"), auc_rule="spiga", fr_rule="histogram",
        sources={"default rule": "spiga/eval/benchmark/metrics/landmarks.py:131, the first item of db_info['norm']",
                 "normalisers": "spiga/eval/benchmark/metrics/landmarks.py:174-186: corners = ids 12 and 7; lnd_bbox "
                                "= sqrt(w * h) of the landmarks' extent",
                 "failure and AUC": "spiga/eval/benchmark/metrics/landmarks.py:195-200 (_cumulative_error), "
                                    "spiga/eval/benchmark/metrics/metrics.py (_basic_metrics)"},
        notes=("'corners' are SPIGA's landmark ids 12 and 7: WFLW 60/72, 68 points 36/45.",
               "SPIGA defines no AFLW; its MERL-RAV rule (lnd_bbox, 7, NME summed over 68) has no dataset here.",
               "Points are the ones listed in each annotation's ids; fabrec-bench scores every point (every point "
               "of 300-W, COFW-68 and WFLW is listed)."),
    ),
    Protocol(
        name="mmpose", repository="open-mmlab/mmpose", commit="9ea63279fb2226852d06c2ec73dc7616eb6fbc96",
        follows="open-mmlab/mmpose 1.x: mmpose/evaluation/metrics/keypoint_2d_metrics.py (NME), "
                "mmpose/evaluation/functional/keypoint_eval.py (keypoint_nme), the face configs' val_evaluator",
        summary="NME averaged over every scored point of the dataset pooled (not per face first); no FR, no "
                "AUC for faces; mmpose 1.x's rules",
        datasets={"wflw": DatasetRule("inter-ocular", 0.10, "keypoint_2d_metrics.py: DEFAULT_KEYPOINT_INDICES wflw "
                                                            "60/72"),
                  "300w": DatasetRule("inter-ocular", 0.10, "keypoint_2d_metrics.py: DEFAULT_KEYPOINT_INDICES 300w "
                                                            "36/45"),
                  "cofw": DatasetRule("inter-ocular", 0.10, "keypoint_2d_metrics.py: DEFAULT_KEYPOINT_INDICES cofw "
                                                            "8/9"),
                  "aflw": DatasetRule("box-max", 0.10, "configs/face_2d_keypoint/topdown_heatmap/aflw/"
                                                       "td-hm_hrnetv2-w18_8xb64-60e_aflw-256x256.py (at 072211e): "
                                                       "NME(norm_mode='use_norm_item', norm_item='bbox_size'); "
                                                       "keypoint_2d_metrics.py, NME.process: bbox_size = "
                                                       "max(x2 - x1, y2 - y1)")},
        metrics=("nme",), auc_rule="none", fr_rule="strict", averaging="pooled",
        sources={"NME": "keypoint_eval.py, keypoint_nme: the mean over every visible point of "
                        "||(pred - gt) / normaliser||"},
        notes=("mmpose 1.x (checked against 1.3.2): AFLW by the longer side of the face box. mmpose 0.x divided by "
               "the annotation file's box_size; the AFLW numbers in mmpose's model zoo come from checkpoints of 2021 "
               "(0.x), so they are not this rule's.",
               "Points with keypoints_visible 0 are skipped; mmpose's converters mark every annotated point "
               "visible (COFW's occluded points get COCO visibility 1, still counted), so every point is scored, "
               "and with every face fully annotated the pooled mean equals the per-face mean. It differs where "
               "points are masked or faces miss points.",
               "AFLW's box is the dataset's annotation box here; mmpose reads the box of its own converted "
               "annotation file."),
    ),
)


@hookimpl
def fabrec_bench_register_protocols(register):
    register(STANDARD)
    for protocol in FIELD_PROTOCOLS:
        register(protocol)
