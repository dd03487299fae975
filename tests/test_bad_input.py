"""The bad-input catalogue (README: "What bad input looks like"): each case breaks one thing a user could
get wrong, runs the CLI as a user would, and checks the contract: exit code 2, one line naming the
file/line/value at fault, no traceback (unless --debug), and nothing already stored lost or altered."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from fabrec_bench.synth.formats import write_300w
from fabrec_bench.synth.wflw import write_wflw

TEST_LIST = Path("WFLW_annotations/list_98pt_rect_attr_train_test/list_98pt_rect_attr_test.txt")


@dataclass
class Case:
    name: str
    # (tmp folder with a copy of synthetic WFLW at ./WFLW, synthetic 300-W at ./300W) -> CLI arguments
    setup: Callable[[Path], list]
    expect: str  # a fragment of the one-line error


def edit_line(root: Path, n: int, change: Callable[[list[str]], list[str]]) -> None:
    path = root / "WFLW" / TEST_LIST
    lines = path.read_text().splitlines()
    lines[n - 1] = " ".join(change(lines[n - 1].split()))
    path.write_text("\n".join(lines) + "\n")


def run_wflw(root: Path, *extra) -> list:
    return ["run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "--data-root", root / "WFLW", "--train-count", "5",
            *extra]


def run_pixels(root: Path) -> list:
    """A run whose model reads the pixels (a one-batch 3FabRec), for image problems."""
    config = ["init=scratch", "input_size=128", "iterations=1", "batch_size=4", "eval_batch_size=8", "precision=fp32"]
    return ["run", "-m", "3fabrec", *run_wflw(root)[3:], *(x for c in config for x in ("--config", c))]


def first_image(root: Path) -> Path:
    name = (root / "WFLW" / TEST_LIST).read_text().split("\n")[0].split()[-1]
    return root / "WFLW" / "WFLW_images" / name


def with_line(change):
    def setup(root):
        edit_line(root, 1, change)
        return run_wflw(root)
    return setup


def replace_image(data: bytes):
    def setup(root):
        first_image(root).write_bytes(data)
        return run_pixels(root)
    return setup


def box(values):  # tokens 196..199 are the box
    def change(t):
        t[196:200] = [str(v) for v in values]
        return t
    return change


def predictions(root: Path, rows: list[str], header: str | None = None) -> Path:
    from fabrec_bench import api

    split = api.load_split("wflw", "test", data_root=root / "WFLW")
    cols = ",".join(f"x{i},y{i}" for i in range(98))
    lines = [header or f"id,image,{cols}"]
    for s in split.samples:
        lines.append(",".join([s.id, str(s.image_path), *(f"{v:.3f}" for v in s.landmarks_px.ravel())]))
    path = root / "pred.csv"
    path.write_text("\n".join(rows(lines) if callable(rows) else lines) + "\n")
    return path


def score(root, rows, header=None):
    return ["score", predictions(root, rows, header), "-d", "wflw", "-s", "test", "--data-root", root / "WFLW"]


def spec(root: Path, text: str) -> list:
    (root / "spec.toml").write_text(text)
    return ["matrix", root / "spec.toml"]


MATRIX = '[matrix]\nseeds = [0]\n\n[[matrix.models]]\nname = "mean-shape"\n\n[[matrix.datasets]]\nname = "wflw"\nsplits = ["test"]\n'


def pts(root: Path, points: int, closing: bool = True) -> list:
    path = next((root / "300W" / "helen" / "testset").glob("*.pts"))
    body = "\n".join("10.0 20.0" for _ in range(points))
    path.write_text(f"version: 1\nn_points: {points}\n{{\n{body}\n" + ("}\n" if closing else ""))
    return ["run", "-m", "mean-shape", "-d", "300w", "-s", "common", "--data-root", root / "300W"]


def non_utf8_name(root: Path) -> list:
    import os

    folder = root / "300W" / "helen" / "testset"
    stem = sorted(folder.glob("*.pts"))[0].stem
    for path in folder.glob(f"{stem}.*"):
        os.rename(bytes(path), bytes(folder) + b"/\xff" + path.name.encode())
    return ["run", "-m", "mean-shape", "-d", "300w", "-s", "common", "--data-root", root / "300W"]


def checkpoint(root: Path, make: Callable[[Path], Path], model="mean-shape", dataset="wflw") -> list:
    path = make(root)
    return ["eval", "-m", model, "-d", dataset, "-s", "test", "--data-root", root / "WFLW", "--checkpoint", path]


def mean_shape_68(root: Path) -> Path:
    from fabrec_bench.schemes import IBUG68
    from fabrec_bench_plugins.models.mean_shape import MeanShapeModel

    model = MeanShapeModel(IBUG68, {})
    model.mean_shape = np.zeros((68, 2))
    model.save(root / "ms68.npz")
    return root / "ms68.npz"


def truncated_npz(root: Path) -> Path:
    path = mean_shape_68(root)
    path.write_bytes(path.read_bytes()[:100])
    return path


def pickled_npz(root: Path) -> Path:
    np.savez(root / "evil.npz", mean_shape=np.array([{"x": 1}], dtype=object), meta=np.array("{}"))
    return root / "evil.npz"


def malicious_pt(root: Path) -> Path:
    import pickle

    class Boom:
        def __reduce__(self):
            return (print, ("pwned",))

    import torch

    path = root / "evil.pt"
    torch.save({"format": "x", "payload": Boom()}, path, pickle_module=pickle)
    return path


def fabrec_256(root: Path) -> Path:
    import torch

    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    torch.manual_seed(0)
    path = root / "ae256.pt"
    save_checkpoint(path, Fabrec(98, 256), {"stage": "autoencoder", "epoch": 1, "iteration": 1, "input_size": 256})
    return path


def fabrec_68(root: Path) -> Path:
    import torch

    from fabrec_bench_plugins.models.fabrec.checkpoints import save_checkpoint
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    torch.manual_seed(0)
    path = root / "lm68.pt"
    save_checkpoint(path, Fabrec(68, 128), {"stage": "landmarks", "scheme": "ibug68", "num_points": 68,
                                            "input_size": 128, "config": {}, "history": {}})
    return path


CASES = [
    # -- annotation files (WFLW) --
    Case("truncated annotation line", with_line(lambda t: t[:150]), "list_98pt_rect_attr_test.txt:1:"),
    Case("over-long annotation line", with_line(lambda t: t + ["1", "2"]), "list_98pt_rect_attr_test.txt:1:"),
    Case("NaN coordinate", with_line(lambda t: ["nan", *t[1:]]), "list_98pt_rect_attr_test.txt:1:"),
    Case("inf coordinate", with_line(lambda t: [t[0], "inf", *t[2:]]), "list_98pt_rect_attr_test.txt:1:"),
    Case("coordinate that is not a number", with_line(lambda t: ["12,5", *t[1:]]), "list_98pt_rect_attr_test.txt:1:"),
    Case("attribute flag out of range", with_line(lambda t: [*t[:200], "7", *t[201:]]),
         "list_98pt_rect_attr_test.txt:1:"),
    Case("empty split", lambda r: ((r / "WFLW" / TEST_LIST).write_text(""), run_wflw(r))[1], "empty"),
    Case("missing image", lambda r: (first_image(r).unlink(), run_wflw(r))[1], ".jpg"),
    Case("zero-byte image", replace_image(b""), "cannot read the image"),
    Case("corrupt JPEG", replace_image(b"\xff\xd8\xff\xe0 this is not a jpeg" * 10), "cannot read the image"),
    Case("zero-size box", with_line(box([50, 50, 50, 120])), "list_98pt_rect_attr_test.txt:1:"),
    Case("inverted box", with_line(box([120, 120, 50, 50])), "list_98pt_rect_attr_test.txt:1:"),
    Case("box outside the image", lambda r: (edit_line(r, 1, box([90000, 90000, 90100, 90100])), run_pixels(r))[1],
         "outside the image"),
    Case("image path escaping the root with ..", with_line(lambda t: [*t[:206], "../../../etc/passwd"]),
         "list_98pt_rect_attr_test.txt:1:"),
    Case("absolute image path", with_line(lambda t: [*t[:206], "/etc/passwd"]), "list_98pt_rect_attr_test.txt:1:"),
    Case("annotation file not UTF-8",
         lambda r: ((r / "WFLW" / TEST_LIST).write_bytes((r / "WFLW" / TEST_LIST).read_bytes().replace(
             b".jpg\n", b"\xff\xfe.jpg\n", 1)), run_wflw(r))[1], "list_98pt_rect_attr_test.txt:1:"),
    Case("duplicate face", lambda r: ((r / "WFLW" / TEST_LIST).write_text(
        (r / "WFLW" / TEST_LIST).read_text().split("\n")[0] + "\n" + (r / "WFLW" / TEST_LIST).read_text()),
        run_wflw(r))[1], "list_98pt_rect_attr_test.txt:2:"),
    # -- 300-W .pts files --
    Case(".pts with 67 points", lambda r: pts(r, 67), ".pts"),
    Case(".pts without its closing brace", lambda r: pts(r, 68, closing=False), ".pts"),
    Case("file name that is not UTF-8", non_utf8_name, "\\xff"),
    # -- predictions files (score) --
    Case("predictions for an unknown face", lambda r: score(r, lambda ls: ls + ["nobody," + ls[1].split(",", 1)[1]]),
         "nobody"),
    Case("predictions missing faces", lambda r: score(r, lambda ls: ls[:-2]), "pred.csv"),
    Case("predictions row with too few columns", lambda r: score(r, lambda ls: ls[:2] + [ls[2][:40]] + ls[3:]),
         "pred.csv:3"),
    Case("predictions with NaN", lambda r: score(r, lambda ls: ls[:1] + [ls[1].rsplit(",", 1)[0] + ",nan"] + ls[2:]),
         "pred.csv:2"),
    Case("predictions file with the wrong header", lambda r: score(r, lambda ls: ls, header="a,b,c"), "pred.csv"),
    Case("pickled object arrays in a predictions .npz",
         lambda r: (np.savez(r / "p.npz", ids=np.array([{"a": 1}], dtype=object), landmarks=np.zeros((1, 98, 2))),
                    ["score", r / "p.npz", "-d", "wflw", "-s", "test", "--data-root", r / "WFLW"])[1], "p.npz"),
    # -- configuration --
    Case("matrix spec with an unknown key", lambda r: spec(r, MATRIX + "colour = 1\n"),
         "unknown key(s) colour"),
    Case("matrix spec with a wrong type", lambda r: spec(r, MATRIX.replace("seeds = [0]", 'seeds = "zero"')),
         "matrix.seeds must be a list of integers"),
    Case("matrix spec that is not TOML", lambda r: spec(r, "[matrix\n"), "not valid TOML"),
    Case("fabrec-bench.toml that is not TOML",
         lambda r: ((Path.cwd() / "fabrec-bench.toml").write_text("[datasets.wflw\n"), run_wflw(r))[1],
         "fabrec-bench.toml"),
    Case("unknown model option", lambda r: run_wflw(r, "--config", "colour=red"), "unknown option(s) colour"),
    Case("unknown dataset option", lambda r: run_wflw(r, "--dataset-option", "colour=red"), "colour"),
    # -- checkpoints --
    Case("checkpoint for another landmark scheme", lambda r: checkpoint(r, mean_shape_68), "68 landmarks"),
    Case("truncated checkpoint", lambda r: checkpoint(r, truncated_npz), "ms68.npz"),
    Case("checkpoint with pickled objects", lambda r: checkpoint(r, pickled_npz), "evil.npz"),
    Case("malicious pickle in a .pt checkpoint", lambda r: checkpoint(r, malicious_pt, model="3fabrec"),
         "evil.pt: refused: it holds Python objects"),
    Case("3FabRec checkpoint for another scheme", lambda r: checkpoint(r, fabrec_68, model="3fabrec"), "lm68.pt"),
    Case("autoencoder for another input size",
         lambda r: ["run", "-m", "3fabrec", *run_wflw(r)[3:], "--config", f"autoencoder={fabrec_256(r)}",
                    "--config", "input_size=128"], "256 px"),
    # -- command-line values --
    Case("threshold given in percent", lambda r: run_wflw(r, "--threshold", "10"), "threshold 10.0"),
    Case("training size 0", lambda r: run_wflw(r)[:-1] + ["0"], "at least 1"),
    Case("training size above the split", lambda r: run_wflw(r)[:-1] + ["100000"], "larger than the training split"),
    Case("unknown split", lambda r: ["run", "-m", "mean-shape", "-d", "wflw", "-s", "tset", "--data-root", r / "WFLW"],
         "has no split 'tset'"),
    Case("unknown model", lambda r: ["run", "-m", "3fabric", "-d", "wflw", "-s", "test", "--data-root", r / "WFLW"],
         "did you mean '3fabrec'"),
    Case("dataset root that does not exist", lambda r: ["run", "-m", "mean-shape", "-d", "wflw", "-s", "test",
                                                        "--data-root", r / "nowhere"], "nowhere"),
]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pristine")
    write_wflw(base / "WFLW", n_train=24, n_test=14, seed=7)
    write_300w(base / "300W", per_folder=2, seed=3)
    return base


def snapshot(work: Path) -> list:
    with sqlite3.connect(work / "results.sqlite") as db:
        runs = db.execute("SELECT uid, status, model, split FROM runs WHERE status='finished' ORDER BY id").fetchall()
        metrics = db.execute("SELECT run_id, name, value FROM metrics ORDER BY run_id, name").fetchall()
        faces = db.execute("SELECT run_id, face_id, nme FROM face_errors ORDER BY run_id, face_id").fetchall()
    return [runs, metrics, faces]


def test_the_catalogue_is_large_enough():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_one_clear_line_and_loses_nothing(case, pristine, tmp_path, cli):
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    work = tmp_path / "work"
    first = cli(*run_wflw(root), work_dir=work)  # something already stored, which must survive
    assert first.exit_code == 0, first.output
    before = snapshot(work)
    args = case.setup(root)
    result = cli(*args, work_dir=work)
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert result.exit_code == 2, f"{case.name}: exit {result.exit_code}\n{result.output[-1500:]}"
    assert len(errors) == 1 and case.expect in errors[0], f"{case.name}: {result.output[-1500:]}"
    assert "Traceback" not in result.output and "--debug" not in errors[0]
    assert snapshot(work) == before


def test_debug_shows_the_traceback(pristine, tmp_path, cli):
    root = tmp_path / "data"
    shutil.copytree(pristine, root)
    edit_line(root, 1, lambda t: t[:150])
    from click.testing import CliRunner

    from fabrec_bench_runners.cli import cli as group

    result = CliRunner().invoke(group, ["--debug", "--work-dir", str(tmp_path / "w"), *map(str, run_wflw(root))])
    assert result.exit_code != 0 and result.exc_info is not None  # re-raised for the traceback


@pytest.mark.parametrize("kind", ["grey", "16-bit", "CMYK", "EXIF-rotated"])
def test_unusual_but_valid_images_are_read_as_stored(kind, pristine, tmp_path):
    """Grey, 16-bit and CMYK images are converted to 8-bit BGR; EXIF orientation is ignored, because the
    annotations refer to the pixel grid as stored."""
    from PIL import Image

    from fabrec_bench.faces.facedata import load_image

    yy, xx = np.mgrid[0:40, 0:60]  # smooth and asymmetric, so JPEG keeps it and a rotation would show
    rgb = np.stack([xx * 4, yy * 6, (xx + yy) * 2], axis=-1).astype(np.uint8)
    path = tmp_path / "img"
    if kind == "grey":
        path = path.with_suffix(".png")
        cv2.imwrite(str(path), rgb[..., 0])
    elif kind == "16-bit":
        path = path.with_suffix(".png")
        cv2.imwrite(str(path), rgb.astype(np.uint16) * 257)
    elif kind == "CMYK":
        path = path.with_suffix(".jpg")
        Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
    else:
        path = path.with_suffix(".jpg")
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to display"
        Image.fromarray(rgb).save(path, exif=exif, quality=95)
    image = load_image(path)
    assert image.dtype == np.uint8 and image.shape == (40, 60, 3)
    if kind == "16-bit":  # written by OpenCV, so in BGR order; 16 -> 8 bit keeps the high byte
        np.testing.assert_array_equal(image, rgb)
    if kind in ("CMYK", "EXIF-rotated"):
        assert np.abs(image[..., ::-1].astype(int) - rgb).mean() < 12  # lossy JPEG, same orientation
    assert json.dumps(image.shape)
