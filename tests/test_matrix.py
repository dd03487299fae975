"""Train/eval matrices: plan, resume after SIGKILL with exactly one result per cell, failures recorded."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fabrec_bench.store import ResultsStore, store_path


def write_spec(path, data_root, model_block, seeds=(0, 1), counts=(4, 6), splits=("test", "pose")):
    path.write_text(f"""
[matrix]
seeds = {list(seeds)}
train_counts = {list(counts)}

{model_block}

[[matrix.datasets]]
name = "wflw"
splits = {list(splits)}
data_root = "{data_root}"
""")
    return path


SLOW_3FABREC = """
[[matrix.models]]
name = "3fabrec"
config = { init = "scratch", input_size = 128, epochs = 3, batch_size = 2, eval_batch_size = 8, precision = "fp32" }
"""


def finished_cells(work):
    with ResultsStore(store_path(work)) as store:
        runs = store.runs(status=None)
    return [r.cell_key for r in runs if r.status == "finished"], [r.status for r in runs]


@pytest.mark.slow
def test_killed_matrix_resumes_with_exactly_one_result_per_cell(synthetic_wflw, tmp_path):
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, SLOW_3FABREC)  # 2 seeds x 2 sizes x 2 splits = 8
    work = tmp_path / "work"
    cmd = [sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), "matrix", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    killed = False
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if not store_path(work).exists():
            continue
        try:
            with sqlite3.connect(store_path(work)) as db:
                states = [s for (s,) in db.execute("SELECT status FROM runs")]
        except sqlite3.Error:
            continue
        if "finished" in states and "running" in states:  # kill in the middle of a cell
            os.kill(proc.pid, signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=30)
    assert killed, "the matrix finished before it could be killed"
    done_before, _ = finished_cells(work)
    assert 0 < len(done_before) < 8

    dry = subprocess.run(cmd + ["--dry-run"], capture_output=True, text=True, timeout=120)
    assert f"8 cells, {len(done_before)} done" in dry.stdout
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=400)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    cells, statuses = finished_cells(work)
    assert len(cells) == 8 and len(set(cells)) == 8  # every cell exactly once
    assert set(done_before) <= set(cells)  # nothing already stored was redone or lost
    assert "interrupted" in statuses  # the run in flight was marked, not counted
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert "0 cell(s) ran" in again.stdout and finished_cells(work)[0] == cells


def test_a_failing_cell_is_recorded_and_the_matrix_goes_on(cli, synthetic_wflw, tmp_path):
    models = """
[[matrix.models]]
name = "mean-shape"

