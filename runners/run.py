"""`fabrec-bench run` and `fabrec-bench eval`: train (if needed), evaluate, store, show the result."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fabrec_bench.choices import TRAIN_SELECTIONS
from fabrec_bench_runners.options import (
    console,
    evaluation_json,
    metrics_table,
    parse_options,
    parse_pairs,
    protocol_options,
    protocols_table,
)


def _common(f):
    options = [
        click.option("--model", "-m", required=True, help="Model name (see `fabrec-bench plugins`)."),
        click.option("--dataset", "-d", required=True, help="Dataset name, e.g. wflw."),
        click.option("--split", "-s", "splits", required=True, multiple=True,
                     help="Split to evaluate, e.g. test or make-up; repeat it to train once and evaluate on several."),
        click.option("--data-root", type=click.Path(), default=None, help="Dataset root folder."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--skip-bad", is_flag=True, help="Skip malformed annotation lines (counted in a warning)."),
        click.option("--dataset-option", "dataset_options", multiple=True, metavar="KEY=VALUE",
                     help="Dataset adapter option, e.g. annotation_boxes=detector for 300-W (repeatable; "
                          "`fabrec-bench datasets info NAME` lists a dataset's options)."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as JSON."),
        click.option("--precision", type=click.Choice(["fp32", "bf16", "fp16", "auto"]), default=None,
                     help="Inference precision (default fp32: exact, as the original computes; bf16/fp16 are faster "
                          "where the hardware has them; auto picks bf16 only where it is native). Recorded with "
                          "the result."),
        click.option("--config", "config_pairs", multiple=True, metavar="KEY=VALUE",
                     help="Model option (repeatable; `fabrec-bench models info MODEL` lists them with their types, "
                          "defaults and help)."),
        click.option("--label", default=None,
                     help="A name for this configuration, shown in leaderboards and plots, to tell two "
                          "configurations of one model apart."),
        protocol_options,
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _show(ctx_obj, outcomes, model, dataset, splits, as_json):
    from fabrec_bench.plugins import get_registry

    registry = get_registry()
    if not outcomes:  # a helper process under torchrun: rank 0 evaluates and stores
        return
    if as_json:
        docs = [json.loads(evaluation_json(evaluation, run_id=run_id, run=o.uid, model=model, dataset=dataset,
                                           split=split, run_dir=str(o.run_dir)))
                for o, split in zip(outcomes, splits, strict=True)
                for run_id, evaluation in [(o.run_id, o.evaluation), *o.also]]
        click.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return
    for outcome, split in zip(outcomes, splits, strict=True):
        title = f"{model} on {dataset}/{split} ({len(outcome.evaluation.face_ids)} faces)"
        if outcome.also:
            console.print(protocols_table(title, [outcome.evaluation, *(e for _, e in outcome.also)]))
        else:
            console.print(metrics_table(title, outcome.evaluation, registry))
        if outcome.crop_rule:
            console.print(f"crops: {outcome.crop_rule}")
        if outcome.evaluation.normaliser_source:
            console.print(f"normaliser: {outcome.evaluation.normaliser_source}")
        console.print(f"stored as run {outcome.run_id} in {ctx_obj.work_dir / 'results.sqlite'}; "
                      f"predictions in {outcome.run_dir / 'predictions.csv'}")


def _request(model, dataset, splits, data_root, device, skip_bad, dataset_options, precision, config_pairs, label,
             protocol, **extra):
    from fabrec_bench import runs

    return runs.RunRequest(model=model, dataset=dataset, splits=tuple(splits), model_options=parse_pairs(config_pairs),
                           dataset_options=parse_options(dataset_options), protocol=protocol, precision=precision,
                           device=device, label=label, data_root=data_root, skip_bad=skip_bad, **extra)


@click.command("run")
@_common
@click.option("--train-split", default=None, help="Split to train on (default: the dataset's training split).")
@click.option("--train-count", type=int, default=None, help="Train on N faces (see --train-selection).")
@click.option("--train-selection", type=click.Choice(TRAIN_SELECTIONS), default="random", show_default=True,
              help="Which N faces: drawn at random with --seed, or the first N in annotation order (the original "
                   "3FabRec's --train-count). Recorded with the result.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for subset choice and training.")
@click.pass_obj
def run_command(obj, model, dataset, splits, data_root, device, skip_bad, dataset_options, as_json, precision,
                config_pairs, label, protocol, train_split, train_count, train_selection, seed):
    """Train MODEL if it needs training, evaluate it on DATASET/SPLIT and store the result."""
    from fabrec_bench import runs
    from fabrec_bench.errors import UserError
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.progress import training_progress

    caps = get_registry().model(model).capabilities
    if train_count is not None and not caps.needs_training:
        how = "evaluates released checkpoints (eval --checkpoint)" if caps.needs_checkpoint else "is pretrained"
        raise UserError(f"model '{model}' {how}: it is not trained here, so --train-count does not apply")

    request = _request(model, dataset, splits, data_root, device, skip_bad, dataset_options, precision, config_pairs,
                       label, protocol, training=runs.TrainingPlan(count=train_count, selection=train_selection,
                                                                   seed=seed, split=train_split))
    with training_progress(console, f"[bold]{model}[/] on {dataset}/{', '.join(splits)}: loading, training, "
                           "evaluating…") as progress:
        outcomes = runs.execute(request, obj.work_dir, progress=progress)
    _show(obj, outcomes, model, dataset, splits, as_json)


@click.command("eval")
@_common
@click.option("--checkpoint", type=click.Path(exists=True, dir_okay=True), required=True,
              help="Checkpoint written by `run` (in the run's folder) or by the model's own tools.")
@click.pass_obj
def eval_command(obj, model, dataset, splits, data_root, device, skip_bad, dataset_options, as_json, precision,
                 config_pairs, label, protocol, checkpoint):
    """Evaluate a trained MODEL from a checkpoint (ours, or a released 3FabRec snapshot folder) on
    DATASET/SPLIT and store the result."""
    from fabrec_bench import runs

    request = _request(model, dataset, splits, data_root, device, skip_bad, dataset_options, precision, config_pairs,
                       label, protocol, checkpoint=Path(checkpoint))
    with console.status(f"[bold]{model}[/] from {checkpoint} on {dataset}/{', '.join(splits)}…"):
        outcomes = runs.execute(request, obj.work_dir)
    _show(obj, outcomes, model, dataset, splits, as_json)


COMMANDS = (run_command, eval_command)
