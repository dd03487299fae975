"""The field's published numbers ship with fabrec-bench, each with the protocol that produced it and the line
it was read from, and show beside measured rows."""

from __future__ import annotations

import re

from fabrec_bench.plugins import get_registry
from fabrec_bench.reports import reference


def test_every_field_number_names_its_protocol_and_its_source_line():
    protocols = set(get_registry().protocols)
    field = [r for r in reference.bundled() if r.model != "3FabRec"]
    assert {r.model for r in field} >= {"HRNetV2-W18 (HRNet-Facial)", "HRNetV2-W18 (mmpose)", "SPIGA", "ADNet",
                                        "AWing", "LUVLi", "2D-FAN", "STAR", "PIPNet (ResNet-101)", "SLPT"}
    for r in field:
        # a repository's line, or a results page named with how it was read (Papers with Code and its archive)
        assert ("line" in r.where and "github.com/" in r.where) or "read through the search tool" in r.where, r
        # a number quoted from another project's table names no protocol of ours, and says so
        assert r.protocol in protocols or (r.protocol is None and "quotes it" in r.note), r
    # HRNet-Facial's README, WFLW row: test 4.60, pose 7.86 (README.md line 45 at f776dbe)
    wflw = {r.split: r.value for r in field if r.model == "HRNetV2-W18 (HRNet-Facial)" and r.dataset == "wflw"}
    assert wflw["test"] == 4.60 and wflw["pose"] == 7.86 and len(wflw) == 7
    # the Papers with Code archive's PIPNet (ResNet-101) entries: WFLW 4.31, 300-W full 3.19, COFW 3.08
    pipnet = {(r.dataset, r.split): r.value for r in field if r.model == "PIPNet (ResNet-101)"}
    assert pipnet[("wflw", "test")] == 4.31 and pipnet[("300w", "full")] == 3.19 and pipnet[("cofw", "test")] == 3.08


def test_a_number_under_a_protocol_uses_that_protocols_normaliser_and_threshold():
    """A published number filed under one of our protocols is comparable with that protocol's measured rows:
    same normaliser on that dataset and split, FR and AUC at one of its thresholds; a known difference (mmpose
    0.x's AFLW box) is said in the row's note."""
    protocols = get_registry().protocols
    checked = 0
    for r in reference.bundled():
        protocol = protocols.get(r.protocol) if r.protocol else None
        if protocol is None or protocol.from_dataset or not protocol.applies_to(r.dataset):
            continue
        rule = protocol.rule(r.dataset, r.split)
        assert r.normaliser == rule.normaliser or "protocol follows" in r.note, r
        if r.metric != "nme":
            assert r.threshold in (rule.threshold, protocol.second_threshold), r
        checked += 1
    assert checked > 50


def test_leaderboard_shows_the_published_numbers_by_protocol(cli, synthetic_wflw):
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw).exit_code == 0
    text = cli("leaderboard", "-d", "wflw", "--format", "markdown", "--reported-format", "long").output
    reported = text.split("Reported in papers")[1]
    lines = [line for line in reported.splitlines() if "HRNetV2-W18" in line or "SPIGA" in line]
    protocols = [line.split("|")[7].strip() for line in lines]
    assert protocols == sorted(protocols) and {"hrnet", "mmpose", "spiga"} <= set(protocols)


def test_leaderboard_protocol_all_sets_every_released_model_beside_the_published_numbers(cli, synthetic_wflw,
                                                                                          tmp_path):
    """Random weights in each model's released layout stand in for the downloads; every model's predictions are
    scored under every protocol defining the dataset, and the table keeps measured and reported rows apart."""
    import test_fan
    import test_hrnet
    import test_pipnet
    import test_star
    import torch

    _, pipnet = test_pipnet.checkpoint(tmp_path, "wflw", "resnet18", seed=1)
    _, hrnet = test_hrnet.checkpoint(tmp_path, "wflw", seed=2)
    torch.save(test_star.checkpoint_dict(test_star.original_net(98, seed=3)[1]), tmp_path / "star.pkl")
    torch.save(test_fan.original_net(seed=4)[1], tmp_path / "2DFAN4.pth.tar")
    runs = [("pipnet", pipnet, "wflw"), ("hrnet", hrnet, "wflw"), ("star", tmp_path / "star.pkl", "wflw"),
            ("fan", tmp_path / "2DFAN4.pth.tar", "wflw68")]
    for model, path, dataset in runs:
        fast = ["--config", "flip=false"] if model == "fan" else []  # one network pass per face
        result = cli("eval", "-m", model, "--checkpoint", path, "-d", dataset, "-s", "test", "--protocol", "all",
                     "--data-root", synthetic_wflw, "--device", "cpu", *fast)
        assert result.exit_code == 0, (model, result.output)
    text = cli("leaderboard", "-d", "wflw", "--protocol", "all", "--format", "markdown", "--reported-format",
               "long").output
    measured, reported = text.split("Reported in papers")
    measured = measured.split("**wflw (test): ")[0]  # the measured tables, before the paper tables
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in measured.splitlines() if line.startswith("| ")]
    by_protocol: dict[str, set[str]] = {}
    for cells in rows:
        if cells[0] != "model":
            by_protocol.setdefault(cells[-2], set()).add(cells[0])
    for protocol in ("standard", "hrnet", "star", "pipnet", "spiga", "mmpose"):
        assert by_protocol[protocol] == {"pipnet", "hrnet", "star"}, protocol
    published = {line.split("|")[1].strip() for line in reported.splitlines() if line.startswith("| ")}
    assert {"HRNetV2-W18 (HRNet-Facial)", "HRNetV2-W18 (mmpose)", "SPIGA", "ADNet", "PIPNet (ResNet-101)",
            "STAR"} <= published
    assert not published & {"pipnet", "hrnet", "star"}  # measured rows never among the reported ones
    # the paper table of the star protocol sets the measured models and the published STAR row together
    paper = text.split("**wflw (test): protocol star")[1].split("\n\n**")[0]
    assert all(re.search(rf"^\| {m} +\|", paper, re.M) for m in ("pipnet", "hrnet", "star")) and "| *STAR* †" in paper
    text68 = cli("leaderboard", "-d", "wflw68", "--protocol", "all", "--format", "markdown").output
    assert "| fan " in text68.split("Reported in papers")[0]
