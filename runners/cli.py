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


# Every built-in command: (module under fabrec_bench_runners, index in its COMMANDS, one-line help). The CLI
# imports a command's module only when that command runs or draws its own --help, so `fabrec-bench --help`
# imports neither NumPy, torch, OpenCV, pandas nor matplotlib (tests/test_startup.py checks the help lines
# against the commands themselves).
BUILTIN_COMMANDS: dict[str, tuple[str, int, str]] = {
    "run": ("run", 0, "Train MODEL if it needs training, evaluate it on DATASET/SPLIT and store the result."),
    "eval": ("run", 1, "Evaluate a trained MODEL from a checkpoint (ours, or a released 3FabRec snapshot folder) on "
                       "DATASET/SPLIT and store the result."),
    "matrix": ("matrix", 0, "Run every cell of SPEC not yet finished in the results store; failed cells are listed "
                            "at the end."),
    "score": ("score", 0, "Score PREDICTIONS (CSV: id,image,x0,y0,...; or .npz with ids and landmarks) on "
                          "DATASET/SPLIT."),
    "predict": ("predict", 0, "Find the faces in images (files or folders) and predict their landmarks with MODEL; "
                              "write them in image pixels (CSV and JSON) and draw them on each image."),
    "show": ("show", 0, "Draw a stored run's faces: each crop with the ground truth (green) and the prediction "
                        "(blue), and the face's NME (inner / outer / all) in the corner; select the run by RUN_ID "
                        "or by the leaderboard's filters."),
    "datasets": ("datasets", 0, "List the installed datasets (or use a subcommand: info, export)."),
    "models": ("models", 0, "List the installed models (or `models info NAME`)."),
    "protocols": ("protocols", 0, "List the named evaluation protocols (`--protocol NAME` on run, eval and score)."),
    "leaderboard": ("leaderboard", 0, "Show finished runs beside the field's published numbers, one table per "
                                      "dataset and protocol as a paper prints it."),
    "plot": ("plot", 0, "Figures from stored results (PNG, SVG or PDF by the file extension)."),
    "results": ("results", 0, "Export finished runs to JSON lines, or merge runs from another machine."),
    "plugins": ("plugins", 0, "List plugins with the datasets (splits, landmark counts), models and metrics they "
                              "register."),
    "synth": ("synth", 0, "Generate synthetic faces in an official dataset layout."),
    "demo": ("demo", 0, "Generate synthetic WFLW, run the demo matrix on every WFLW test split, write leaderboards "
                        "and plots."),
    "autoencoder": ("autoencoder", 0, "Stage 1 of 3FabRec: train the adversarial autoencoder on unlabeled faces "
                                      "(resumes by default)."),
    "autoencoder-show": ("autoencoder", 1, "A finished (or released) 3FabRec autoencoder's pictures, as its "
                                           "training draws them each epoch: reconstructions with SSIM and pixel "
                                           "error, random faces from the prior, interpolations, and the "
                                           "structural loss's error maps."),
}


class LazyGroup(FabrecGroup):
    """The command group: built-in commands are imported when used; plugin commands
    (fabrec_bench_register_commands) when a plugin that may add some is installed, or a name is not built in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._plugins_added = False

    def list_commands(self, ctx) -> list[str]:
        if _third_party_plugins():
            self._add_plugin_commands()
        return sorted({*BUILTIN_COMMANDS, *self.commands})

    def get_command(self, ctx, name: str):
        if name in self.commands:
            return self.commands[name]
        if name in BUILTIN_COMMANDS:
            import importlib

            module, index, _ = BUILTIN_COMMANDS[name]
            command = importlib.import_module(f"fabrec_bench_runners.{module}").COMMANDS[index]
            self.add_command(command, name)
            return command
        self._add_plugin_commands()
        return self.commands.get(name)

    def format_commands(self, ctx, formatter) -> None:
        """The command list from the one-line helps above (no built-in command module is imported)."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in BUILTIN_COMMANDS and name not in self.commands:
                rows.append((name, click.utils.make_default_short_help(BUILTIN_COMMANDS[name][2], limit)))
            elif not self.commands[name].hidden:
                rows.append((name, self.commands[name].get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _add_plugin_commands(self) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from fabrec_bench.plugins import get_registry

        registry = get_registry()
        for impl in registry.pm.hook.fabrec_bench_register_commands.get_hookimpls():
            try:
                impl.function(cli=self)
            except Exception as e:  # a broken plugin command must not take the CLI down
                info = next((p for p in registry.plugins if p.name == registry.pm.get_name(impl.plugin)), None)
                if info is not None:
                    info.errors.append(f"fabrec_bench_register_commands raised {type(e).__name__}: {e}")


def _third_party_plugins() -> bool:
    """Whether an installed package that the environment lets load names a fabrec-bench plugin (read from its
    metadata: nothing is imported)."""
    from fabrec_bench.plugin_entry_points import allowed_entry_points

    return bool(allowed_entry_points())


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--work-dir", type=click.Path(file_okay=False), default=None,
              help="Where results.sqlite, predictions and checkpoints go "
                   "[env FABREC_BENCH_WORK_DIR; default ./fabrec-results].")
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.version_option(package_name="fabrec-bench")
@click.pass_context
def cli(ctx, work_dir, debug):
    """fabrec-bench: train and evaluate face-alignment models on the standard benchmarks."""
    ctx.obj = Context(work_dir, debug)


def main() -> None:
    """Entry point of the `fabrec-bench` script."""
    cli(prog_name="fabrec-bench")
