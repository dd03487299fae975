"""The plugin manager: built-in plugins and third-party entry points, registered the same way.

Third-party packages declare an entry point in the group `fabrec_bench`. FABREC_BENCH_LOAD_PLUGINS, when set,
is a comma-separated list of the distributions (or entry-point names) whose plugins load; set it empty to
load none. A plugin that fails to import, or registers a name that is already taken, is recorded as a load
error and the rest carry on: `fabrec-bench plugins` shows both.
"""

from __future__ import annotations

import difflib
import importlib
import traceback
from dataclasses import dataclass, field
from importlib import metadata

import pluggy

from fabrec_bench import hookspecs
from fabrec_bench.datasets import DatasetAdapter
from fabrec_bench.errors import PluginError, UserError
from fabrec_bench.metrics import Metric, Normaliser
from fabrec_bench.models import ModelSpec
from fabrec_bench.plugin_entry_points import allowed_entry_points
from fabrec_bench.protocol import Protocol
from fabrec_bench.schemes import BUILTIN_SCHEMES, LandmarkScheme

DEFAULT_PLUGINS = (
    "fabrec_bench_plugins.datasets.wflw",
    "fabrec_bench_plugins.datasets.w300",
    "fabrec_bench_plugins.datasets.aflw",
    "fabrec_bench_plugins.datasets.cofw",
    "fabrec_bench_plugins.datasets.vggface2",
    "fabrec_bench_plugins.datasets.affectnet",
    "fabrec_bench_plugins.models.mean_shape",
    "fabrec_bench_plugins.models.dlib_ert",
    "fabrec_bench_plugins.models.fabrec.plugin",
    "fabrec_bench_plugins.models.pipnet.plugin",
    "fabrec_bench_plugins.models.hrnet.plugin",
    "fabrec_bench_plugins.models.fan.plugin",
    "fabrec_bench_plugins.models.star.plugin",
    "fabrec_bench_plugins.metrics.nme",
    "fabrec_bench_plugins.metrics.protocols",
)

KINDS = ("datasets", "models", "metrics", "normalisers", "protocols")


@dataclass
class PluginInfo:
    """One plugin: where it came from, what it registered, and what went wrong."""

    name: str
    package: str
    version: str = ""
    builtin: bool = False
    registered: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in KINDS})
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "package": self.package,
            "version": self.version,
            "builtin": self.builtin,
            "registered": self.registered,
            "errors": self.errors,
        }


