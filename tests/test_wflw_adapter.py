"""The WFLW adapter on hand-written files in the official layout."""

import numpy as np
import pytest
from wflw_fixture import landmarks, line, write_release

from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench_plugins.datasets.wflw import ATTRIBUTES, WFLWDataset

ADAPTER = WFLWDataset()


def test_reads_coordinates_boxes_flags_and_shared_images(tmp_path):
    written = write_release(tmp_path)
    test = ADAPTER.load_split(tmp_path, "test")
    assert test.ids == ["test/00000", "test/00001", "test/00002"]
    for sample, pts in zip(test.samples, written["test"], strict=True):
        assert np.allclose(sample.landmarks_px, pts, atol=5e-7)  # 6 decimals in the file
    assert test.samples[1].landmarks_px.min() < 0  # outside the image, kept as is
    assert test.samples[1].image_path == test.samples[2].image_path  # two faces, one image
    assert test.samples[0].box_px == (1, 2, 60, 45)
    assert test.samples[0].attributes == dict(zip(ATTRIBUTES, written["flags"][0], strict=True))
    assert len(ADAPTER.load_split(tmp_path, "train")) == 3


@pytest.mark.parametrize("subset, expected", [
    ("pose", ["test/00000", "test/00002"]), ("expression", ["test/00001", "test/00002"]),
    ("illumination", ["test/00000", "test/00002"]), ("make-up", ["test/00001", "test/00002"]),
    ("occlusion", ["test/00000", "test/00002"]), ("blur", ["test/00001", "test/00002"]),
])
def test_attribute_subsets_keep_the_test_ids(tmp_path, subset, expected):
    write_release(tmp_path)
    assert ADAPTER.load_split(tmp_path, subset).ids == expected


def bad_lines():
    good = line(landmarks(1))
    tokens = good.split()
    return {
        "expected 207 tokens, found 206": " ".join(tokens[:-2] + tokens[-1:]),
        "value 'abc' is not a number": " ".join(["abc"] + tokens[1:]),
        "token 5 is nan": " ".join(tokens[:4] + ["nan"] + tokens[5:]),
        "escapes": " ".join(tokens[:-1] + ["../../etc/passwd"]),
        "not found": " ".join(tokens[:-1] + ["0--Parade/missing.jpg"]),
        "attribute 'blur' is '2'": " ".join(tokens[:205] + ["2", tokens[-1]]),
        "has no area": " ".join(tokens[:196] + ["10", "10", "5", "40"] + tokens[200:]),
    }


@pytest.mark.parametrize("reason", list(bad_lines()))
def test_malformed_line_names_file_and_line(tmp_path, reason):
    good = line(landmarks(1))
    write_release(tmp_path, test_lines=[good, bad_lines()[reason], good])
    with pytest.raises(AnnotationError) as info:
        ADAPTER.load_split(tmp_path, "test")
    assert info.value.line_no == 2
    assert "list_98pt_rect_attr_test.txt:2:" in str(info.value)
    assert reason in str(info.value)


def test_skip_bad_skips_and_counts_but_keeps_ids_stable(tmp_path, capsys):
    write_release(tmp_path, test_lines=[line(landmarks(1)), bad_lines()["token 5 is nan"], line(landmarks(2))])
    split = ADAPTER.load_split(tmp_path, "test", skip_bad=True)
    assert split.ids == ["test/00000", "test/00002"]
    assert split.skipped == 1
    assert "skipped 1 malformed line(s)" in capsys.readouterr().err


def test_missing_layout_is_a_one_line_error(tmp_path):
    with pytest.raises(DatasetError, match="WFLW_images.*not found below root"):
        ADAPTER.check_root(tmp_path, "--data-root")
