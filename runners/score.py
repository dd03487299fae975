"""`fabrec-bench score`: score landmarks produced by any other tool."""

from __future__ import annotations

import json
from pathlib import Path

import click

from fabrec_bench_runners.options import (
    console,
    evaluation_json,
    metrics_table,
    protocol_options,
    protocols_table,
)


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
def score_command(obj, predictions, dataset, split, data_root, ignore_extra, model_name, as_json, protocol):
    """Score PREDICTIONS (CSV: id,image,x0,y0,...; or .npz with ids and landmarks) on DATASET/SPLIT."""
    from fabrec_bench import api
    from fabrec_bench.plugins import get_registry
    from fabrec_bench.protocol import resolve_protocols

    registry = get_registry()
    protocols = resolve_protocols(api.get_adapter(dataset, registry=registry), registry, protocol.name, split,
                                  **protocol.overrides)
    evaluations = api.score_predictions_under(protocols, Path(predictions), dataset, split, data_root=data_root,
                                              ignore_extra=ignore_extra)
    run_ids = []
    if model_name:
        run_ids = [api.store_scored(e, work_dir=obj.work_dir, model=model_name, dataset=dataset, split=split,
                                    source=Path(predictions)) for e in evaluations]
    title = f"{predictions} on {dataset}/{split} ({len(evaluations[0].face_ids)} faces)"
    if as_json:
        docs = [json.loads(evaluation_json(e, dataset=dataset, split=split, predictions=str(predictions),
                                           run_id=run_ids[i] if run_ids else None))
                for i, e in enumerate(evaluations)]
        click.echo(json.dumps(docs[0] if len(docs) == 1 else docs, indent=2))
        return
    if len(evaluations) == 1:
        console.print(metrics_table(title, evaluations[0], registry))
    else:
        console.print(protocols_table(title, evaluations))
    if run_ids:
        console.print(f"stored as run(s) {', '.join(map(str, run_ids))} (model '{model_name}')")


COMMANDS = (score_command,)