@dataclass
class Registry:
    """Everything the loaded plugins registered, by name, plus per-plugin load information."""

    datasets: dict[str, DatasetAdapter] = field(default_factory=dict)
    models: dict[str, ModelSpec] = field(default_factory=dict)
    metrics: dict[str, Metric] = field(default_factory=dict)
    normalisers: dict[str, Normaliser] = field(default_factory=dict)
    protocols: dict[str, Protocol] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    pm: pluggy.PluginManager | None = None

    def dataset(self, name: str) -> DatasetAdapter:
        return self._get("datasets", name)

    def model(self, name: str) -> ModelSpec:
        return self._get("models", name)

    def metric(self, name: str) -> Metric:
        return self._get("metrics", name)

    def normaliser(self, name: str) -> Normaliser:
        return self._get("normalisers", name)

    def protocol(self, name: str) -> Protocol:
        return self._get("protocols", name)

    def protocols_in_order(self) -> list[Protocol]:
        """The registered protocols, `standard` first, then in registration order (built-ins first)."""
        return sorted(self.protocols.values(), key=lambda p: p.name != "standard")

    def _get(self, kind: str, name: str):
        table = getattr(self, kind)
        if name not in table:
            known = ", ".join(sorted(table)) or "none"
            close = difflib.get_close_matches(name, list(table), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            hint += " (run `fabrec-bench plugins` to see load errors)" if self.errors() else ""
            raise PluginError(f"unknown {kind[:-1]} '{name}'; installed: {known}{hint}")
        return table[name]

    def errors(self) -> list[tuple[PluginInfo, str]]:
        return [(p, e) for p in self.plugins for e in p.errors]


# What each registration hook's `register` callback takes (a wrong kind is the plugin's load error).
HOOK_KINDS = {
    "fabrec_bench_register_datasets": ("datasets",),
    "fabrec_bench_register_models": ("models",),
    "fabrec_bench_register_metrics": ("metrics", "normalisers"),
    "fabrec_bench_register_protocols": ("protocols",),
}
KIND_NAMES = {"datasets": "DatasetAdapter", "models": "ModelSpec", "metrics": "Metric", "normalisers": "Normaliser",
              "protocols": "Protocol"}


def _make_register(registry: Registry, info: PluginInfo, hook_name: str):
    """The `register` callback handed to one plugin's implementation of one registration hook."""
    allowed = HOOK_KINDS[hook_name]

    def register(item) -> None:
        kind = _kind_of(item)
        if kind not in allowed:
            expected = " or ".join(KIND_NAMES[k] for k in allowed)
            info.errors.append(f"{hook_name}: register() takes a {expected}, got {type(item).__name__} "
                               f"{getattr(item, 'name', item)!r}; ignored")
            return
        table = getattr(registry, kind)
        name = item.name
        if not name:
            info.errors.append(f"{hook_name}: a {KIND_NAMES[kind]} needs a non-empty name; ignored")
            return
        if name in table:
            owner = next((p.name for p in registry.plugins if name in p.registered[kind]), "?")
            info.errors.append(f"{kind[:-1]} '{name}' is already registered by plugin '{owner}'; ignored")
            return
        table[name] = item
        info.registered[kind].append(name)

    return register


def _kind_of(item) -> str | None:
    if isinstance(item, DatasetAdapter):
        return "datasets"
    if isinstance(item, ModelSpec):
        return "models"
    if isinstance(item, Metric):
        return "metrics"
    if isinstance(item, Normaliser):
        return "normalisers"
    if isinstance(item, Protocol):
        return "protocols"
    return None


def build_registry(extra_plugins: tuple = ()) -> Registry:
    """Load built-in and third-party plugins and collect what they register.

    `extra_plugins` are objects or modules registered after the built-ins (handy in tests).
    """
    pm = pluggy.PluginManager("fabrec_bench")
    pm.add_hookspecs(hookspecs)
    registry = Registry(pm=pm)
    infos: dict[str, PluginInfo] = {}

    def add(plugin, name: str, package: str, version: str, builtin: bool) -> None:
        info = PluginInfo(name=name, package=package, version=version, builtin=builtin)
        registry.plugins.append(info)
        try:
            pm.register(plugin, name=name)
            infos[name] = info
        except Exception as e:  # e.g. a hook implementation with the wrong signature
            info.errors.append(f"{type(e).__name__}: {e}")

    version = metadata.version("fabrec-bench") if _installed() else "dev"
    for module_name in DEFAULT_PLUGINS:
        short = module_name.removesuffix(".plugin").rsplit(".", 1)[-1].replace("_", "-")
        add(importlib.import_module(module_name), short, "fabrec-bench", version, True)

    for ep in allowed_entry_points():
        package = ep.dist.name if ep.dist else "?"
        pkg_version = ep.dist.version if ep.dist else ""
        try:
            plugin = ep.load()
        except BaseException as e:  # a broken plugin must never take the CLI down
            if isinstance(e, KeyboardInterrupt):
                raise
            info = PluginInfo(name=ep.name, package=package, version=pkg_version)
            last = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
            where = f" ({last.filename}:{last.lineno})" if last else ""
            info.errors.append(f"failed to import {ep.value}: {type(e).__name__}: {e}{where}")
            registry.plugins.append(info)
            continue
        add(plugin, ep.name, package, pkg_version, False)

    for i, plugin in enumerate(extra_plugins):
        add(plugin, getattr(plugin, "__name__", f"extra-{i}"), "(test)", "", False)

    # Like pm.check_pending(), but charged to the plugin at fault: a misspelled hook is a load error.
    for hook_name, caller in vars(pm.hook).items():
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                infos[pm.get_name(impl.plugin)].errors.append(
                    f"implements unknown hook '{hook_name}' (misspelled? see fabrec_bench.hookspecs)"
                )
    for hook_name in HOOK_KINDS:
        hook = getattr(pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: built-ins claim their names first
            info = infos[pm.get_name(impl.plugin)]
            try:
                impl.function(register=_make_register(registry, info, hook_name))
            except Exception as e:
                info.errors.append(f"{hook_name} raised {type(e).__name__}: {e}")
    return registry


def _installed() -> bool:
    try:
        metadata.version("fabrec-bench")
        return True
    except metadata.PackageNotFoundError:
        return False


_registry: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, built on first use."""
    global _registry
    if _registry is None:
        _registry = build_registry()
    return _registry


def scheme_by_name(name: str) -> LandmarkScheme:
    """A landmark scheme by name (checkpoints store only the name): a built-in one without loading any plugin,
    else the scheme of an installed dataset."""
    if name in BUILTIN_SCHEMES:
        return BUILTIN_SCHEMES[name]
    schemes = {d.scheme.name: d.scheme for d in get_registry().datasets.values()}
    if name not in schemes:
        raise UserError(f"unknown landmark scheme {name!r}; known: {', '.join(sorted({*BUILTIN_SCHEMES, *schemes}))}")
    return schemes[name]


def reset_registry() -> None:
    """Forget the cached registry (tests change the environment and need a fresh one)."""
    global _registry
    _registry = None
