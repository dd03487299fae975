"""Dataset roots: --data-root, then FABREC_BENCH_<NAME>_ROOT, then fabrec-bench.toml (cwd, user config)."""

from pathlib import Path

import pytest

from fabrec_bench.errors import DatasetError, UserError
from fabrec_bench.roots import resolve_root


def test_lookup_order(tmp_path, monkeypatch):
    user_cfg = tmp_path / "xdg-config" / "fabrec-bench" / "fabrec-bench.toml"
    user_cfg.parent.mkdir(parents=True)
    user_cfg.write_text('[datasets.wflw]\nroot = "/data/from-user-config"\n')
    assert resolve_root("wflw") == (Path("/data/from-user-config"), str(user_cfg))
    (tmp_path / "fabrec-bench.toml").write_text('[datasets.wflw]\nroot = "relative/wflw"\n')
    assert resolve_root("wflw")[0] == tmp_path / "relative/wflw"  # relative to the file
    monkeypatch.setenv("FABREC_BENCH_WFLW_ROOT", "/data/from-env")
    assert resolve_root("wflw") == (Path("/data/from-env"), "FABREC_BENCH_WFLW_ROOT")
    assert resolve_root("wflw", "/data/cli")[1] == "--data-root"


def test_missing_root_says_how_to_set_it():
    with pytest.raises(DatasetError) as info:
        resolve_root("wflw")
    message = str(info.value)
    assert "dataset 'wflw'" in message and "FABREC_BENCH_WFLW_ROOT" in message and "fabrec-bench.toml" in message
    assert "\n" not in message


def test_bad_config_names_the_file(tmp_path):
    (tmp_path / "fabrec-bench.toml").write_text("[datasets.wflw\nroot=1")
    with pytest.raises(UserError, match="fabrec-bench.toml: not valid TOML"):
        resolve_root("wflw")
    (tmp_path / "fabrec-bench.toml").write_text('[dataset.wflw]\nroot = "x"\n')
    with pytest.raises(UserError, match="unknown key.*dataset"):
        resolve_root("wflw")
