"""`--protocol all`: the same predictions under every protocol with rules for the dataset, on synthetic WFLW,
300-W, AFLW and COFW trees; one stored result per protocol; leaderboards filtered by protocol."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fabrec_bench import api
from fabrec_bench.plugins import get_registry
from fabrec_bench.predictions import write_landmarks_csv
from fabrec_bench.protocol import resolve_protocols
from fabrec_bench.synth.formats import write_300w, write_aflw, write_cofw

EXPECTED = {
    "wflw": ["standard", "3fabrec-paper", "hrnet", "star", "pipnet", "spiga", "mmpose"],
    "300w": ["standard", "3fabrec-paper", "hrnet", "star", "pipnet", "spiga", "mmpose"],
    "aflw": ["standard", "3fabrec-paper", "hrnet", "pipnet", "mmpose"],  # SPIGA defines no AFLW
    "cofw": ["standard", "hrnet", "star", "pipnet", "mmpose"],
}
SPLITS = {"wflw": "test", "300w": "full", "aflw": "full", "cofw": "test"}


@pytest.fixture(scope="module")
def trees(tmp_path_factory, synthetic_wflw):
    root = tmp_path_factory.mktemp("protocol-all")
    write_300w(root / "300w", per_folder=2, seed=11)
    write_aflw(root / "aflw", faces=24, seed=12)
    write_cofw(root / "cofw", train=4, test=8, seed=13, with_68=False)
    return {"wflw": synthetic_wflw, "300w": root / "300w", "aflw": root / "aflw", "cofw": root / "cofw"}


def noisy_predictions(split, path, seed=0):
    """Ground truth plus errors spread around the thresholds (2 to 12 % of the face's size)."""
    rng = np.random.default_rng(seed)
    gt = split.landmarks()
    size = np.ptp(gt, axis=1).max(axis=1)
    scale = rng.uniform(0.01, 0.06, len(gt)) * size
    pred = gt + rng.normal(0, 1, gt.shape) * scale[:, None, None]
    write_landmarks_csv(path, split.ids, [str(s.image_path) for s in split.samples], pred)
    return pred


@pytest.mark.parametrize("dataset", ["wflw", "300w", "aflw", "cofw"])
def test_score_protocol_all_gives_every_applicable_protocol(cli, trees, tmp_path, dataset):
    root, split_name = trees[dataset], SPLITS[dataset]
    adapter = get_registry().dataset(dataset)
    split = api.read_split(adapter, root, split_name)
    pred = noisy_predictions(split, tmp_path / "pred.csv")
    registry = get_registry()
    assert [p.name for p in resolve_protocols(adapter, registry, "all")] == EXPECTED[dataset]
    out = cli("score", tmp_path / "pred.csv", "-d", dataset, "-s", split_name, "--data-root", root,
              "--protocol", "all", "--json")
    assert out.exit_code == 0, out.output
    docs = json.loads(out.output)
    assert [d["protocol"]["name"] for d in docs] == EXPECTED[dataset]
    for doc in docs:  # each number is that protocol's evaluation of the same predictions
        expected = api.evaluate(pred, split, resolve_protocols(adapter, registry, doc["protocol"]["name"])[0],
                                adapter=adapter)
        assert doc["metrics"] == pytest.approx(expected.metrics)
    table = cli("score", tmp_path / "pred.csv", "-d", dataset, "-s", split_name, "--data-root", root,
                "--protocol", "all")
    assert table.exit_code == 0 and all(name in table.output for name in EXPECTED[dataset])


def test_the_numbers_move_between_protocols(trees, tmp_path):
    """On 300-W the same predictions fail more under STAR (0.05) than under HRNet (0.10)."""
    adapter = get_registry().dataset("300w")
    split = api.read_split(adapter, trees["300w"], "full")
    noisy_predictions(split, tmp_path / "pred.csv", seed=5)
    by_name = {e.protocol.name: e.metrics for e in api.score_predictions_under(
        resolve_protocols(adapter, get_registry(), "all"), tmp_path / "pred.csv", "300w", "full",
        data_root=trees["300w"])}
    assert by_name["star"]["fr"] >= by_name["hrnet"]["fr"]
    assert by_name["hrnet"]["nme"] == pytest.approx(by_name["standard"]["nme"])  # same normaliser, per face


def test_all_refuses_options_that_would_change_the_rules(cli, trees, tmp_path):
    out = cli("score", "x.csv", "-d", "wflw", "-s", "test", "--data-root", trees["wflw"], "--protocol", "all",
              "--threshold", "0.08")
    assert out.exit_code == 2 and "--protocol all scores by each protocol's own rules; --threshold" in out.output


def test_run_protocol_all_stores_one_result_per_protocol_and_leaderboard_filters(cli, trees, tmp_path):
    work = tmp_path / "work"
    out = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", trees["wflw"],
              "--protocol", "all", work_dir=work)
    assert out.exit_code == 0, out.output
    assert all(name in out.output for name in EXPECTED["wflw"])
    board = cli("leaderboard", "--format", "json", "--no-reported", work_dir=work)
    rows = json.loads(board.output)
    assert sorted(r["protocol"] for r in rows) == sorted(EXPECTED["wflw"])
    only = json.loads(cli("leaderboard", "--format", "json", "--protocol", "hrnet", work_dir=work).output)
    assert [r["protocol"] for r in only] == ["hrnet"] and "FR@0.08 (%)" in only[0]
    as_json = json.loads(cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", trees["wflw"],
                             "--protocol", "all", "--json", work_dir=tmp_path / "w2").output)
    assert [d["protocol"]["name"] for d in as_json] == EXPECTED["wflw"]


def test_leaderboards_show_one_table_per_protocol(cli, trees, tmp_path):
    work = tmp_path / "work"
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", trees["wflw"],
               "--protocol", "all", work_dir=work).exit_code == 0
    markdown = cli("leaderboard", "--format", "markdown", "--no-reported", work_dir=work).output
    markdown = markdown.split("**wflw (test): ")[0]  # the measured tables; the paper tables follow
    titles = [line for line in markdown.splitlines() if line.startswith("**protocol ")]
    assert [t.split()[1] for t in titles] == EXPECTED["wflw"]
    # Each table holds one protocol's rows: its `protocol` column has one value.
    for section in markdown.split("**protocol ")[1:]:
        rows = [line for line in section.splitlines() if line.startswith("| mean-shape")]
        assert len(rows) == 1
    terminal = cli("leaderboard", "--no-reported", work_dir=work).output
    assert terminal.count("Leaderboard (") == len(EXPECTED["wflw"])
    html_page = cli("leaderboard", "--format", "html", "--no-reported", work_dir=work).output
    assert html_page.count('class="sortable"') == len(EXPECTED["wflw"]) and 'id="leaderboard"' in html_page
