"""The field's few-shot comparison at CPU size: 3FabRec on a shared autoencoder, PIPNet and HRNet by their own
recipes, and mean-shape, each trained on the same N faces at two N and two seeds, in one matrix, locally and on
Ray; `plot fewshot` draws a curve per model. (benchmarks/fewshot-field.toml is the same at GPU size.)"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

import cv2
import pytest

from fabrec_bench.store import ResultsStore, store_path

MODELS = """
[[matrix.pretrain]]
name = "ae"
model = "3fabrec"
dataset = "wflw"
data_root = "{root}"
config = {{ input_size = 128, epochs = 1, batch_size = 8, precision = "fp32" }}

[[matrix.models]]
name = "mean-shape"

[[matrix.models]]
name = "3fabrec"
config = {{ autoencoder = "@ae", input_size = 128, iterations = 1, batch_size = 4, eval_batch_size = 8, precision = "fp32" }}

[[matrix.models]]
name = "pipnet"
config = {{ iterations = 1, train_batch_size = 4 }}

[[matrix.models]]
name = "hrnet"
config = {{ iterations = 1, train_batch_size = 4 }}
"""


def spec(path, root):
    path.write_text(f"""
[matrix]
seeds = [0, 1]
train_counts = [4, 6]
{MODELS.format(root=root)}
[[matrix.datasets]]
name = "wflw"
splits = ["test"]
data_root = "{root}"
""")
    return path


def trained_models(work) -> dict[str, set[tuple[int, int]]]:
    with ResultsStore(store_path(work)) as store:
        runs = store.runs(status="finished")
    out: dict[str, set] = {}
    for run in runs:
        out.setdefault(run.model + (f" ({run.model_info['variant']})" if run.model_info.get("variant") else ""),
                       set()).add((run.train_count, run.seed))
    return out


EXPECTED = {"mean-shape", "3fabrec (pretrained AE)", "pipnet (own recipe, scratch)", "hrnet (own recipe, scratch)"}


@pytest.mark.slow
def test_the_field_matrix_runs_locally_and_plot_fewshot_draws_every_model(cli, synthetic_wflw, tmp_path):
    work = tmp_path / "work"
    result = cli("matrix", spec(tmp_path / "field.toml", synthetic_wflw), work_dir=work)
    assert result.exit_code == 0, result.output
    cells = trained_models(work)
    assert set(cells) == EXPECTED, cells
    assert all(v == {(4, 0), (4, 1), (6, 0), (6, 1)} for v in cells.values())
    out = tmp_path / "fewshot.svg"
    plotted = cli("plot", "fewshot", "-d", "wflw", "-s", "test", "--out", out, work_dir=work)
    assert plotted.exit_code == 0, plotted.output
    svg = out.read_text()
    for name in ("mean-shape", "3fabrec (pretrained AE)", "pipnet (own recipe, scratch)", "hrnet (own recipe, scratch)"):
        assert name in svg, name  # one curve, labelled, per model
    png = tmp_path / "fewshot.png"
    assert cli("plot", "fewshot", "-d", "wflw", "-s", "test", "--out", png, work_dir=work).exit_code == 0
    assert cv2.imread(str(png)).std() > 10


@pytest.mark.slow
def test_the_field_matrix_runs_on_ray(synthetic_wflw, tmp_path):
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("FABREC_BENCH_REQUIRE_RAY") == "1":
            pytest.fail("FABREC_BENCH_REQUIRE_RAY=1 but Ray is not installed")
        pytest.skip('Ray is not installed (pip install "fabrec-bench[ray]"; CI installs it)')
    work = tmp_path / "work"
    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    (tmp_path / "node-tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "node-tmp"), "RAY_TMPDIR": ray_tmp}
    cmd = [sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), "matrix",
           str(spec(tmp_path / "field.toml", synthetic_wflw)), "--executor", "ray", "--cpus-per-cell", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    shutil.rmtree(ray_tmp, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "16 cell(s) ran, 0 failed" in result.stdout
    cells = trained_models(work)
    assert set(cells) == EXPECTED and all(len(v) == 4 for v in cells.values()), cells
