"""A real third-party package, pip-installed, adds a dataset, a model and a protocol that `fabrec-bench` then
uses: listed, run, scored, shown in leaderboards.

The package lives in tests/third_party_plugin (the README's plugin tutorial shows the same files).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PLUGIN_SRC = Path(__file__).parent / "third_party_plugin"


def write_toy_faces(root: Path, n_train: int = 20, n_test: int = 8) -> None:
    rng = np.random.default_rng(0)
    template = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], float)

    def face(i):
        offset, scale = rng.uniform(0, 50, 2), rng.uniform(0.8, 1.2)
        points = template * scale + offset + rng.normal(0, 2, (5, 2))
        box = [*(offset + 10 * scale), *(offset + 95 * scale)]
        return {"id": f"face-{i}", "image": f"img/{i}.jpg", "box": box, "points": points.tolist()}

    root.mkdir(parents=True)
    faces = [face(i) for i in range(n_train + n_test)]
    (root / "faces.json").write_text(json.dumps({"train": faces[:n_train], "test": faces[n_train:]}))


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory) -> Path:
    """pip-install the toy plugin package into a private --target folder (no network: no build isolation)."""
    target = tmp_path_factory.mktemp("site")
    src = tmp_path_factory.mktemp("src") / "pkg"
    shutil.copytree(PLUGIN_SRC, src)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(src)],
        check=True, capture_output=True, text=True,
    )
    assert list(target.glob("fabrec_bench_toy_faces-*.dist-info"))
    return target


def fabrec_bench(site: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    env.pop("FABREC_BENCH_LOAD_PLUGINS", None)  # load every installed plugin, as a user would
    return subprocess.run([sys.executable, "-m", "fabrec_bench_runners", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_installed_plugin_dataset_runs_end_to_end(installed_plugin, tmp_path):
    listing = fabrec_bench(installed_plugin, "plugins", "--json", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    data = json.loads(listing.stdout)
    toy = next(p for p in data["plugins"] if p["name"] == "toy_faces")
    assert toy["package"] == "fabrec-bench-toy-faces" and toy["registered"]["datasets"] == ["toy-faces"]
    assert toy["registered"]["models"] == ["box-template"] and toy["registered"]["protocols"] == ["toy-strict"]
    assert not toy["errors"]

    write_toy_faces(tmp_path / "toy")
    run = fabrec_bench(installed_plugin, "--work-dir", str(tmp_path / "work"), "run", "--model", "mean-shape",
                       "--dataset", "toy-faces", "--split", "test", "--data-root", str(tmp_path / "toy"),
                       "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert result["dataset"] == "toy-faces" and result["faces"] == 8
    assert 0 < result["metrics"]["nme"] < 0.2
    board = fabrec_bench(installed_plugin, "--work-dir", str(tmp_path / "work"), "leaderboard", "--format", "csv",
                         cwd=tmp_path)
    assert "mean-shape,,toy-faces,test" in board.stdout


def test_installed_plugin_model_takes_its_typed_options(installed_plugin, tmp_path):
    info = fabrec_bench(installed_plugin, "models", "info", "box-template", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    options = {o["name"]: o for o in json.loads(info.stdout)["options"]}
    assert options["spread"]["type"] == "float" and options["spread"]["default"] == 1.0
    write_toy_faces(tmp_path / "toy")
    runs = {}
    for spread in ("1.0", "0.5"):
        run = fabrec_bench(installed_plugin, "--work-dir", str(tmp_path / "work"), "run", "-m", "box-template",
                           "-d", "toy-faces", "-s", "test", "--data-root", str(tmp_path / "toy"), "--config",
                           f"spread={spread}", "--json", cwd=tmp_path)
        assert run.returncode == 0, run.stderr
        runs[spread] = json.loads(run.stdout)["metrics"]["nme"]
    assert runs["1.0"] != runs["0.5"]
    bad = fabrec_bench(installed_plugin, "--work-dir", str(tmp_path / "work"), "run", "-m", "box-template",
                       "-d", "toy-faces", "-s", "test", "--data-root", str(tmp_path / "toy"), "--config", "spread=wide",
                       cwd=tmp_path)
    assert bad.returncode == 2 and "option spread = 'wide' should be a float" in bad.stderr
    board = json.loads(fabrec_bench(installed_plugin, "--work-dir", str(tmp_path / "work"), "leaderboard",
                                    "--format", "json", "--no-reported", cwd=tmp_path).stdout)
    # Two configurations of one model: two rows, each name saying which.
    assert sorted(r["model"] for r in board) == ["box-template {default options}", "box-template {spread=0.5}"]


def test_installed_plugin_protocol_is_listed_and_scores(installed_plugin, tmp_path):
    listed = fabrec_bench(installed_plugin, "protocols", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    toy = next(d for d in json.loads(listed.stdout) if d["name"] == "toy-strict")
    assert toy["plugin"] == "toy_faces" and {r["dataset"] for r in toy["rules"]} == {"toy-faces", "wflw"}
    helped = fabrec_bench(installed_plugin, "score", "--help", cwd=tmp_path)  # --help loads no plugin
    assert "--protocol NAME" in helped.stdout and "`fabrec-bench protocols` lists" in helped.stdout
    write_toy_faces(tmp_path / "toy")
    faces = json.loads((tmp_path / "toy" / "faces.json").read_text())["test"]
    rows = ["id,image," + ",".join(f"x{i},y{i}" for i in range(5))]
    rows += [f"{f['id']},{f['image']}," + ",".join(f"{x + 1.5},{y}" for x, y in f["points"]) for f in faces]
    (tmp_path / "pred.csv").write_text("\n".join(rows) + "\n")
    scored = fabrec_bench(installed_plugin, "score", str(tmp_path / "pred.csv"), "-d", "toy-faces", "-s", "test",
                          "--data-root", str(tmp_path / "toy"), "--protocol", "all", "--json", cwd=tmp_path)
    assert scored.returncode == 0, scored.stderr
    docs = {d["protocol"]["name"]: d for d in json.loads(scored.stdout)}
    assert set(docs) == {"standard", "toy-strict"}
    assert docs["toy-strict"]["protocol"]["threshold"] == 0.05 and docs["standard"]["protocol"]["threshold"] == 0.1
    assert docs["toy-strict"]["metrics"]["nme"] == docs["standard"]["metrics"]["nme"]  # same normaliser here
