"""The HTML leaderboard: self-contained, sortable, escaped, CED plots embedded; checked in a real headless
browser (Chromium) when one is installed, and required to be in CI (FABREC_BENCH_REQUIRE_BROWSER=1)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from fabrec_bench.predictions import write_landmarks_csv
from fabrec_bench.synth.wflw import write_wflw

EVIL = "<script>document.title='pwned'</script>"


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> tuple[Path, Path]:
    """A results store with mean-shape at two training sizes on two splits, and a scored predictions file
    stored under a hostile model name."""
    from click.testing import CliRunner

    from fabrec_bench.plugins import reset_registry
    from fabrec_bench_runners.cli import cli

    base = tmp_path_factory.mktemp("html")
    root = base / "WFLW"
    write_wflw(root, n_train=20, n_test=12, seed=3)
    work = base / "work"
    runner = CliRunner()
    os.environ["FABREC_BENCH_LOAD_PLUGINS"] = ""
    reset_registry()

    def run(*args):
        result = runner.invoke(cli, ["--work-dir", str(work), *map(str, args)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    for n in (5, 20):
        run("run", "--model", "mean-shape", "--dataset", "wflw", "--split", "test", "--split", "pose",
            "--data-root", root, "--train-count", n)
    from fabrec_bench import api

    split = api.load_split("wflw", "test", data_root=root)
    noisy = split.landmarks() + np.random.default_rng(0).normal(0, 2, split.landmarks().shape)
    write_landmarks_csv(base / "pred.csv", split.ids, [str(s.image_path) for s in split.samples], noisy)
    run("score", base / "pred.csv", "--dataset", "wflw", "--split", "test", "--data-root", root, "--store-as", EVIL)
    page = base / "board.html"
    run("leaderboard", "--format", "html", "--out", page)
    return work, page


def test_page_is_self_contained_and_escaped(board):
    _, page = board
    text = page.read_text(encoding="utf-8")
    assert "<script>document" not in text  # the hostile name only appears escaped
    assert "&lt;script&gt;document.title=&#x27;pwned&#x27;&lt;/script&gt;" in text
    assert len(re.findall(r"<script", text)) == 1  # only the page's own, with its nonce
    nonce = re.search(r"script-src &#x27;nonce-([A-Za-z0-9_-]+)&#x27;", text).group(1)
    assert f'<script nonce="{nonce}">' in text
    assert not re.search(r'(src|href)="(?!data:)', text), "the page must not load anything from outside"
    # CED plots are embedded PNGs, one per dataset/split.
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    assert len(images) == 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    # Each row opens to its runs' config and code version; the per-split breakdown is there.
    assert text.count('<tr class="details" hidden>') == 5
    assert "code_version" in text
    # It opens with the table a paper prints: per model and training size, the main split's NME, FR and AUC,
    # then each subset's NME.
    paper = text.split("<h3>wflw (test): protocol standard")[1].split("</table>")[0]
    assert "<th>test NME (%)</th><th>FR@0.1 (%)</th><th>AUC@0.1</th><th>pose NME (%)</th>" in paper
    assert paper.count('<tr class="measured">') == 3  # mean-shape N=5, N=20 and the scored file
    assert text.index("as a paper prints them") < text.index('id="leaderboard"')
    # the field's published WFLW numbers are in tables of their protocols, the per-number list folded at the end
    star = text.split("<h3>wflw (test): protocol star")[1].split("</ol>")[0]
    assert '<tr class="published"><td><i>STAR</i> †<sup>1</sup></td><td class="num"><b>4.02</b></td>' in star
    assert "<li>Zhou et al., STAR Loss" in star
    assert text.index('<details id="reported-long">') > text.index('id="leaderboard"')
    # Each measured row opens to its worst faces, embedded as JPEG thumbnails.
    galleries = re.findall(r'<div class="gallery"><p>worst (\d+) of (\d+) faces of run', text)
    assert len(galleries) == 4 and all(int(k) == min(6, int(n)) for k, n in galleries)
    thumbs = re.findall(r'src="data:image/jpeg;base64,([^"]+)"', text)
    assert len(thumbs) == sum(int(k) for k, _ in galleries)
    assert all(base64.b64decode(t).startswith(b"\xff\xd8") for t in thumbs)
    assert "no faces to show" in text  # the scored file's row: its faces' images are not re-read


def test_markdown_and_terminal_show_reported_results_apart(board, tmp_path):
    from click.testing import CliRunner

    from fabrec_bench_runners.cli import cli

    work, _ = board
    result = CliRunner().invoke(cli, ["--work-dir", str(work), "leaderboard", "--format", "markdown",
                                      "--dataset", "300w"], catch_exceptions=False)
    # No measured 300-W rows, but the cited 3FabRec numbers are shown, marked as reported.
    assert "*3FabRec* †1" in result.output and "3.36" in result.output and "CVPR 2020" in result.output
    result = CliRunner().invoke(cli, ["--work-dir", str(work), "leaderboard", "--format", "markdown",
                                      "--dataset", "300w", "--no-reported"], catch_exceptions=False)
    assert "3.36" not in result.output
    mine = tmp_path / "mine.toml"
    mine.write_text('[[result]]\nmodel = "X"\ndataset = "wflw"\nsplit = "test"\nmetric = "nme"\nvalue = 4.2\n'
                    'paper = "Someone 2024"\nwhere = "Table 9"\n')
    result = CliRunner().invoke(cli, ["--work-dir", str(work), "leaderboard", "--format", "markdown",
                                      "--reference", str(mine), "--reported-format", "long"], catch_exceptions=False)
    measured, reported = result.output.split("Reported in papers")
    assert "Table 9" in reported and "Table 9" not in measured
    bad = tmp_path / "bad.toml"
    bad.write_text('[[result]]\nmodel = "X"\nvalue = "high"\n')
    result = CliRunner().invoke(cli, ["--work-dir", str(work), "leaderboard", "--reference", str(bad)])
    assert result.exit_code == 2
    assert "bad.toml: result[0]: 'dataset' is required" in result.output


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    if os.environ.get("FABREC_BENCH_REQUIRE_BROWSER") == "1":
        pytest.fail("FABREC_BENCH_REQUIRE_BROWSER=1 but no Chromium is installed")
    pytest.skip("no headless browser installed (CI installs chromium)")


def _chromium(browser: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True, text=True, timeout=120, check=True)


def test_page_in_a_real_browser(board, tmp_path):
    browser = _browser()
    _, page = board
    # The script ran (sorting by the URL's #sort=), and the hostile name stayed text.
    headers = re.findall(r'<th data-col="(\d+)"[^>]*>([^<]*)</th>', page.read_text(encoding="utf-8"))
    nme_col = next(col for col, name in headers if name.startswith("NME"))
    dom = _chromium(browser, tmp_path, "--dump-dom", f"{page.as_uri()}#sort={nme_col}-desc").stdout
    assert "<title>fabrec-bench leaderboard</title>" in dom  # not 'pwned'
    table = dom.split('id="leaderboard"')[1].split("</table>")[0]
    assert f'data-col="{nme_col}" title="sort by' in table and 'class="desc"' in table
    values = [float(v) for v in re.findall(r'<tr class="row">(?:<td[^>]*>.*?</td>){' + nme_col + r'}<td data-sort="([^"]+)"',
                                           table)]
    assert len(values) == 5 and values == sorted(values, reverse=True)
    # A screenshot shows the table: its header cells' background colour covers a band at the top.
    shot = tmp_path / "shot.png"
    _chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1200,900", page.as_uri())
    import cv2

    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (900, 1200)
    header_grey = np.all(image == 240, axis=2)  # th background #f0f0f0
    rows_with_header = np.flatnonzero(header_grey.sum(axis=1) > 300)
    assert rows_with_header.size >= 10, "the table header is not visible in the screenshot"
    assert (image < 100).any(axis=2).sum() > 2000  # text was drawn
    # With the rows opened, the galleries show faces: ground-truth green and prediction blue points.
    opened = tmp_path / "opened.html"
    opened.write_text(page.read_text(encoding="utf-8").replace('<tr class="details" hidden>', '<tr class="details">'),
                      encoding="utf-8")
    _chromium(browser, tmp_path, f"--screenshot={shot}", "--window-size=1200,1400", opened.as_uri())
    image = cv2.imread(str(shot)).astype(int)
    b, g, r = image[..., 0], image[..., 1], image[..., 2]
    assert ((g > 150) & (r < 90) & (b < 90)).sum() > 100, "no ground-truth points in the screenshot"
    assert ((b > 180) & (g < 90) & (r < 90)).sum() > 100, "no predicted points in the screenshot"
