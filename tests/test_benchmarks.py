"""The benchmark scripts run and print the figures they promise (tiny sizes: this checks the script, not speed)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_fabrec_speed_prints_every_phase_with_peak_share_and_speed_up():
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fabrec_speed.py"), "--device", "cpu", "--input-size", "128",
         "--batch-size", "2", "--train-batch-size", "2", "--iters", "1", "--landmarks", "5",
         # A small peak product: where bf16 is emulated (no AVX512-BF16/AMX) the default 2048 takes minutes.
         "--peak-size", "256"],
        capture_output=True, text=True, timeout=600, check=True)
    out = result.stdout
    assert re.search(r"measured matmul peak: bf16 [\d.]+ TFLOP/s, fp32 [\d.]+ TFLOP/s \(256×256 product\)", out)
    for phase in ("inference (ours)", "inference (baseline)", "stage 1 training step", "stage 2 training step"):
        row = next(line for line in out.splitlines() if line.startswith(phase))
        rate, gflop, _, share = row.split()[-4:]
        assert float(rate) > 0 and float(gflop) > 0 and share.endswith("%")
    assert re.search(r"speed-up over the baseline \(bf16\): [\d.]+x", out)
    # fp32 beside bf16, the processor, and what precision=auto picks here and why.
    assert re.search(r"speed-up over the baseline \(fp32\): [\d.]+x", out)
    assert re.search(r"^inference \(ours\)\s+fp32 ", out, re.M) and re.search(r"^stage 1 training step\s+fp32 ", out, re.M)
    assert re.search(r"^processor: .+; torch sees native bf16: (True|False)$", out, re.M)
    assert re.search(r"^precision=auto for training here: (bf16|fp32) \(.+\)", out, re.M)


@pytest.mark.slow
def test_latent_probe_reads_landmarks_out_of_codes(synthetic_wflw, tmp_path):
    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    checkpoint = tmp_path / "ae.pt"
    save_checkpoint(checkpoint, Fabrec(98, 128), {"stage": "autoencoder", "input_size": 128})
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "latent_probe.py"), str(checkpoint), "random",
         "--data-root", str(synthetic_wflw), "--counts", "5,24", "--cache", str(tmp_path / "cache"),
         "--supervised", "1"],
        capture_output=True, text=True, timeout=600, check=True)
    rows = result.stdout.splitlines()
    assert "N=5" in rows[1] and "N=24" in rows[1] and "mean-shape" in rows[1]
    for row in rows[2:5]:
        values = [float(v) for v in row.split()[-3:]]
        assert all(v > 0 for v in values)
    assert rows[3].startswith("random")
    # The labeled bound: Q + linear read-out trained on 5 and on 24 faces, each for at least one batch.
    assert re.match(r"supervised Q, 1 s \([1-9]\d*/[1-9]\d* batches\)", rows[4])


def test_gpu_fewshot_spec_names_only_known_options():
    """benchmarks/fewshot-gpu.toml is run where a GPU is lent; a typo in it must fail here, not there."""
    import json

    from fabrec_bench.matrix import load_spec
    from fabrec_bench.options import defaults
    from fabrec_bench.plugins import get_registry
    from fabrec_bench_plugins.models.fabrec.defaults import AutoencoderOptions

    jobs = load_spec(ROOT / "benchmarks" / "fewshot-gpu.toml")  # checks every option against its declaration
    registry = get_registry()
    assert {job.label or job.model for job in jobs} == {"mean-shape", "3fabrec", "3fabrec-scratch"}
    for job in jobs:
        config = {key: json.loads(value) for key, value in job.config}
        assert set(config) <= set(registry.model(job.model).describe()["default_config"]), job.label
        for _, spec in job.pretrain:
            assert set(json.loads(spec)["config"]) <= set(defaults(AutoencoderOptions))
    assert all(job.train_count == 50 and len(job.splits) == 7 for job in jobs)


def test_field_fewshot_spec_names_only_known_options():
    """benchmarks/fewshot-field.toml: every model at N = 50, 100, 500 and all, 3 seeds, all seven WFLW splits
    under every protocol; its options are checked as the matrix checks them when it loads."""
    from fabrec_bench.matrix import load_spec

    jobs = load_spec(ROOT / "benchmarks" / "fewshot-field.toml")
    assert {job.label or job.model for job in jobs} == {
        "mean-shape", "3fabrec", "3fabrec-scratch", "pipnet-r18-imagenet", "pipnet-r18-scratch",
        "hrnet-w18-imagenet", "hrnet-w18-scratch"}
    assert {job.train_count for job in jobs} == {50, 100, 500, None} and {job.seed for job in jobs} == {0, 1, 2}
    assert all(job.protocol == "all" and len(job.splits) == 7 for job in jobs)


def test_precision_effect_reports_moved_landmarks_and_nme_change(synthetic_wflw, tmp_path):
    from fabrec_bench.schemes import WFLW98
    from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions
    from fabrec_bench_plugins.models.fabrec.model import FabrecModel

    FabrecModel(WFLW98, FabrecOptions(input_size=128), "cpu").save(tmp_path / "m.pt")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "precision_effect.py"), "--checkpoint", str(tmp_path / "m.pt"),
         "--data-root", str(synthetic_wflw), "--split", "blur"],
        capture_output=True, text=True, timeout=600, check=True)
    out = result.stdout
    assert re.search(r"^processor: ", out, re.M)
    assert re.search(r"^ fp32: NME [\d.]+ % \(inter-ocular\), [\d.]+ faces/s$", out, re.M)
    assert re.search(r"^ bf16: NME [\d.]+ % \(inter-ocular\), [\d.]+ faces/s$", out, re.M)
    assert re.search(r"^landmarks that move in bf16: \d+ of \d+ \([\d.]+ %\)", out, re.M)
    assert re.search(r"^NME change: [+-][\d.]+ percentage points", out, re.M)


def test_protocols_side_by_side_prints_the_readme_example(tmp_path, capsys):
    """The README's worked example is this script's output, row for row."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import protocols_side_by_side
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    assert protocols_side_by_side.main(["--dataset", "300w", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme[readme.index("A worked example"):]
    rows = [line for line in example.splitlines() if line.startswith("│ ")][:7]
    assert [r.split("│")[1].strip() for r in rows] == ["standard", "3fabrec-paper", "hrnet", "star", "pipnet",
                                                       "spiga", "mmpose"]
    printed = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│ ")}
    for row in rows:
        assert printed[row.split("│")[1].strip()].split() == row.split()


@pytest.mark.slow
def test_models_speed_prints_a_row_per_model_with_its_flops_and_the_cpu():
    models = "3fabrec,pipnet-r18,hrnet-w18,fan,star,dlib-ert,mean-shape"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "models_speed.py"), "--device", "cpu", "--batch-size", "1",
         "--iters", "1", "--models", models], capture_output=True, text=True, timeout=600, check=True)
    lines = result.stdout.splitlines()
    assert re.match(r"device: cpu \(.+\(flags: .*\)\); torch .+; bf16 (native: timed|not native here: not timed)",
                    lines[0])
    timed = lines[1].split()[2:]  # fp32 img/s [bf16 img/s]
    for name in ("3fabrec", "pipnet-r18", "hrnet-w18", "fan", "star"):
        row = next(line for line in lines if line.startswith(name)).split()
        assert float(row[1]) > 1 and len(row) == 2 + len(timed) // 2 and all(float(r) > 0 for r in row[2:])
    assert re.search(r"^dlib-ert\s+–\s+[\d.]+ ", result.stdout, re.M)
    for name in ("pipnet-r18", "hrnet-w18"):  # trained here by their own recipes: training images/s too
        row = next(line for line in lines if line.startswith(f"{name} train")).split()
        assert len(row) == 2 + len(timed) // 2 and all(float(r) > 0 for r in row[2:]), row
    assert re.search(r"^mean-shape\s+0\.00\s+\d+", result.stdout, re.M)