[[matrix.models]]
name = "3fabrec"
label = "broken"
config = { autoencoder = "no-such-autoencoder.pt", input_size = 128 }
"""
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, models, seeds=(0,), counts=(5,))
    result = cli("matrix", spec)
    assert result.exit_code == 1
    assert "2 cell(s) failed" in result.output or "failed: broken" in result.output
    assert "no-such-autoencoder.pt" in result.output
    cells, _ = finished_cells(tmp_path / "work")
    assert len(cells) == 2  # the good model's two splits


def test_spec_errors_name_the_key(cli, synthetic_wflw, tmp_path):
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, '[[matrix.models]]\nname = "mean-shape"\nconfg = {}')
    result = cli("matrix", spec)
    assert result.exit_code == 2 and "matrix.models[0]: unknown key(s) confg" in result.output
    (tmp_path / "bad.toml").write_text("[matrix]\nseeds = [\"a\"]\n")
    result = cli("matrix", tmp_path / "bad.toml")
    assert result.exit_code == 2 and "matrix.seeds must be a list of integers" in result.output


def test_worker_processes_fill_the_same_store(synthetic_wflw, tmp_path):
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, '[[matrix.models]]\nname = "mean-shape"')
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), "matrix", str(spec),
                             "--workers", "2", "--gpus", "0,1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    cells, statuses = finished_cells(work)
    assert len(cells) == 8 and len(set(cells)) == 8 and set(statuses) == {"finished"}
    with ResultsStore(store_path(work)) as store:  # each worker process saw only its own GPU
        assert {r.provenance["devices"]["visible_gpus"] for r in store.runs()} <= {"0", "1"}


def test_gpus_are_shared_out_between_workers():
    from fabrec_bench.matrix import gpu_groups

    assert gpu_groups(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert gpu_groups(["0", "1", "2", "3"], 4) == ["0", "1", "2", "3"]
    assert gpu_groups(["0", "1"], 3) == ["0", "1", "0"]
    assert gpu_groups([], 2) == []


@pytest.mark.slow
def test_ray_executor_fills_the_same_store(synthetic_wflw, tmp_path):
    """A local Ray instance runs the cells; their runs are imported into the work directory's store, once."""
    try:
        import ray  # noqa: F401
    except ImportError:
        if os.environ.get("FABREC_BENCH_REQUIRE_RAY") == "1":
            pytest.fail("FABREC_BENCH_REQUIRE_RAY=1 but Ray is not installed")
        pytest.skip('Ray is not installed (pip install "fabrec-bench[ray]"; CI installs it)')
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, '[[matrix.models]]\nname = "mean-shape"')
    work = tmp_path / "work"
    import shutil
    import tempfile

    ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    env = {**os.environ, "TMPDIR": str(tmp_path / "node-tmp"), "RAY_TMPDIR": ray_tmp}
    (tmp_path / "node-tmp").mkdir()
    cmd = [sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), "matrix", str(spec),
           "--executor", "ray", "--cpus-per-cell", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "8 cell(s) ran, 0 failed" in result.stdout
    cells, statuses = finished_cells(work)
    assert len(cells) == 8 and len(set(cells)) == 8 and set(statuses) == {"finished"}
    with ResultsStore(store_path(work)) as store:
        runs = store.runs()
        assert all(store.face_errors(r.id) and store.landmark_errors(r.id) is not None for r in runs)
    # The runs were made in a node-local folder, not in the driver's work directory.
    assert all(str(tmp_path / "node-tmp") in r.run_dir for r in runs)
    again = subprocess.run(cmd + ["--dry-run"], capture_output=True, text=True, timeout=120, env=env)
    assert "8 cells, 8 done, 0 to run" in again.stdout
    shutil.rmtree(ray_tmp, ignore_errors=True)


PRETRAINED = """
[[matrix.pretrain]]
name = "ae"
model = "3fabrec"
dataset = "wflw"
data_root = "{root}"
config = {{ input_size = 128, epochs = 1, batch_size = 8, precision = "fp32" }}

[[matrix.models]]
name = "3fabrec"
config = {{ autoencoder = "@ae", input_size = 128, iterations = 2, batch_size = 4, eval_batch_size = 8, precision = "fp32" }}

[[matrix.models]]
name = "3fabrec"
label = "scratch"
config = {{ init = "scratch", input_size = 128, iterations = 2, batch_size = 4, eval_batch_size = 8, precision = "fp32" }}
"""


