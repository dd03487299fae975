"""The `fabrec-bench` command group: global options, error handling, and command registration."""

from __future__ import annotations

import sys
import traceback

import click

from fabrec_bench.config import resolve_work_dir
from fabrec_bench.errors import UserError
from fabrec_bench.files import printable_path


class Context:
    """Options shared by every command."""

    def __init__(self, work_dir: str | None, debug: bool):
        self._work_dir = work_dir
        self.debug = debug

    @property
    def work_dir(self):
        return resolve_work_dir(self._work_dir)


class FabrecGroup(click.Group):
    """Turns user errors into one line on stderr and exit code 2; tracebacks only with --debug."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as e:
            if _debug_requested(ctx):
                traceback.print_exc()
            click.echo(f"Error: {printable_path(str(e))}", err=True)
            sys.exit(e.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except Exception as e:
            if _debug_requested(ctx):
                raise
            click.echo(f"Error: {type(e).__name__}: {printable_path(str(e))} (run with --debug for the traceback)", err=True)
            sys.exit(1)


def _debug_requested(ctx) -> bool:
    obj = ctx.obj
    return bool(getattr(obj, "debug", False)) or "--debug" in sys.argv


@click.group(cls=FabrecGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="Where results.sqlite, predictions and checkpoints go "
                   "[env FABREC_BENCH_WORK_DIR; default ./fabrec-results].")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="fabrec-bench")
@click.pass_context
def cli(ctx, work_dir, debug):
    """fabrec-bench: train and evaluate face-alignment models on the standard benchmarks."""
    ctx.obj = Context(work_dir, debug)


def _register_commands() -> None:
    from fabrec_bench_runners import (
        datasets,
        demo,
        leaderboard,
        matrix,
        models,
        plot,
        plugins,
        predict,
        protocols,
        results,
        run,
        score,
        show,
        synth,
    )

    for module in (run, matrix, score, predict, show, datasets, models, protocols, leaderboard, plot, results,
                   plugins, synth, demo):
        for command in module.COMMANDS:
            cli.add_command(command)
    from fabrec_bench.plugins import get_registry

    registry = get_registry()
    for impl in registry.pm.hook.fabrec_bench_register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as e:  # a broken plugin command must not take the CLI down
            info = next((p for p in registry.plugins if p.name == registry.pm.get_name(impl.plugin)), None)
            if info is not None:
                info.errors.append(f"fabrec_bench_register_commands raised {type(e).__name__}: {e}")


_register_commands()


def main() -> None:
    """Entry point of the `fabrec-bench` script."""
    cli(prog_name="fabrec-bench")
