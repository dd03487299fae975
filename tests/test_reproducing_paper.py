"""The README's "Reproducing the paper" commands run as written, on synthetic trees in the official layouts with
snapshots written in the original layout (random weights: this checks the commands and the protocol rows,
not accuracy)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from original_3fabrec import random_snapshot

from fabrec_bench.synth.formats import write_300w, write_aflw

README = Path(__file__).resolve().parent.parent / "README.md"


def paper_commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Reproducing the paper", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [shlex.split(line) for line in block.strip().splitlines()]


@pytest.mark.slow
def test_the_readme_commands_reproduce_under_both_protocols(cli, synthetic_wflw, tmp_path, monkeypatch):
    commands = paper_commands()
    assert all(c[0] == "fabrec-bench" for c in commands) and len(commands) == 7
    snapshots = tmp_path / "data" / "models" / "snapshots"
    for name, points, seed in (("lms_wflw", 98, 1), ("lms_300w", 68, 2), ("lms_aflw", 19, 3)):
        random_snapshot(snapshots / name, points, seed=seed)
    write_300w(tmp_path / "300W", per_folder=2, seed=4)
    write_aflw(tmp_path / "AFLW", faces=60, seed=5)
    monkeypatch.setenv("FABREC_BENCH_WFLW_ROOT", str(synthetic_wflw))
    monkeypatch.setenv("FABREC_BENCH_300W_ROOT", str(tmp_path / "300W"))
    monkeypatch.setenv("FABREC_BENCH_AFLW_ROOT", str(tmp_path / "AFLW"))
    monkeypatch.chdir(tmp_path)  # the commands name data/models/snapshots/... relative to here
    outputs = []
    for command in commands:
        result = cli(*command[1:])
        assert result.exit_code == 0, (command, result.output)
        outputs.append(result.output)
    board = outputs[-1]
    rows = [line for line in board.splitlines() if line.startswith("| 3fabrec")]
    paper_rows = [r for r in rows if "3fabrec-paper" in r]
    standard_rows = [r for r in rows if "| standard" in r]
    assert len(paper_rows) == 7 + 3 + 2 and len(standard_rows) == 1 + 3 + 2
    assert all("fabrec50" in r and "fp32" in r for r in paper_rows)
    assert any("| aflw " in r and "box-max" in r for r in paper_rows)
    assert any("| aflw " in r and "| box " in r for r in standard_rows)
    # the paper's own numbers sit in the table of its protocol, beside the measured rows, marked as published
    table = board.split("**300w (full): protocol 3fabrec-paper")[1].split("\n\n**")[0]
    assert "| 3fabrec " in table and "| *3FabRec* †1 " in table and "3.82" in table
