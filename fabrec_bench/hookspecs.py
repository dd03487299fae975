"""The extension points of fabrec-bench.

Every hook receives a `register` callback; a plugin calls it once for each thing it adds. Each hook's
`register` takes only its own kind (a dataset adapter, a model spec, a metric or normaliser, a protocol):
anything else is ignored and shown as that plugin's load error by `fabrec-bench plugins`. Built-in datasets,
models, metrics and protocols register through these same hooks (see `fabrec_bench.plugins.DEFAULT_PLUGINS`).
"""

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("fabrec_bench")
hookimpl = HookimplMarker("fabrec_bench")


@hookspec
def fabrec_bench_register_datasets(register):
    """Register dataset adapters: call `register(adapter)` with a `fabrec_bench.datasets.DatasetAdapter`."""


@hookspec
def fabrec_bench_register_models(register):
    """Register landmark models: call `register(spec)` with a `fabrec_bench.models.ModelSpec`."""


@hookspec
def fabrec_bench_register_metrics(register):
    """Register metrics and NME normalisers: `register(Metric(...))` or `register(Normaliser(...))`."""


@hookspec
def fabrec_bench_register_protocols(register):
    """Register named evaluation protocols: call `register(protocol)` with a `fabrec_bench.protocol.Protocol`
    (its rules per dataset, failure and AUC rules, averaging, optional scoring frame, the code it follows)."""


@hookspec
def fabrec_bench_register_commands(cli):
    """Add click commands to the `fabrec-bench` group `cli`; called once when the CLI starts."""
