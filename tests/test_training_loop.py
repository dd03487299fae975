"""Both 3FabRec stages train through one loop (seeded epochs, iteration cap, time budget), report progress one
way (the run context's callback) and resume one way (`TrainingState`)."""

from __future__ import annotations

import pytest
import torch

from fabrec_bench.models import TrainingProgress
from fabrec_bench.runs import RunRequest, TrainingPlan, run_one
from fabrec_bench.schemes import WFLW98
from fabrec_bench.torch_helpers.loop import Curve, EpochLoop, TrainingState, fingerprint
from fabrec_bench_plugins.datasets.wflw import WFLWDataset
from fabrec_bench_plugins.models.fabrec.checkpoints import read_checkpoint


class Counter:
    """A trainer whose steps only count."""

    def __init__(self):
        self.iteration = 0
        self.w = torch.nn.Linear(1, 1)
        self.opt = torch.optim.Adam(self.w.parameters(), lr=0.1)

    def optimizers(self):
        return {"only": self.opt}

    def step(self, batch):
        self.iteration += 1
        return {"loss": 1.0 / self.iteration}


class Loader(list):
    generator = torch.Generator()


class Crops:
    def __init__(self):
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def batches(n):
    return Loader({"index": torch.arange(2)} for _ in range(n))


def test_the_loop_caps_iterations_reports_each_step_and_calls_every_epoch_end():
    trainer, seen, ends = Counter(), [], []
    loop = EpochLoop("toy", trainer, batches(3), Crops(), seed=0, epochs=4, iterations=7, progress=seen.append)
    result = loop.run(trainer.step, 0, lambda done, stopping: ends.append((done, stopping)))
    assert trainer.iteration == 7 and result.epochs_done == 4 and not result.stopped_by_time_budget
    assert [s.iteration for s in seen] == list(range(1, 8)) and {s.iterations for s in seen} == {7}
    assert [s.epoch for s in seen] == [1, 1, 1, 2, 2, 2, 3] and seen[0].stage == "toy"
    assert ends == [(1, False), (2, False), (3, False), (4, True)]
    assert [r["iteration"] for r in loop.curve.rows] == list(range(1, 8))
    assert "toy epoch 1/4, iteration 1/7: loss 1" in seen[0].describe()


def test_the_loop_starts_at_the_resumed_epoch_with_that_epochs_seeds():
    trainer, crops = Counter(), Crops()
    EpochLoop("toy", trainer, batches(2), crops, seed=3, epochs=5).run(trainer.step, 3)
    assert crops.epochs == [3, 4] and trainer.iteration == 4


@pytest.mark.parametrize("at_epoch_end", [False, True])
def test_a_time_budget_stops_within_an_epoch_or_at_its_end(at_epoch_end):
    trainer, ends = Counter(), []
    loop = EpochLoop("toy", trainer, batches(3), Crops(), seed=0, epochs=10, max_seconds=1e-9,
                     budget_at_epoch_end=at_epoch_end)
    result = loop.run(trainer.step, 0, lambda done, stopping: ends.append((done, stopping)))
    assert result.stopped_by_time_budget and ends == [(1, True)]
    assert trainer.iteration == (3 if at_epoch_end else 0)  # whole epochs for stage 1


def test_a_state_resumes_only_the_training_it_belongs_to(tmp_path):
    trainer, curve = Counter(), Curve()
    trainer.iteration = 5
    curve.add(iteration=5, epoch=1, loss=0.2)
    trainer.w.weight.data.fill_(3.0)
    TrainingState(tmp_path / "s.pt", fingerprint(a=1)).save(trainer.w, trainer, curve, 2, force=True)

    other = Counter()
    assert TrainingState(tmp_path / "s.pt", fingerprint(a=2)).restore(other.w, other, Curve()) == 0  # other config
    again, curve2 = Counter(), Curve()
    state = TrainingState(tmp_path / "s.pt", fingerprint(a=1))
    assert state.restore(again.w, again, curve2) == 2
    assert again.iteration == 5 and curve2.rows == curve.rows and float(again.w.weight.detach()) == 3.0
    state.finished()
    assert not (tmp_path / "s.pt").exists()


def test_a_state_is_saved_at_most_every_so_many_seconds(tmp_path):
    trainer = Counter()
    state = TrainingState(tmp_path / "s.pt", "f", every_seconds=3600)
    state.save(trainer.w, trainer, None, 1)
    assert not (tmp_path / "s.pt").exists()
    state.save(trainer.w, trainer, None, 1, force=True)
    assert (tmp_path / "s.pt").exists()


def stage1(samples, out, epochs, **kw):
    from fabrec_bench_plugins.models.fabrec.autoencoder import train_autoencoder

    return train_autoencoder(samples, WFLW98, out, input_size=128, epochs=epochs, batch_size=3, lr=1e-3,
                             device="cpu", precision="fp32", keep_every=0, **kw)


def test_stage1_reports_progress_and_continues_weights_when_its_optimiser_state_is_unusable(synthetic_wflw,
                                                                                               tmp_path):
    samples = WFLWDataset().load_split(synthetic_wflw, "train").samples[:6]
    seen: list[TrainingProgress] = []
    stage1(samples, tmp_path / "ae", 1, progress=seen.append)
    assert [s.iteration for s in seen] == [1, 2] and seen[-1].stage == "3fabrec stage 1"
    # An optimiser file from an older version (or interrupted between the two writes): the weights of epoch 1
    # are kept, training goes on with fresh optimisers, and nothing done is lost.
    (tmp_path / "ae/latest.optim.pt").write_bytes(b"not a state")
    with pytest.warns(UserWarning, match="continuing the weights of epoch 1"):
        summary = stage1(samples, tmp_path / "ae", 2)
    assert summary["epoch"] == 2 and read_checkpoint(tmp_path / "ae/latest.pt")[1]["epoch"] == 2


def test_a_run_reports_stage2_progress_to_its_callback(synthetic_wflw, tmp_path):
    seen: list[TrainingProgress] = []
    run_one(RunRequest(model="3fabrec", dataset="wflw", splits=("blur",), data_root=synthetic_wflw,
                       training=TrainingPlan(count=4), device="cpu",
                       model_options={"init": "scratch", "input_size": 128, "epochs": 2, "batch_size": 2,
                                      "eval_batch_size": 8, "precision": "fp32"}),
            tmp_path / "work", progress=seen.append)
    assert [s.iteration for s in seen] == [1, 2, 3, 4] and {s.stage for s in seen} == {"3fabrec stage 2"}
    assert {s.iterations for s in seen} == {4} and all("heatmap_mse_x300" in s.losses for s in seen)
