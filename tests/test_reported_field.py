"""The field's published numbers ship with fabrec-bench, each with the protocol that produced it and the line
it was read from, and show beside measured rows."""

from __future__ import annotations

from fabrec_bench.plugins import get_registry
from fabrec_bench.reports import reference


def test_every_field_number_names_its_protocol_and_its_source_line():
    protocols = set(get_registry().protocols)
    field = [r for r in reference.bundled() if r.model != "3FabRec"]
    assert {r.model for r in field} >= {"HRNetV2-W18 (HRNet-Facial)", "HRNetV2-W18 (mmpose)", "SPIGA", "ADNet",
                                        "AWing", "LUVLi"}
    for r in field:
        assert "line" in r.where and ("github.com/" in r.where), r
        # a number quoted from another project's table names no protocol of ours, and says so
        assert r.protocol in protocols or (r.protocol is None and "quotes it" in r.note), r
    # HRNet-Facial's README, WFLW row: test 4.60, pose 7.86 (README.md line 45 at f776dbe)
    wflw = {r.split: r.value for r in field if r.model == "HRNetV2-W18 (HRNet-Facial)" and r.dataset == "wflw"}
    assert wflw["test"] == 4.60 and wflw["pose"] == 7.86 and len(wflw) == 7


def test_leaderboard_shows_the_published_numbers_by_protocol(cli, synthetic_wflw):
    assert cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", synthetic_wflw).exit_code == 0
    text = cli("leaderboard", "-d", "wflw", "--format", "markdown").output
    reported = text.split("Reported in papers")[1]
    lines = [line for line in reported.splitlines() if "HRNetV2-W18" in line or "SPIGA" in line]
    protocols = [line.split("|")[7].strip() for line in lines]
    assert protocols == sorted(protocols) and {"hrnet", "mmpose", "spiga"} <= set(protocols)
