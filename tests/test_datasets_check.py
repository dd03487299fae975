"""`fabrec-bench datasets check` finds every planted fault, with file and line, and keeps going."""

import json

import pytest

from fabrec_bench.synth.formats import write_300w, write_affectnet
from fabrec_bench.synth.wflw import write_wflw

ANN = "WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt"


@pytest.fixture
def damaged_wflw(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged") / "WFLW"
    write_wflw(root, n_train=6, n_test=10, seed=5)
    ann = root / ANN
    lines = ann.read_text().splitlines()
    tokens = [line.split() for line in lines]
    tokens[1] = tokens[1][:150]  # truncated line
    tokens[2][7] = "nan"  # NaN coordinate
    tokens[3][-1] = "../../outside.jpg"  # escapes the root
    tokens[4][-1] = "0--Parade/gone.jpg"  # missing image
    tokens[5] = tokens[5][:194] + tokens[5][196:]  # wrong point count (97 points)
    ann.write_text("\n".join(" ".join(t) for t in tokens) + "\n")
    victim = root / "WFLW_images" / tokens[7][-1]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])  # corrupt (truncated) JPEG
    return root, victim


def test_check_reports_each_planted_fault(cli, damaged_wflw):
    root, victim = damaged_wflw
    result = cli("datasets", "check", "wflw", "--data-root", root, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    messages = [p["message"] for p in report["problems"]]
    path = str(root / ANN)
    assert any(m.startswith(f"{path}:2: expected 207 tokens, found 150") for m in messages)
    assert any(m.startswith(f"{path}:3: token 8 is nan") for m in messages)
    assert any(m.startswith(f"{path}:4: image path '../../outside.jpg' escapes") for m in messages)
    assert any(m.startswith(f"{path}:5: image") and "gone.jpg not found" in m for m in messages)
    assert any(m.startswith(f"{path}:6: expected 207 tokens, found 205") for m in messages)
    assert any(str(victim) in m and "truncated" in m for m in messages)
    assert report["problem_counts"] == {"malformed annotation": 3, "path escapes root": 1, "missing image": 1,
                                        "unreadable image": 1}
    assert report["faces"]["test"] == 5  # the good faces are all still there


def test_check_300w_wrong_point_count_and_missing_image(cli, tmp_path):
    root = tmp_path / "300w"
    write_300w(root, per_folder=2, seed=2)
    pts = sorted((root / "afw").glob("*.pts"))
    text = pts[0].read_text().splitlines()
    pts[0].write_text("\n".join(text[:1] + ["n_points:  67"] + text[2:5] + text[6:]))
    pts[1].with_suffix(".jpg").unlink()
    result = cli("datasets", "check", "300w", "--data-root", root)
    assert result.exit_code == 1
    out = result.output
    assert f"{pts[0]}:2: has 67 points" in out
    assert f"{pts[1]}: no image with the same name" in out


def test_clean_dataset_passes(cli, tmp_path):
    write_affectnet(tmp_path / "aff", train=4, validation=3, seed=1)
    result = cli("datasets", "check", "affectnet", "--data-root", tmp_path / "aff")
    assert result.exit_code == 0 and "no problems found" in result.output


def test_missing_layout_is_reported_not_raised(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("datasets", "check", "wflw", "--data-root", tmp_path / "empty", "--json")
    assert result.exit_code == 1 and json.loads(result.stdout)["problem_counts"] == {"layout": 1}
