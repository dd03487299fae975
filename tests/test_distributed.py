"""Training under torchrun: two CPU processes (gloo) on different faces stay identical replicas (3FabRec's two stages,
PIPNet and HRNet by their recipes)."""

import subprocess
import sys
from pathlib import Path

import pytest

from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint


@pytest.mark.slow
def test_two_process_autoencoder_training_keeps_replicas_in_sync(tmp_path):
    write_wflw(tmp_path / "WFLW", n_train=8, n_test=6, seed=2)
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fabrec_bench_runners", "--work-dir", str(tmp_path / "work"), "autoencoder", "-d", "wflw",
         "--data-root", str(tmp_path / "WFLW"), "--out", str(tmp_path / "ae"), "--input-size", "128",
         "--epochs", "1", "--batch-size", "2", "--device", "cpu", "--precision", "fp32", "--lr", "1e-3"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # Each process saw different faces; averaged gradients keep every parameter identical.
    assert result.stdout.count("2 processes; largest parameter difference between replicas: 0\n") == 2
    _, meta = read_checkpoint(tmp_path / "ae" / "latest.pt")
    assert meta["processes"] == 2 and meta["faces"] == 8 and meta["iteration"] == 2


@pytest.mark.slow
def test_two_process_landmark_training_stores_one_run_from_identical_replicas(tmp_path):
    import json

    from fabrec_bench.store import ResultsStore, store_path

    write_wflw(tmp_path / "WFLW", n_train=8, n_test=6, seed=2)
    work = tmp_path / "work"
    config = ["init=scratch", "input_size=128", "iterations=2", "batch_size=2", "precision=fp32"]
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fabrec_bench_runners", "--work-dir", str(work), "run", "-m", "3fabrec", "-d", "wflw", "-s", "test",
         "--data-root", str(tmp_path / "WFLW"), "--device", "cpu", "--train-count", "8",
         *(x for c in config for x in ("--config", c))],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with ResultsStore(store_path(work)) as store:
        runs = store.runs(status=None)
    assert [r.status for r in runs] == ["finished"]  # rank 0 stored the one result; rank 1 only trained
    info = json.loads((Path(runs[0].run_dir) / "train_info.json").read_text())
    assert info["processes"] == 2 and info["replica_max_difference"] == 0.0
    assert info["faces_per_process"] == 4 and info["train_faces"] == 8 and info["iterations"] == 2


@pytest.mark.slow
@pytest.mark.parametrize("model", ["pipnet", "hrnet"])
def test_two_process_recipe_training_keeps_replicas_identical(model, tmp_path):
    """PIPNet and HRNet by their recipes under torchrun: each process trains on its half of the faces, the
    gradients are averaged, the replicas end identical, and rank 0 stores the one result."""
    import json

    from fabrec_bench.store import ResultsStore, store_path

    write_wflw(tmp_path / "WFLW", n_train=8, n_test=6, seed=2)
    work = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "fabrec_bench_runners", "--work-dir", str(work), "run", "-m", model, "-d", "wflw", "-s", "test",
         "--data-root", str(tmp_path / "WFLW"), "--device", "cpu", "--train-count", "8",
         "--config", "iterations=2", "--config", "train_batch_size=2"],
        capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    with ResultsStore(store_path(work)) as store:
        runs = store.runs(status=None)
    assert [r.status for r in runs] == ["finished"]
    info = json.loads((Path(runs[0].run_dir) / "train_info.json").read_text())
    assert info["processes"] == 2 and info["replica_max_difference"] == 0.0
    assert info["train_faces"] == 8 and info["iterations"] == 2
