"""The benchmark scripts run and print the figures they promise (tiny sizes: this checks the script, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fabrec_speed_prints_every_phase_with_peak_share_and_speed_up():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fabrec_speed.py"), "--device", "cpu", "--input-size", "128",
         "--batch-size", "2", "--train-batch-size", "2", "--iters", "1", "--landmarks", "5"],
        capture_output=True, text=True, timeout=600, check=True)
    out = result.stdout
    assert re.search(r"measured matmul peak: bf16 [\d.]+ TFLOP/s, fp32 [\d.]+ TFLOP/s", out)
    for phase in ("inference (ours)", "inference (baseline)", "stage 1 training step", "stage 2 training step"):
        row = next(line for line in out.splitlines() if line.startswith(phase))
        rate, gflop, _, share = row.split()[-4:]
        assert float(rate) > 0 and float(gflop) > 0 and share.endswith("%")
    assert re.search(r"speed-up over the baseline \(bf16\): [\d.]+x", out)
