"""LaTeX leaderboards, CED plots from stored per-face errors, and merging results from several machines."""

import json
import re

import cv2
import numpy as np

from fabrec_bench.store import ResultsStore, store_path


def fill(cli, synthetic_wflw, work, counts=(5, 20)):
    for n in counts:
        result = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "-s", "pose", "--data-root", synthetic_wflw,
                     "--train-count", n, work_dir=work)
        assert result.exit_code == 0, result.output


def test_latex_leaderboard_is_booktabs_and_escaped(cli, synthetic_wflw, tmp_path):
    fill(cli, synthetic_wflw, tmp_path / "a")
    latex = cli("leaderboard", "--format", "latex", work_dir=tmp_path / "a").stdout
    assert latex.startswith("\\begin{tabular}{") and "\\toprule" in latex and "\\bottomrule" in latex
    assert "NME (\\%)" in latex and "mean-shape & wflw & pose" in latex
    measured = latex.split("\\end{tabular}", 1)[0]  # the paper tables follow (tests/test_paper_table.py)
    assert measured.count("\\\\\n") == 1 + 4  # header and four rows


def test_ced_plot_is_drawn_from_stored_errors(cli, synthetic_wflw, tmp_path):
    fill(cli, synthetic_wflw, tmp_path / "a")
    for ext in ("png", "svg"):
        out = tmp_path / f"ced.{ext}"
        result = cli("plot", "ced", "-d", "wflw", "-s", "test", "--out", out, "--threshold", "0.5",
                     work_dir=tmp_path / "a")
        assert result.exit_code == 0, result.output
        assert out.stat().st_size > 1000
    image = cv2.imread(str(tmp_path / "ced.png"))
    assert image.shape[0] > 400 and image.std() > 10
    assert "AUC@0.5" in (tmp_path / "ced.svg").read_text()
    empty = cli("plot", "ced", "-d", "wflw", "-s", "blur", "--out", tmp_path / "x.png", work_dir=tmp_path / "a")
    assert empty.exit_code == 2 and "no finished runs" in empty.output


def test_results_from_two_machines_merge_without_duplicates(cli, synthetic_wflw, tmp_path):
    fill(cli, synthetic_wflw, tmp_path / "a", counts=(5,))
    fill(cli, synthetic_wflw, tmp_path / "b", counts=(20,))
    exported = tmp_path / "a.jsonl"
    assert cli("results", "export", exported, work_dir=tmp_path / "a").exit_code == 0
    records = [json.loads(line) for line in exported.read_text().splitlines()]
    assert len(records) == 2 and len(records[0]["face_errors"]) == records[0]["n_faces"]
    assert "added 2 run(s), 0 already present" in cli("results", "import", exported, work_dir=tmp_path / "b").output
    assert "added 0 run(s), 2 already present" in cli("results", "import", exported, work_dir=tmp_path / "b").output
    board = json.loads(cli("leaderboard", "--format", "json", work_dir=tmp_path / "b").stdout)
    assert sorted((r["split"], r["train N"]) for r in board) == [("pose", 5), ("pose", 20), ("test", 5), ("test", 20)]
    with ResultsStore(store_path(tmp_path / "a")) as a, ResultsStore(store_path(tmp_path / "b")) as b:
        run_a = a.runs(split="test")[0]
        run_b = next(r for r in b.runs(split="test") if r.uid == run_a.uid)
        assert a.face_errors(run_a.id) == b.face_errors(run_b.id) and run_a.metrics == run_b.metrics
        # Per-landmark errors and the mean face travel with the run.
        for got, want in zip(b.landmark_errors(run_b.id), a.landmark_errors(run_a.id), strict=True):
            np.testing.assert_allclose(got, want)


def test_a_bad_import_changes_nothing(cli, synthetic_wflw, tmp_path):
    fill(cli, synthetic_wflw, tmp_path / "a", counts=(5,))
    exported = tmp_path / "a.jsonl"
    cli("results", "export", exported, work_dir=tmp_path / "a")
    lines = exported.read_text().splitlines()
    (tmp_path / "bad.jsonl").write_text(lines[0] + "\n{not json\n")
    result = cli("results", "import", tmp_path / "bad.jsonl", work_dir=tmp_path / "c")
    assert result.exit_code == 2 and "bad.jsonl:2: not JSON" in result.output
    with ResultsStore(store_path(tmp_path / "c")) as c:
        assert c.runs(status=None) == []


