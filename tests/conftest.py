"""Shared fixtures: small data in the real file formats, generated on the fly; an isolated plugin set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from fabrec_bench.plugins import reset_registry
from fabrec_bench.synth.wflw import write_wflw

# Tests see only the built-in plugins unless a test asks for others.
os.environ["FABREC_BENCH_LOAD_PLUGINS"] = ""


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """No dataset roots or config files leak in from the developer's machine."""
    for key in list(os.environ):
        if key.startswith("FABREC_BENCH_") and key.endswith("_ROOT"):
            monkeypatch.delenv(key)
    monkeypatch.delenv("FABREC_BENCH_WORK_DIR", raising=False)
    monkeypatch.delenv("FABREC_BENCH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.chdir(tmp_path)
    reset_registry()
    yield
    reset_registry()


@pytest.fixture(scope="session")
def synthetic_wflw(tmp_path_factory) -> Path:
    """A small synthetic WFLW release (24 train, 14 test faces) in the official layout."""
    root = tmp_path_factory.mktemp("synthetic") / "WFLW"
    write_wflw(root, n_train=24, n_test=14, seed=7)
    return root


@pytest.fixture
def cli(tmp_path):
    """Invoke `fabrec-bench` in-process with a work directory under tmp_path; returns the click Result."""
    from fabrec_bench_runners.cli import cli as group

    runner = CliRunner()

    def invoke(*args, work_dir: Path | None = None):
        reset_registry()  # pick up the environment the test set
        wd = str(work_dir or tmp_path / "work")
        return runner.invoke(group, ["--work-dir", wd, *map(str, args)], catch_exceptions=False)

    return invoke