@pytest.mark.slow
def test_a_shared_pretraining_is_trained_once_and_reused(cli, synthetic_wflw, tmp_path):
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, PRETRAINED.format(root=synthetic_wflw),
                      seeds=(0,), counts=(3, 5), splits=("test",))
    work = tmp_path / "work"
    dry = cli("matrix", spec, "--dry-run", work_dir=work)
    assert "4 cells, 0 done" in dry.output and "pretraining ae (3fabrec on wflw): to train first" in dry.output
    result = cli("matrix", spec, work_dir=work)
    assert result.exit_code == 0, result.output
    marker = work / "pretrain" / "ae" / "done.json"
    done = json.loads(marker.read_text())
    assert done["faces"] == 24 and Path(done["artefact"]).is_file()
    with ResultsStore(store_path(work)) as store:
        runs = store.runs()
    assert len(runs) == 4
    pretrained = [r for r in runs if r.model_options.get("init") != "scratch"]
    assert len(pretrained) == 2 and all(r.model_info["autoencoder"] == done["artefact"] for r in pretrained)
    assert all(r.model_info["train_faces"] in (3, 5) for r in runs)
    stamp = marker.stat().st_mtime_ns
    again = cli("matrix", spec, work_dir=work)
    assert "0 cell(s) ran" in again.output and marker.stat().st_mtime_ns == stamp
    assert "pretraining ae (3fabrec on wflw): done" in again.output
    # Another pretraining spec under the same name is refused rather than silently mixed.
    changed = write_spec(tmp_path / "spec2.toml", synthetic_wflw,
                         PRETRAINED.format(root=synthetic_wflw).replace("epochs = 1", "epochs = 2"),
                         seeds=(0,), counts=(3,), splits=("test",))
    result = cli("matrix", changed, work_dir=work)
    assert result.exit_code == 1 and "holds pretraining 'ae' of another spec" in result.output


def test_a_reference_to_an_undeclared_pretraining_is_a_spec_error(cli, synthetic_wflw, tmp_path):
    models = '[[matrix.models]]\nname = "3fabrec"\nconfig = { autoencoder = "@nope" }\n'
    result = cli("matrix", write_spec(tmp_path / "spec.toml", synthetic_wflw, models))
    assert result.exit_code == 2
    assert "matrix.models[0].config.autoencoder = '@nope' names no [[matrix.pretrain]] (declared: none)" in result.output


RESUMABLE_3FABREC = """
[[matrix.models]]
name = "3fabrec"
config = { init = "scratch", input_size = 128, epochs = 8, batch_size = 4, eval_batch_size = 8, precision = "fp32", daug = 4, resume_every_seconds = 0 }
"""


