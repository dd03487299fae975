"""How a training's progress is drawn: one rich progress bar fed by the run context's progress callback.

Models report every step as a `fabrec_bench.models.TrainingProgress`; commands that train open
`training_progress()` and put the callback it yields in the run context (or hand it to a stage-1 training).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from fabrec_bench.models import TrainingProgress


@contextmanager
def training_progress(console=None, title: str | None = None) -> Iterator[Callable[[TrainingProgress], None]]:
    """A progress display (removed when done): `title` on a first line while the block runs, then one bar per
    training stage reported to the yielded callback."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = console or Console()
    if not console.is_terminal:  # output to a file or pipe: no bar (its control codes would end up there)
        yield lambda step: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        tasks: dict[str, int] = {}
        if title:
            bar.add_task(title, total=None)

        def report(step: TrainingProgress) -> None:
            if step.stage not in tasks:
                tasks[step.stage] = bar.add_task(step.stage, total=step.iterations)
            bar.update(tasks[step.stage], completed=step.iteration, total=step.iterations,
                       description=step.describe())

        yield report
