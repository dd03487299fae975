"""LaTeX leaderboards, CED plots from stored per-face errors, and merging results from several machines."""

import json

import cv2

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
    assert latex.count("\\\\\n") == 1 + 4  # header and four rows


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