@pytest.mark.slow
def test_a_killed_3fabrec_cell_resumes_from_its_last_epoch_and_matches_an_uninterrupted_run(synthetic_wflw, tmp_path):
    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, RESUMABLE_3FABREC, seeds=(3,), counts=(8,),
                      splits=("test",))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def cmd(work):
        return [sys.executable, "-m", "fabrec_bench_runners", "--work-dir", str(work), "matrix", str(spec)]

    straight = subprocess.run(cmd(tmp_path / "straight"), capture_output=True, text=True, timeout=600, env=env)
    assert straight.returncode == 0, straight.stdout[-2000:] + straight.stderr[-2000:]

    work = tmp_path / "killed"
    proc = subprocess.Popen(cmd(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not list(work.glob("resume/*/stage2_state.pt")):
        time.sleep(0.05)
    time.sleep(1.0)  # a few more epochs in
    assert proc.poll() is None, "the cell finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    resumed = subprocess.run(cmd(work), capture_output=True, text=True, timeout=600, env=env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]

    with ResultsStore(store_path(tmp_path / "straight")) as a, ResultsStore(store_path(work)) as b:
        run_a, run_b = a.runs()[0], b.runs()[0]
        assert len(b.runs()) == 1 and run_a.metrics == run_b.metrics  # the same result, bit for bit
        assert a.face_errors(run_a.id) == b.face_errors(run_b.id)
    info = json.loads((Path(run_b.run_dir) / "train_info.json").read_text())
    assert info["resumed_from_epoch"] >= 1 and info["iterations"] == 16
    assert not list(work.glob("resume/*/stage2_state.pt"))  # removed once the training completed


def test_train_selection_first_is_a_spec_option_with_its_own_cells(tmp_path):
    from fabrec_bench.errors import UserError
    from fabrec_bench.matrix import load_spec

    base = """[matrix]
train_counts = [10]
{extra}
[[matrix.models]]
name = "mean-shape"

[[matrix.datasets]]
name = "wflw"
splits = ["test"]
"""
    (tmp_path / "random.toml").write_text(base.format(extra=""))
    (tmp_path / "first.toml").write_text(base.format(extra='train_selection = "first"'))
    (tmp_path / "bad.toml").write_text(base.format(extra='train_selection = "best"'))
    random_job, first_job = load_spec(tmp_path / "random.toml")[0], load_spec(tmp_path / "first.toml")[0]
    assert random_job.train_selection == "random" and first_job.train_selection == "first"
    assert random_job.cell_key("test") != first_job.cell_key("test")
    with pytest.raises(UserError, match=r"bad.toml: matrix.train_selection must be"):
        load_spec(tmp_path / "bad.toml")


def test_model_and_pretraining_options_are_checked_when_the_spec_loads(synthetic_wflw, tmp_path):
    """A typo in a model option names the file and the table before any cell runs (options used to be
    checked only when their cell ran, after the cells before it)."""
    from fabrec_bench.errors import UserError
    from fabrec_bench.matrix import load_spec

    bad_model = write_spec(tmp_path / "model.toml", synthetic_wflw,
                           '[[matrix.models]]\nname = "mean-shape"\n\n[[matrix.models]]\nname = "3fabrec"\n'
                           'config = { input_size = 128, batchsize = 4 }')
    with pytest.raises(UserError, match=r"model.toml: matrix.models\[1\].config \(model '3fabrec'\): "
                                        r"unknown option\(s\) batchsize; known: .*batch_size"):
        load_spec(bad_model)
    bad_pretrain = write_spec(tmp_path / "pretrain.toml", synthetic_wflw,
                              '[[matrix.pretrain]]\nname = "ae"\nmodel = "3fabrec"\ndataset = "wflw"\n'
                              'config = { epoch = 2 }\n\n[[matrix.models]]\nname = "3fabrec"\n'
                              'config = { autoencoder = "@ae" }')
    with pytest.raises(UserError, match=r"pretrain.toml: matrix.pretrain 'ae'.config \(model '3fabrec'\): "
                                        r"unknown option\(s\) epoch; known: .*epochs"):
        load_spec(bad_pretrain)
    unknown_model = write_spec(tmp_path / "unknown.toml", synthetic_wflw, '[[matrix.models]]\nname = "4fabrec"')
    with pytest.raises(UserError, match=r"unknown.toml: matrix.models\[0\]: unknown model '4fabrec'"):
        load_spec(unknown_model)


def test_a_matrix_scores_under_the_protocol_it_names(cli, synthetic_wflw, tmp_path):
    from fabrec_bench.errors import UserError
    from fabrec_bench.matrix import load_spec

    spec = write_spec(tmp_path / "spec.toml", synthetic_wflw, 'protocol = "all"\n\n[[matrix.models]]\nname = "mean-shape"',
                      seeds=(0,), counts=(4,), splits=("test",))
    (job,) = load_spec(spec)  # the model block follows [matrix]'s keys: protocol is one of them
    assert job.protocol == "all" and job.cell_key("test") != job.__class__(**{**job.__dict__,
                                                                            "protocol": "standard"}).cell_key("test")
    result = cli("matrix", spec, work_dir=tmp_path / "work")
    assert result.exit_code == 0, result.output
    with ResultsStore(store_path(tmp_path / "work")) as store:
        protocols = sorted(r.protocol["name"] for r in store.runs(status="finished"))
    assert {"standard", "hrnet", "star", "pipnet", "spiga", "mmpose"} <= set(protocols)
    again = cli("matrix", spec, "--dry-run", work_dir=tmp_path / "work")
    assert "1 cells, 1 done" in again.output  # every protocol's run carries the cell's key
    spec.write_text(spec.read_text().replace('protocol = "all"', 'protocol = "hrnett"'))
    with pytest.raises(UserError, match="matrix.protocol 'hrnett' is no registered protocol"):
        load_spec(spec)
