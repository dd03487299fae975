"""Helpers shared by the tests of the released-weights models (pipnet, hrnet, fan, star): run a model on
synthetic faces given in a chosen frame, check that a bad checkpoint is refused in one line and that a refused
run stored nothing. Test code only."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
import torch

from fabrec_bench.errors import UserError
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


def refused_in_one_line(load, folder, expected: dict[str, str]) -> None:
    """Each file named in `expected` (under `folder`) is refused by `load(path, "cpu")` with one line that names
    the file and holds the expected words."""
    for name, words in expected.items():
        with pytest.raises(UserError) as e:
            load(folder / name, "cpu")
        assert words in str(e.value) and str(folder / name) in str(e.value) and "\n" not in str(e.value), name


def nothing_stored(work) -> bool:
    """True when the work directory holds no run (no store, or a store without rows)."""
    store = work / "results.sqlite"
    return not store.exists() or sqlite3.connect(store).execute("select count(*) from runs").fetchone()[0] == 0


def random_weights(net: torch.nn.Module, seed: int, gain: float = 1.0) -> dict:
    """The network's state dict, in the original's key layout, with every weight, bias and BatchNorm statistic
    random (so every face lands somewhere else): weights scaled by sqrt(gain / fan_in) so activations stay in
    range through the network (PIPNet's ResNets: gain 2)."""
    generator = torch.Generator().manual_seed(seed)
    state = net.state_dict()
    for key, value in state.items():
        if not value.is_floating_point():
            continue
        noise = torch.randn(value.shape, generator=generator)
        if key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(value.shape, generator=generator)
        elif value.dim() == 1 and key.endswith("weight"):  # BatchNorm scale
            state[key] = 1 + 0.1 * noise
        elif value.dim() == 1:  # biases, BatchNorm shifts and means
            state[key] = 0.1 * noise
        else:
            state[key] = noise * (gain / value[0].numel()) ** 0.5
    return state
