"""Faults: kill -9 during training and during database writes, a full disk while writing a checkpoint,
concurrent writers, and determinism with a fixed seed."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from fabrec_bench.checkpoints import atomic_write
from fabrec_bench.store import ResultsStore, store_path


def autoencoder_cmd(root: Path, out: Path, epochs: int) -> list[str]:
    return [sys.executable, "-m", "fabrec_bench_runners", "autoencoder", "-d", "wflw", "--data-root", str(root),
            "--out", str(out), "--input-size", "128", "--epochs", str(epochs), "--batch-size", "8",
            "--precision", "fp32", "--daug", "4", "--seed", "3"]


def weights(path: Path) -> dict:
    from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint

    state, meta = read_checkpoint(path)
    return {k: v for k, v in state.items() if not k.startswith("optim.")}, meta


@pytest.mark.slow
def test_kill_9_during_training_then_resume_equals_an_uninterrupted_run(synthetic_wflw, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # same kernels in every run
    straight = subprocess.run(autoencoder_cmd(synthetic_wflw, tmp_path / "straight", 3), capture_output=True,
                              text=True, timeout=600, env=env)
    assert straight.returncode == 0, straight.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(autoencoder_cmd(synthetic_wflw, out, 3), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not (out / "latest.pt").exists():
        time.sleep(0.05)
    time.sleep(0.3)  # into epoch 2
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert killed, "training finished before it could be killed"
    _, meta = weights(out / "latest.pt")  # a complete, readable snapshot survived the kill
    assert meta["epoch"] in (1, 2)
    resumed = subprocess.run(autoencoder_cmd(synthetic_wflw, out, 3), capture_output=True, text=True, timeout=600,
                             env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, meta_a = weights(tmp_path / "straight" / "latest.pt")
    b, meta_b = weights(out / "latest.pt")
    assert meta_a["iteration"] == meta_b["iteration"] and meta_a["epoch"] == meta_b["epoch"] == 3
    for key in a:  # bit for bit
        assert torch.equal(a[key], b[key]), key


def test_a_full_disk_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path):
    path = tmp_path / "latest.pt"
    atomic_write(path, lambda f: f.write(b"good checkpoint"))

    def fill_the_disk(f):
        f.write(b"half a checkp")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        atomic_write(path, fill_the_disk)
    assert path.read_bytes() == b"good checkpoint"
    assert [p.name for p in tmp_path.iterdir()] == ["latest.pt"]  # no temporary file left behind


WRITER = """
import sys, numpy as np
from fabrec_bench.store import Provenance, ResultsStore, RunIdentity
store = ResultsStore(sys.argv[1])
for i in range(int(sys.argv[3])):
    run_id, _, _ = store.start_run(RunIdentity(model=sys.argv[2], dataset="wflw", split="test", model_options={"i": i}),
                                   Provenance(code_version="t"))
    ids = [f"f{j}" for j in range(50)]
    store.finish_run(run_id, metrics={"nme": i / 100}, face_ids=ids, per_face_nme=np.full(50, i / 100),
                     landmark_errors=(np.full(98, 0.1), np.zeros((98, 2))))
"""


def test_two_processes_writing_one_store_lose_nothing(tmp_path):
    db = tmp_path / "results.sqlite"
    ResultsStore(db).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name, "40"]) for name in ("a", "b")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    with ResultsStore(db) as store:
        runs = store.runs()
        assert sorted((r.model, r.model_options["i"]) for r in runs) == sorted((m, i) for m in "ab" for i in range(40))
        assert all(len(store.face_errors(r.id)) == 50 for r in runs)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_kill_9_during_database_writes_leaves_a_sound_store(tmp_path):
    db = tmp_path / "results.sqlite"
    ResultsStore(db).close()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "a", "100000"])
    deadline = time.time() + 120
    while time.time() < deadline:
        time.sleep(0.2)
        with sqlite3.connect(db, timeout=30) as conn:
            if conn.execute("SELECT COUNT(*) FROM runs WHERE status='finished'").fetchone()[0] >= 30:
                break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Every finished run is complete: its metrics and all its per-face errors were written with it.
        finished = conn.execute("SELECT id FROM runs WHERE status='finished'").fetchall()
        assert len(finished) >= 30
        for (run_id,) in finished:
            assert conn.execute("SELECT COUNT(*) FROM face_errors WHERE run_id=?", (run_id,)).fetchone()[0] == 50
            assert conn.execute("SELECT COUNT(*) FROM metrics WHERE run_id=?", (run_id,)).fetchone()[0] == 1
    with ResultsStore(db) as store:  # the run in flight is marked interrupted, never counted
        store.mark_stale()
        assert {r.status for r in store.runs(status=None)} <= {"finished", "interrupted"}


def test_a_fixed_seed_gives_the_same_metrics_twice_and_records_versions(cli, synthetic_wflw, tmp_path):
    config = ["--config", "init=scratch", "--config", "input_size=128", "--config", "iterations=3",
              "--config", "batch_size=4", "--config", "precision=fp32", "--config", "daug=4"]
    results = []
    for i in range(2):
        result = cli("run", "-m", "3fabrec", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw,
                     "--train-count", "6", "--seed", "5", "--device", "cpu", *config, work_dir=tmp_path / f"w{i}")
        assert result.exit_code == 0, result.output
        with ResultsStore(store_path(tmp_path / f"w{i}")) as store:
            run = store.runs()[0]
            results.append((run.metrics, np.array(list(store.face_errors(run.id).values()))))
            assert run.seed == 5 and {"torch", "numpy"} <= set(run.versions) and run.code_version
            assert any(k.startswith("opencv") for k in run.versions)
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


@pytest.mark.slow
def test_nothing_is_written_outside_the_work_directory(synthetic_wflw, tmp_path):
    """A run (training, crop cache, checkpoints, pictures, results) writes only under --work-dir: not into
    the dataset, the current folder or the home folder."""
    home, cwd, work = tmp_path / "home", tmp_path / "cwd", tmp_path / "work"
    home.mkdir()
    cwd.mkdir()
    data = tmp_path / "data"
    import shutil

    shutil.copytree(synthetic_wflw, data)
    before = {p: p.stat().st_mtime_ns for p in data.rglob("*")}
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "MPLCONFIGDIR": str(work / ".matplotlib")}
    config = ["--config", "init=scratch", "--config", "input_size=128", "--config", "iterations=2",
              "--config", "batch_size=4", "--config", "precision=fp32"]
    for cmd in (["run", "-m", "3fabrec", "-d", "wflw", "-s", "test", "--data-root", str(data), "--train-count", "4",
                 *config],
                ["leaderboard", "--format", "html", "--out", str(work / "board.html")],
                ["plot", "ced", "-d", "wflw", "-s", "test", "--out", str(work / "ced.png")]):
        result = subprocess.run([sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), *cmd],
                                cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-2000:]
    assert list(cwd.iterdir()) == []
    assert {p: p.stat().st_mtime_ns for p in data.rglob("*")} == before
    assert [p for p in home.rglob("*") if p.is_file()] == []
    assert (work / "results.sqlite").exists() and (work / "crop-cache").is_dir()