def test_per_landmark_errors_average_the_stored_faces(cli, synthetic_wflw, tmp_path):
    from fabrec_bench import api

    fill(cli, synthetic_wflw, tmp_path / "a", counts=(5,))
    with ResultsStore(store_path(tmp_path / "a")) as store:
        run = store.runs(split="test")[0]
        errors, face = store.landmark_errors(run.id)
        per_face = np.array(list(store.face_errors(run.id).values()))
    assert errors.shape == (98,) and face.shape == (98, 2)
    # With every point scored, the mean of the per-landmark means is the mean per-face NME.
    assert np.isclose(errors.mean(), per_face.mean())
    split = api.load_split("wflw", "test", data_root=synthetic_wflw)
    assert (face > -0.5).all() and (face < 1.5).all()  # in face-box units
    assert face[96, 0] < face[97, 0] and face[54, 1] > face[96, 1]  # eyes left-right, nose below the eyes
    assert len(split) == run.n_faces


def test_attribute_fewshot_and_landmark_plots(cli, synthetic_wflw, tmp_path):
    work = tmp_path / "a"
    for seed in (0, 1):
        for n in (5, 20):
            result = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "-s", "pose", "-s", "blur",
                         "--data-root", synthetic_wflw, "--train-count", n, "--seed", seed, work_dir=work)
            assert result.exit_code == 0, result.output
    outputs = {
        "attributes.png": ("attributes",),
        "attributes.svg": ("attributes", "--train-count", "20"),
        "fewshot.png": ("fewshot", "-d", "wflw", "-s", "test"),
        "fewshot.svg": ("fewshot", "-d", "wflw", "-s", "test"),
        "landmarks.png": ("landmarks", "-d", "wflw", "-s", "test", "-m", "mean-shape", "--train-count", "20"),
    }
    for name, args in outputs.items():
        result = cli("plot", *args, "--out", tmp_path / name, work_dir=work)
        assert result.exit_code == 0, result.output
        assert (tmp_path / name).stat().st_size > 1000
    svg = (tmp_path / "attributes.svg").read_text()
    # Splits in the dataset's order (test first), one bar series for the filtered training size.
    texts = re.findall(r"<!-- (.{1,60}?) -->", svg)  # matplotlib keeps each text as a comment
    assert texts[:3] == ["test", "pose", "blur"]
    # One protocol in the figure: the legend names the row as the leaderboard does (the protocol only joins it
    # where the rows were scored under several).
    assert "mean-shape, N=20" in texts and not any("N=5" in t for t in texts)
    # The few-shot plot's x ticks are the training sizes run, as plain numbers.
    fewshot_texts = re.findall(r"<!-- (.{1,60}?) -->", (tmp_path / "fewshot.svg").read_text())
    assert {"5", "20"} <= set(fewshot_texts) and not any("times" in t for t in fewshot_texts)
    for name in ("attributes.png", "fewshot.png", "landmarks.png"):
        image = cv2.imread(str(tmp_path / name))
        assert image is not None and image.std() > 10
    missing = cli("plot", "fewshot", "-d", "wflw", "-s", "make-up", "--out", tmp_path / "x.png", work_dir=work)
    assert missing.exit_code == 2 and "no runs with a training-set size on wflw/make-up" in missing.output


def test_a_narrow_terminal_wraps_names_and_never_hides_a_number():
    """A leaderboard printed to an 80-column terminal (or a pipe) once lost its AUC column entirely when a label
    column was added; names now wrap at their spaces and every value stays whole."""
    from rich.console import Console

    from fabrec_bench_runners.options import results_table

    headers = ["model", "label", "dataset", "split", "train N", "NME (%)", "FR@0.1 (%)", "AUC@0.1", "precision"]
    body = [["mean-shape", None, "wflw", "test", 100, 20.14, 83.33, 0.0312, "–"],
            ["3fabrec (pretrained AE, smoke budget)", "3fabrec-scratch", "wflw", "test", 20, 68.2, 100.0, 0.0, "fp32"]]
    for width in (60, 80, 200):
        console = Console(width=width, soft_wrap=True, record=True)
        console.print(results_table(headers, body, "leaderboard"))
        words = set(console.export_text().split())
        for value in [*headers, *(c for row in body for c in row if c is not None)]:
            assert set(str(value).split()) <= words, (width, value)