def test_fan_box_sources_prints_each_sources_crop_shift_and_nme(tmp_path):
    """On a tiny synthetic 300-W with a random 2D-FAN-4: a row per box source, the ground truth's own shift 0."""
    sys.path.insert(0, str(ROOT / "tests"))
    import torch
    from test_fan import original_net

    from fabrec_bench.synth.formats import write_300w

    write_300w(tmp_path / "300W", per_folder=1, seed=3)
    torch.save(original_net(seed=1)[1], tmp_path / "2DFAN4.pth.tar")
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fan_box_sources.py"), "--data-root", str(tmp_path / "300W"),
         "--checkpoint", str(tmp_path / "2DFAN4.pth.tar")], capture_output=True, text=True, timeout=600, check=True)
    rows = {line.split("  ")[0].strip(): line.split() for line in result.stdout.splitlines()[3:]}
    assert {"ground-truth", "300-W detector", "landmarks", "detector-haar"} <= set(rows)
    truth = rows["ground-truth"]
    assert truth[1] == "3/3" and float(truth[2]) == 0 and float(truth[4]) == 1 and float(truth[-1]) > 0
    assert float(rows["300-W detector"][3]) > 0  # its detector boxes move the crop


@pytest.mark.slow
def test_hrnet_box_sources_trains_hrnet_and_scores_each_source(synthetic_wflw):
    """On a tiny synthetic WFLW: a few training steps, then a row per source of centre and scale; the written
    processed file is the reference (shift 0, NME change 0), the landmarks' whole-pixel extent stays within a
    pixel of it, WFLW's own rectangle moves the crop."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "hrnet_box_sources.py"), "--data-root", str(synthetic_wflw),
         "--train-minutes", "0.01"], capture_output=True, text=True, timeout=600, check=True)
    assert re.search(r"\d+ steps of \d+, \d+ epoch", result.stdout)  # the hrnet model's own training ran
    rows = {line[:16].strip(): line[16:].split() for line in result.stdout.splitlines()
            if line[:16].strip() in ("processed file", "landmarks", "official box", "detector-haar")}
    assert len(rows) == 4
    reference = rows["processed file"]
    assert reference[0] == "14/14" and float(reference[1]) == 0 and float(reference[3]) == 1
    assert float(reference[-2]) > 0 and float(reference[-1]) == 0
    assert 0 < float(rows["landmarks"][2]) < 5  # p90 shift, % of the inter-ocular distance
    assert float(rows["official box"][1]) > float(rows["landmarks"][1])


@pytest.mark.slow
def test_predict_once_prints_the_faces_and_time_saved_on_wflw_subsets():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "predict_once.py"), "--test", "12"],
                            capture_output=True, text=True, timeout=600, check=True)
    one, seven = map(int, re.search(r"one run: (\d+) faces predicted.*seven runs: (\d+) faces", result.stdout).groups())
    assert one == 12 and seven > one  # the subsets hold test faces again
    ratio = float(re.search(r"wall-time ratio \(seven runs / one run\) ([0-9.]+)x", result.stdout).group(1))
    assert ratio > 0 and "processor:" in result.stdout
