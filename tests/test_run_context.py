"""Models get an explicit run context (folders, cache, resume folder, device, seed, precision, the dataset's
crop rule and frame) instead of hidden config keys."""

from __future__ import annotations

from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import DatasetFacts, LandmarkModel, ModelSpec, RunContext, as_context
from fabrec_bench.options import Options
from fabrec_bench.plugins import build_registry
from fabrec_bench.runs import RunRequest, TrainingPlan, run_one
from fabrec_bench_plugins.models.mean_shape import MeanShapeModel

SEEN: list[RunContext] = []


class ContextSpy(MeanShapeModel):
    """mean-shape that remembers the context it was given."""

    def __init__(self, scheme, options, context="auto"):
        super().__init__(scheme, options, context)
        SEEN.append(self.context)


class SpyPlugin:
    @hookimpl
    def fabrec_bench_register_models(self, register):
        register(ModelSpec("spy", create=ContextSpy, load=ContextSpy.load))


def test_a_run_gives_its_model_the_context(synthetic_wflw, tmp_path):
    SEEN.clear()
    registry = build_registry(extra_plugins=(SpyPlugin(),))
    outcome = run_one(RunRequest(model="spy", dataset="wflw", splits=("blur",), data_root=synthetic_wflw,
                                 training=TrainingPlan(seed=7), resume_dir=tmp_path / "resume"),
                      tmp_path / "work", registry=registry)
    context = SEEN[-1]
    assert context.seed == 7 and context.device == "auto" and context.run_dir == outcome.run_dir
    assert context.work_dir == tmp_path / "work" and context.cache_dir == tmp_path / "work" / "crop-cache"
    assert context.resume_dir == tmp_path / "resume"
    assert context.dataset == DatasetFacts("wflw", (0.0, 0.1), 0.0, 0.0)  # WFLW's crop rule and frame


def test_3fabrec_takes_dataset_facts_from_the_context_not_from_options(cli, synthetic_wflw):
    from fabrec_bench.options import defaults
    from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions

    assert not {"crop_extension", "data_origin", "cache_dir", "resume_dir"} & set(defaults(FabrecOptions))
    refused = cli("run", "-m", "3fabrec", "-d", "wflw", "-s", "blur", "--data-root", synthetic_wflw,
                  "--config", "crop_extension=[0,0]")
    assert refused.exit_code == 2 and "unknown option(s) crop_extension" in refused.output


def test_a_device_string_is_still_a_context():
    assert as_context("cpu") == RunContext(device="cpu") and as_context(None).device == "auto"
    model = LandmarkModel(None, Options(), "cpu")
    assert model.context.device == "cpu"
