"""The table a paper prints: measured rows and the field's published numbers in one table per dataset, protocol
and main split, in every format (terminal, Markdown, LaTeX, HTML), read back here: values, bold, markers and
footnotes; a leaderboard with no runs shows what the field reports."""

from __future__ import annotations

import re

import pytest

from fabrec_bench.store import ResultsStore, store_path

PAPER = "Toy et al., A Toy Aligner, CVPR 2099"
OTHER = "Other & Else, Another Aligner, ICCV 2098"
# Published numbers under the star protocol on WFLW (test and pose) and one under no protocol: the toy model
# beats any mean shape on test NME, FR and AUC, loses on pose; the other reports test NME only.
REFERENCE = f"""
[[result]]
model = "ToyNet"
dataset = "wflw"
split = "test"
metric = "nme"
value = 4.5
protocol = "star"
normaliser = "inter-ocular"
paper = "{PAPER}"
where = "Table 2"

[[result]]
model = "ToyNet"
dataset = "wflw"
split = "test"
metric = "fr"
value = 3.25
threshold = 0.1
protocol = "star"
paper = "{PAPER}"
where = "Table 2"

[[result]]
model = "ToyNet"
dataset = "wflw"
split = "test"
metric = "auc"
value = 0.5875
threshold = 0.1
protocol = "star"
paper = "{PAPER}"
where = "Table 2"

[[result]]
model = "ToyNet"
dataset = "wflw"
split = "pose"
metric = "nme"
value = 99.5
protocol = "star"
paper = "{PAPER}"
where = "Table 3"

[[result]]
model = "OtherNet"
dataset = "wflw"
split = "test"
metric = "nme"
value = 5.5
paper = "{OTHER}"
where = "Table 1"
"""


@pytest.fixture
def measured(cli, synthetic_wflw, tmp_path):
    """mean-shape on WFLW test and pose under the star protocol, and the reference file; its stored NMEs."""
    work = tmp_path / "work"
    result = cli("run", "-m", "mean-shape", "-d", "wflw", "-s", "test", "-s", "pose", "--data-root", synthetic_wflw,
                 "--train-count", 10, "--protocol", "star", work_dir=work)
    assert result.exit_code == 0, result.output
    (tmp_path / "toy.toml").write_text(REFERENCE)
    with ResultsStore(store_path(work)) as store:
        runs = {r.split: r.metrics for r in store.runs(status="finished")}
    return work, tmp_path / "toy.toml", runs


def leaderboard(cli, work, reference, *args):
    result = cli("leaderboard", "-d", "wflw", "--reference", reference, "--no-bundled", *args, work_dir=work)
    assert result.exit_code == 0, result.output
    return result.output


def markdown_rows(text: str, title_words: str) -> dict[str, list[str]]:
    """The rows of the Markdown table whose bold title holds `title_words`, by model cell."""
    block = text.split(title_words, 1)[1].split("\n\n", 2)[1]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()[2:]]
    return {r[0]: r[1:] for r in rows}


def test_markdown_puts_measured_and_published_rows_in_one_table(cli, measured):
    work, reference, runs = measured
    text = leaderboard(cli, work, reference, "--format", "markdown")
    rows = markdown_rows(text, "wflw (test): protocol star")
    mine = rows["mean-shape, N=10"]
    toy = rows["*ToyNet* †1"]
    # columns: test NME, FR@0.1, AUC@0.1, pose NME; the measured values as stored, in percent
    assert mine[0] == f"{100 * runs['test']['nme']:.2f}" and mine[3] == f"**{100 * runs['pose']['nme']:.2f}**"
    assert toy == ["**4.50**", "**3.25**", "**0.5875**", "99.50"]  # best in bold, among both kinds of row
    assert list(rows) == ["mean-shape, N=10", "*ToyNet* †1"]  # measured first, published after, never merged
    assert f"- †1 {PAPER} (protocol star; as published, not measured here)" in text
    unstated = markdown_rows(text, "wflw (test): protocol not stated")
    assert unstated == {"*OtherNet* †1": ["**5.50**"]}
    assert f"- †1 {OTHER} (under no protocol of fabrec-bench's" in text


