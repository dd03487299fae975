"""`pip install .` (not only editable) works and installs only namespaced top-level packages."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_installs_only_namespaced_packages(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info", "build", "__pycache__",
                                                              "fabrec-results", "demo-out"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("fabrec_bench-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"fabrec_bench", "fabrec_bench_plugins", "fabrec_bench_runners"}
    for module in ("fabrec_bench_plugins/datasets/wflw.py", "fabrec_bench_plugins/models/mean_shape.py",
                   "fabrec_bench_plugins/metrics/nme.py", "fabrec_bench_runners/cli.py", "fabrec_bench/synth/render.py"):
        assert module in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fabrec-bench = fabrec_bench_runners.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
