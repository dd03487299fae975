"""A run's identity lives in the store's own columns: label, cell key, model and dataset options, training
selection, provenance. Leaderboards group by it, so two configurations are never averaged, and a store
written before these columns existed upgrades in place with every run and figure kept."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from fabrec_bench.errors import UserError
from fabrec_bench.reports.leaderboard import build_rows, render
from fabrec_bench.store import MIGRATIONS, Provenance, ResultsStore, RunIdentity, import_runs, store_path

FIXTURE = Path(__file__).parent / "fixtures" / "store-before-migrations"


def old_store(path: Path) -> Path:
    """The store fabrec-bench wrote before it had migrations (tests/fixtures/store-before-migrations)."""
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURE / "store.sql").read_text())
    return path


def leaderboard(store: ResultsStore) -> list[dict]:
    return json.loads(render(build_rows(store.runs()), "json"))


def test_a_store_from_before_upgrades_in_place_keeping_every_run_and_figure(tmp_path):
    path = old_store(tmp_path / "results.sqlite")
    with sqlite3.connect(path) as conn:
        before = {r[0]: r[1:] for r in conn.execute("SELECT uid, status, n_faces, train_count, seed FROM runs")}
        metrics_before = conn.execute("SELECT r.uid, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                                      "ORDER BY 1, 2").fetchall()
        faces_before = conn.execute("SELECT COUNT(*), SUM(nme) FROM face_errors").fetchone()
    with ResultsStore(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        runs = {r.uid: r for r in store.runs(status=None)}
        assert {uid: (r.status, r.n_faces, r.train_count, r.seed) for uid, r in runs.items()} == before
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT r.uid, m.name, m.value FROM metrics m JOIN runs r ON r.id = m.run_id "
                                "ORDER BY 1, 2").fetchall() == metrics_before
            assert conn.execute("SELECT COUNT(*), SUM(nme) FROM face_errors").fetchone() == faces_before
        # What the config JSON held is in its columns now.
        cells = [r for r in runs.values() if r.cell_key]
        assert len(cells) == 2 and {r.train_selection for r in cells} == {"first"}
        assert sorted(r.model_options["lr_heatmaps"] for r in cells) == [0.001, 0.01]
        assert all(r.provenance["devices"] == {"visible_gpus": ""} for r in cells)
        assert all("matrix_cell" not in r.model_options and "dataset_options" not in r.model_options
                   for r in runs.values())
        evaluated = [r for r in runs.values() if r.provenance.get("checkpoint")]
        assert len(evaluated) == 7 and sum("predictions_of_run" in r.provenance for r in evaluated) == 6
        assert [r.dataset_options["annotation_boxes"] for r in runs.values() if r.dataset == "300w"] == ["detector"]
        assert [r.provenance["predictions"] for r in runs.values() if r.kind == "score"] == ["out/gt.csv"]
        trained_later = [r for r in runs.values() if r.split == "blur"]
        assert all(r.provenance["trained_in_run"] in runs for r in trained_later)
        assert all(r.train_selection == "random" for r in runs.values() if r.model == "mean-shape" and r.train_count)
        board = leaderboard(store)
    old = json.loads((FIXTURE / "leaderboard.json").read_text())
    key = ("dataset", "split", "train N", "protocol", "faces")
    # Every row of before is there with the same figures, except the one that averaged two configurations.
    fabrec = [r for r in board if r["model"].startswith("3fabrec")]
    kept = [r for r in board if not r["model"].startswith("3fabrec")]
    was = [r for r in old if not r["model"].startswith("3fabrec")]
    assert sorted(json.dumps({k: v for k, v in r.items() if k != "label"}, sort_keys=True) for r in kept) == \
        sorted(json.dumps(r, sort_keys=True) for r in was)
    merged = next(r for r in old if r["model"].startswith("3fabrec"))
    assert merged["seeds"] == 2  # two configurations averaged as if they were seeds
    assert len(fabrec) == 2 and all(r["seeds"] == 1 for r in fabrec)
    assert {tuple(r[k] for k in key) for r in fabrec} == {tuple(merged[k] for k in key)}
    nme = next(h for h in merged if h.startswith("NME"))
    assert sum(r[nme] for r in fabrec) / 2 == pytest.approx(merged[nme], abs=0.01)
    # Opening it again changes nothing.
    with ResultsStore(path) as store:
        assert leaderboard(store) == board


def test_an_export_of_the_earlier_format_imports(tmp_path):
    with ResultsStore(tmp_path / "results.sqlite") as store:
        added, present = import_runs(store, (FIXTURE / "export-v1.jsonl").read_text().splitlines(), "export-v1.jsonl")
        assert (added, present) == (15, 0)
        cells = [r for r in store.runs() if r.cell_key]
        assert len(cells) == 2 and sorted(r.model_options["lr_heatmaps"] for r in cells) == [0.001, 0.01]
        assert len(build_rows([r for r in store.runs() if r.model == "3fabrec"])) == 2


def test_a_store_written_by_a_newer_version_is_refused(tmp_path):
    path = tmp_path / "results.sqlite"
    ResultsStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES ('m999_from_the_future', 0)")
    with pytest.raises(UserError, match="written by a newer fabrec-bench"):
        ResultsStore(path)


def _finished(store, *, seed, label=None, options=None, nme=0.05, model="3fabrec"):
    run_id, _, _ = store.start_run(RunIdentity(model=model, dataset="wflw", split="test", seed=seed, label=label,
                                               model_options=options or {}, train_split="train", train_count=10,
                                               train_selection="random"), Provenance(code_version="t"))
    store.finish_run(run_id, metrics={"nme": nme}, face_ids=["a"], per_face_nme=[nme])


def test_two_configurations_are_two_rows_and_one_configuration_at_two_seeds_is_one(tmp_path):
    with ResultsStore(store_path(tmp_path)) as store:
        _finished(store, seed=0, label="fast-head", options={"lr_heatmaps": 0.01}, nme=0.05)
        _finished(store, seed=0, label="slow-head", options={"lr_heatmaps": 0.001}, nme=0.09)
        _finished(store, seed=0, options={"lr_heatmaps": 0.01, "workers": 2}, nme=0.06)  # workers: no new config
        _finished(store, seed=1, options={"lr_heatmaps": 0.01}, nme=0.08)
        _finished(store, seed=0, options={"epochs": 30}, nme=0.07)  # the default value: the default configuration
        rows = {r.model: r for r in build_rows(store.runs())}
    assert set(rows) == {"3fabrec [fast-head]", "3fabrec [slow-head]", "3fabrec {lr_heatmaps=0.01}",
                         "3fabrec {default options}"}
    assert rows["3fabrec {lr_heatmaps=0.01}"].seeds == [0, 1]
    assert rows["3fabrec {lr_heatmaps=0.01}"].metrics["nme"] == pytest.approx(0.07)
    assert rows["3fabrec [fast-head]"].seeds == [0] and rows["3fabrec [fast-head]"].label == "fast-head"
    board = json.loads(render(list(rows.values()), "json"))
    assert {r["label"] for r in board} == {"fast-head", "slow-head", None}


@pytest.mark.slow
def test_a_matrix_with_two_labelled_configurations_stores_and_shows_both(cli, synthetic_wflw, tmp_path):
    spec = tmp_path / "spec.toml"
    common = 'init = "scratch", input_size = 128, iterations = 1, batch_size = 4, eval_batch_size = 8, precision = "fp32"'
    spec.write_text(f"""
[matrix]
seeds = [0, 1]
train_counts = [4]

[[matrix.models]]
name = "3fabrec"
label = "fast-head"
config = {{ {common}, lr_heatmaps = 0.01 }}

[[matrix.models]]
name = "3fabrec"
label = "slow-head"
config = {{ {common}, lr_heatmaps = 0.001 }}

[[matrix.datasets]]
name = "wflw"
splits = ["blur"]
data_root = "{synthetic_wflw}"
""")
    assert cli("matrix", spec).exit_code == 0
    board = json.loads(cli("leaderboard", "--format", "json", "--no-reported").output)
    assert sorted((r["label"], r["seeds"]) for r in board) == [("fast-head", 2), ("slow-head", 2)]
    assert {r["model"] for r in board} == {"3fabrec (scratch) [fast-head]", "3fabrec (scratch) [slow-head]"}
    only = json.loads(cli("leaderboard", "--format", "json", "--no-reported", "--label", "slow-head").output)
    assert [r["label"] for r in only] == ["slow-head"]
    with ResultsStore(store_path(tmp_path / "work")) as store:
        assert {r.label for r in store.runs()} == {"fast-head", "slow-head"} and all(r.cell_key for r in store.runs())
