"""The plugin manager: built-ins through the hooks, load errors and name clashes reported, not fatal."""

import json
import sys
import types

from fabrec_bench.datasets import DatasetAdapter, SplitInfo
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import ModelSpec
from fabrec_bench.plugins import build_registry
from fabrec_bench.schemes import WFLW98


def test_builtins_register_through_the_hooks():
    reg = build_registry()
    wflw = reg.dataset("wflw")
    assert [s.name for s in wflw.splits if s.role == "test"] == [
        "test", "pose", "expression", "illumination", "make-up", "occlusion", "blur"]
    assert "mean-shape" in reg.models
    assert {"nme", "fr", "auc"} <= set(reg.metrics)
    assert {p.name for p in reg.plugins if p.builtin} == {"wflw", "w300", "aflw", "cofw", "vggface2", "affectnet",
                                                          "mean-shape", "dlib-ert", "fabrec", "pipnet", "hrnet",
                                                          "fan", "star", "nme", "protocols"}
    assert {"wflw", "wflw68", "300w", "aflw", "vggface2", "affectnet"} <= set(reg.datasets)
    assert not reg.errors()


class ClashingPlugin:
    @hookimpl
    def fabrec_bench_register_models(self, register):
        register(ModelSpec("mean-shape", create=None, load=None))  # taken by the built-in


class MisspelledPlugin:
    @hookimpl
    def fabrec_bench_register_dataset(self, register):  # missing the final "s"
        pass


class RaisingPlugin:
    @hookimpl
    def fabrec_bench_register_datasets(self, register):
        raise RuntimeError("boom")


class ToyDataset(DatasetAdapter):
    name = "toy"
    scheme = WFLW98
    splits = (SplitInfo("test", "toy"),)


class GoodPlugin:
    @hookimpl
    def fabrec_bench_register_datasets(self, register):
        register(ToyDataset())


def test_clashes_misspellings_and_exceptions_are_charged_to_the_plugin():
    reg = build_registry(extra_plugins=(ClashingPlugin(), MisspelledPlugin(), RaisingPlugin(), GoodPlugin()))
    errors = {info.name: info.errors for info in reg.plugins}
    assert reg.model("mean-shape").create is not None  # the built-in kept its name
    assert any("already registered by plugin 'mean-shape'" in e for e in errors["extra-0"])
    assert any("unknown hook 'fabrec_bench_register_dataset'" in e for e in errors["extra-1"])
    assert any("boom" in e for e in errors["extra-2"])
    assert reg.dataset("toy").name == "toy"  # others carry on


def test_a_plugin_that_fails_to_import_is_listed_and_the_cli_still_works(tmp_path, monkeypatch, cli):
    dist = tmp_path / "site" / "broken_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[fabrec_bench]\nbroken = broken_plugin_module\n")
    (tmp_path / "site" / "broken_plugin_module.py").write_text("import does_not_exist\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("FABREC_BENCH_LOAD_PLUGINS", "broken-plugin")
    sys.modules.pop("broken_plugin_module", None)
    result = cli("plugins", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    broken = next(p for p in data["plugins"] if p["name"] == "broken")
    assert broken["package"] == "broken-plugin"
    assert "ModuleNotFoundError" in broken["errors"][0] and "does_not_exist" in broken["errors"][0]
    assert any(d["name"] == "wflw" for d in data["datasets"])


def test_load_switch_keeps_installed_plugins_out(tmp_path, monkeypatch):
    dist = tmp_path / "site" / "other_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: other-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[fabrec_bench]\nother = other_plugin_module\n")
    module = types.ModuleType("other_plugin_module")
    monkeypatch.setitem(sys.modules, "other_plugin_module", module)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("FABREC_BENCH_LOAD_PLUGINS", "")
    assert "other" not in {p.name for p in build_registry().plugins}
    monkeypatch.setenv("FABREC_BENCH_LOAD_PLUGINS", "other-plugin")
    assert "other" in {p.name for p in build_registry().plugins}


class WrongKindPlugin:
    @hookimpl
    def fabrec_bench_register_datasets(self, register):
        register(ModelSpec("sneaky-model", create=None, load=None))  # a model through the datasets hook
        register(ToyDataset())  # the right kind still registers

    @hookimpl
    def fabrec_bench_register_models(self, register):
        register("just a string")


def test_register_is_typed_per_hook_and_a_wrong_kind_is_the_plugins_load_error():
    reg = build_registry(extra_plugins=(WrongKindPlugin(),))
    info = next(p for p in reg.plugins if p.package == "(test)")
    assert info.registered["datasets"] == ["toy"] and "sneaky-model" not in reg.models
    assert any("fabrec_bench_register_datasets: register() takes a DatasetAdapter, got ModelSpec 'sneaky-model'" in e
               for e in info.errors)
    assert any("fabrec_bench_register_models: register() takes a ModelSpec, got str" in e for e in info.errors)
    assert not [e for p in reg.plugins if p.builtin for e in p.errors]  # charged to the plugin at fault only
