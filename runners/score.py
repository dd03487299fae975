"""`fabrec-bench score`: score landmarks produced by any other tool."""

from __future__ import annotations

from pathlib import Path

import click

from fabrec_bench import api
from fabrec_bench.plugins import get_registry
from fabrec_bench_runners.options import console, evaluation_json, metrics_table, protocol_options


@click.command("score")
@click.argument("predictions", type=click.Path(dir_okay=False))
@click.option("--dataset", "-d", required=True, help="Dataset name, e.g. wflw.")
@click.option("--split", "-s", required=True, help="Split the predictions are for.")
@click.option("--data-root", type=click.Path(), default=None, help="Dataset root folder.")
@click.option("--ignore-extra", is_flag=True, help="Ignore predictions for faces outside the split.")
@click.option("--store-as", "model_name", default=None,
              help="Also record the result in the results store under this model name.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON numbers.")
@protocol_options
@click.pass_obj
def score_command(obj, predictions, dataset, split, data_root, ignore_extra, model_name, as_json, protocol_overrides):
    """Score PREDICTIONS (CSV: id,image,x0,y0,...; or .npz with ids and landmarks) on DATASET/SPLIT."""
    registry = get_registry()
    protocol = api.protocol_for(registry.dataset(dataset), **protocol_overrides)
    evaluation = api.score_predictions(Path(predictions), dataset, split, data_root=data_root, protocol=protocol,
                                       ignore_extra=ignore_extra)
    run_id = None
    if model_name:
        run_id = api.store_scored(evaluation, work_dir=obj.work_dir, model=model_name, dataset=dataset,
                                  split=split, source=Path(predictions))
    if as_json:
        click.echo(evaluation_json(evaluation, dataset=dataset, split=split, predictions=str(predictions),
                                   run_id=run_id))
        return
    console.print(metrics_table(f"{predictions} on {dataset}/{split} ({len(evaluation.face_ids)} faces)",
                                evaluation, registry))
    if run_id is not None:
        console.print(f"stored as run {run_id} (model '{model_name}')")


COMMANDS = (score_command,)
