"""A run predicts each distinct face once: WFLW's six subsets are faces of its test split, so a run over test
and the six subsets hands the model each test face once, and stores the same rows as seven separate runs."""

from __future__ import annotations

import numpy as np

from fabrec_bench import api
from fabrec_bench.plugins import get_registry
from fabrec_bench.predictions import read_landmarks
from fabrec_bench.runs import RunRequest, TrainingPlan, execute
from fabrec_bench.store import ResultsStore, store_path

SPLITS = ("test", "pose", "expression", "illumination", "make-up", "occlusion", "blur")


def test_one_run_over_test_and_its_subsets_predicts_each_face_once(synthetic_wflw, tmp_path, monkeypatch):
    from fabrec_bench_plugins.models import mean_shape

    handed: list[str] = []
    original = mean_shape.MeanShapeModel.predict

    def counting(self, samples):
        handed.extend(s.id for s in samples)
        return original(self, samples)

    monkeypatch.setattr(mean_shape.MeanShapeModel, "predict", counting)
    adapter = get_registry().dataset("wflw")
    sizes = {s: len(api.read_split(adapter, synthetic_wflw, s)) for s in SPLITS}
    assert sum(sizes.values()) > sizes["test"] + 5  # the subsets hold test faces again: something to save

    def request(splits):
        return RunRequest(model="mean-shape", dataset="wflw", splits=splits, data_root=synthetic_wflw,
                          training=TrainingPlan(count=10, seed=3))

    together = execute(request(SPLITS), tmp_path / "one")
    assert len(handed) == sizes["test"] and len(set(handed)) == sizes["test"]  # each face exactly once
    handed.clear()
    apart = [execute(request((split,)), tmp_path / split)[0] for split in SPLITS]
    assert len(handed) == sum(sizes.values())  # seven runs: each face once per split it is in
    for split, one, alone in zip(SPLITS, together, apart, strict=True):
        assert one.evaluation.metrics == alone.evaluation.metrics, split
        np.testing.assert_array_equal(one.evaluation.errors.per_face, alone.evaluation.errors.per_face)
        ids, mine = read_landmarks(one.run_dir / "predictions.csv", 98)
        assert ids == alone.evaluation.face_ids and len(ids) == sizes[split]
        np.testing.assert_array_equal(mine, read_landmarks(alone.run_dir / "predictions.csv", 98)[1])
    with ResultsStore(store_path(tmp_path / "one")) as store:
        assert sorted(r.split for r in store.runs(status="finished")) == sorted(SPLITS)  # a row per split