def test_latex_and_terminal_print_the_same_table(cli, measured):
    work, reference, runs = measured
    latex = leaderboard(cli, work, reference, "--format", "latex")
    star = latex.split("% wflw (test): protocol star", 1)[1].split(r"\end{tabular}", 1)[0]
    assert r"model & test NME (\%) & FR@0.1 (\%) & AUC@0.1 & pose NME (\%) \\" in star
    assert r"\textit{ToyNet}$^{\dagger 1}$ & \textbf{4.50} & \textbf{3.25} & \textbf{0.5875} & 99.50 \\" \
        in star
    mine = next(line for line in star.splitlines() if line.startswith("mean-shape"))
    assert mine.endswith(rf"\textbf{{{100 * runs['pose']['nme']:.2f}}} \\")
    assert re.search(r"\$\^\{\\dagger 1\}\$ Toy et al\., A Toy Aligner, CVPR 2099 \(protocol star", latex)

    terminal = leaderboard(cli, work, reference, "--format", "table")
    star = terminal.split("wflw (test): protocol star", 1)[1]
    assert "ToyNet †1" in star and f"{100 * runs['test']['nme']:.2f}" in star and "0.5875" in star
    assert f"†1 {PAPER} (protocol star; as published" in " ".join(star.split())


def test_long_list_is_there_on_request(cli, measured):
    work, reference, _ = measured
    text = leaderboard(cli, work, reference, "--format", "markdown", "--reported-format", "long")
    assert "Reported in papers (not measured here" in text and "| Table 3 " in text
    assert "Reported in papers (not measured here" not in leaderboard(cli, work, reference, "--format", "markdown")


def test_no_runs_prints_what_the_field_reports(cli, tmp_path):
    result = cli("leaderboard", "-d", "wflw", work_dir=tmp_path / "empty")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    star = result.output.split("wflw (test): protocol star", 1)[1].split("wflw (test): protocol", 1)[0]
    assert re.search(r"│ STAR +(†1 +)?│ +4\.02 │ +2\.32 │ +0\.6050 │", star), star
    assert "No runs in" in text and "fabrec-bench run -m MODEL -d wflw -s SPLIT" in text
    markdown = cli("leaderboard", "-d", "wflw", "--format", "markdown", work_dir=tmp_path / "empty").output
    assert markdown_rows(markdown, "wflw (test): protocol star")["*STAR* †1"][:3] == ["**4.02**", "**2.32**",
                                                                                    "**0.6050**"]
    listed = cli("leaderboard", work_dir=tmp_path / "empty")
    assert listed.exit_code == 0
    for dataset in ("wflw", "300w", "cofw", "aflw"):
        assert re.search(rf"│ {dataset} +│ \d+", listed.output), dataset
    assert "fabrec-bench leaderboard -d DATASET" in " ".join(listed.output.split())


def test_html_page_shows_the_table_without_horizontal_scroll(cli, measured, tmp_path):
    from test_html_leaderboard import _browser, _chromium

    browser = _browser()
    work, reference, runs = measured
    page = tmp_path / "board.html"
    result = cli("leaderboard", "-d", "wflw", "--reference", reference, "--format", "html", "--out", page,
                 work_dir=work)  # the bundled numbers too: the long list holds every source's full title
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    star = text.split("<h3>wflw (test): protocol star")[1].split("</ol>")[0]
    assert f'<td class="num">{100 * runs["test"]["nme"]:.2f}</td>' in star  # measured, beside
    assert "<i>ToyNet</i> †<sup>" in star and "<i>STAR</i> †<sup>" in star  # the published rows
    # Opened in Chromium at 1400 px with the folded list opened too: the page is no wider than the window
    nonce = re.search(r"nonce-([A-Za-z0-9_-]+)", text).group(1)
    probe = tmp_path / "probe.html"
    probe.write_text(text.replace('<details id="reported-long">', '<details id="reported-long" open>').replace(
        "</body>", f'<script nonce="{nonce}">document.title="width "+document.documentElement.scrollWidth+" of "'
                   f'+window.innerWidth;</script></body>'), encoding="utf-8")
    dom = _chromium(browser, tmp_path, "--window-size=1400,900", "--dump-dom", probe.as_uri()).stdout
    width, window = map(int, re.search(r"<title>width (\d+) of (\d+)</title>", dom).groups())
    assert window > 1300 and width <= window, f"the page is {width} px wide in a {window} px window"
