"""The CLI starts without torch and OpenCV: --help, plugins, datasets, models, leaderboard and score import
them only when they need them (benchmarks/cli_startup.py prints the time)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import sys
from fabrec_bench_runners.cli import cli
try:
    cli(sys.argv[1:], prog_name="fabrec-bench")
except SystemExit as e:
    code = e.code
else:
    code = 0
print("IMPORTED", "torch" in sys.modules, "cv2" in sys.modules, code, file=sys.stderr)
"""


def imported(*args, cwd=None) -> tuple[bool, bool, str]:
    result = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], capture_output=True, text=True,
                            timeout=120, cwd=cwd)
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("IMPORTED"))
    _, torch, cv2, code = line.split()
    return torch == "True", cv2 == "True", code


@pytest.mark.parametrize("command", [["--help"], ["plugins"], ["datasets"], ["models"], ["protocols"], ["datasets", "info", "wflw"],
                                     ["leaderboard", "--help"], ["run", "--help"]])
def test_light_commands_import_neither_torch_nor_opencv(command, tmp_path):
    torch, cv2, _ = imported(*command, cwd=tmp_path)
    assert (torch, cv2) == (False, False)


HEAVY = ("numpy", "torch", "cv2", "pandas", "matplotlib", "rich.progress")


def imported_modules(*args, cwd=None) -> set[str]:
    """Every module `python -X importtime -m fabrec_bench_runners ARGS` imported (its import-time lines)."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "fabrec_bench_runners", *map(str, args)],
                            capture_output=True, text=True, timeout=120, cwd=cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


def every_help_command() -> list[list[str]]:
    """The top level, every command and every subcommand of a command group."""
    import click

    from fabrec_bench_runners.cli import BUILTIN_COMMANDS, cli

    ctx = click.Context(cli)
    paths: list[list[str]] = [[]]
    for name in BUILTIN_COMMANDS:
        command = cli.get_command(ctx, name)
        paths.append([name])
        if isinstance(command, click.Group):
            paths += [[name, sub] for sub in command.list_commands(ctx)]
    return paths


def test_no_help_imports_numpy_torch_opencv_pandas_matplotlib_or_rich_progress(tmp_path):
    paths = every_help_command()
    assert len(paths) > 25  # the commands and the groups' subcommands were found
    for path in paths:
        modules = imported_modules(*path, "--help", cwd=tmp_path)
        assert "fabrec_bench_runners.cli" in modules  # the probe sees the CLI's own imports
        heavy = sorted(m for m in modules if m in HEAVY)
        assert not heavy, f"fabrec-bench {' '.join(path)} --help imports {heavy}"
    # the probe would see one: a command that runs imports NumPy
    assert "numpy" in imported_modules("protocols", "show", "hrnet", cwd=tmp_path)


def test_the_command_list_says_what_each_command_says_of_itself():
    import click

    from fabrec_bench_runners.cli import BUILTIN_COMMANDS, cli

    for name, (_, _, line) in BUILTIN_COMMANDS.items():
        command = cli.get_command(click.Context(cli), name)
        assert command.name == name and command.get_short_help_str(limit=10_000) == line, name


def test_score_and_leaderboard_stay_light(synthetic_wflw, tmp_path):
    from fabrec_bench.predictions import write_landmarks_csv
    from fabrec_bench_plugins.datasets.wflw import WFLWDataset

    split = WFLWDataset().load_split(synthetic_wflw, "test")
    write_landmarks_csv(tmp_path / "p.csv", split.ids, [str(s.image_path) for s in split.samples], split.landmarks())
    work = tmp_path / "work"
    torch, cv2, code = imported("--work-dir", work, "score", tmp_path / "p.csv", "-d", "wflw", "-s", "test",
                                "--data-root", synthetic_wflw, "--store-as", "gt", cwd=tmp_path)
    assert code == "0" and (torch, cv2) == (False, False)
    torch, cv2, code = imported("--work-dir", work, "leaderboard", cwd=tmp_path)
    assert code == "0" and (torch, cv2) == (False, False)
    # A model that needs torch still gets it when it runs.
    torch, _, _ = imported("models", "info", "3fabrec", cwd=tmp_path)
    assert torch


def test_the_startup_benchmark_prints_its_figure():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cli_startup.py"), "--runs", "2"],
                            capture_output=True, text=True, timeout=120, check=True)
    assert "fabrec-bench --help: median" in result.stdout and "x a bare `python -c pass`" in result.stdout
    assert "imported none of numpy, torch, cv2, pandas, matplotlib, rich.progress" in result.stdout
