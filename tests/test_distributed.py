"""Stage 1 under torchrun: two CPU processes (gloo) on different faces stay identical replicas."""

import subprocess
import sys

from fabrec_bench.synth.wflw import write_wflw
from fabrec_bench_plugins.models.fabrec.model import read_checkpoint


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
