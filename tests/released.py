"""Helpers shared by the tests of the released-weights models (pipnet, hrnet, fan, star): run a model on
synthetic faces given in a chosen frame, and check that a refused run stored nothing. Test code only."""

from __future__ import annotations

import sqlite3

import numpy as np

from fabrec_bench.models import DatasetFacts, RunContext
from fabrec_bench.options import with_options
from fabrec_bench.plugins import get_registry
from fabrec_bench.types import FaceSample


def predict_on(model_class, dataset: str, path, faces: list[dict], frame: str = "zero-based", **options):
    """The model's predictions for faces ({"gt", "image", "box"}) given in `frame` ("zero-based": 0-based image
    pixels, as detectors and FAN/STAR's code use; "files": the dataset files' own frame, as PIPNet's and
    HRNet's code read them), returned in the same frame."""
    facts = DatasetFacts.of(get_registry().dataset(dataset))
    shift = facts.coordinate_origin if frame == "zero-based" else facts.coordinate_origin - facts.file_origin
    samples = [FaceSample(f"{dataset}/{i}", f["image"], f["gt"] + shift, tuple(np.asarray(f["box"]) + shift))
               for i, f in enumerate(faces)]
    model = model_class.load(path, RunContext(device="cpu", dataset=facts))
    if options:
        model.options = with_options(model.options, options)
    model.check_options()
    return model.predict(samples) - shift


def nothing_stored(work) -> bool:
    """True when the work directory holds no run (no store, or a store without rows)."""
    store = work / "results.sqlite"
    return not store.exists() or sqlite3.connect(store).execute("select count(*) from runs").fetchone()[0] == 0
