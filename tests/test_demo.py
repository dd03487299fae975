"""The README's main command, at toy size: synthetic data, the demo matrix (mean-shape, 3FabRec on a shared
autoencoder at two sizes, 3FabRec from scratch; dlib-ert on 68 points when installed), pages and plots."""

import importlib.util
import re

import pytest

from fabrec_bench.store import ResultsStore, store_path


@pytest.mark.slow
def test_demo_runs_its_matrix_and_ends_with_the_paths_it_wrote(cli, tmp_path):
    out = tmp_path / "demo"
    result = cli("demo", "--out", out, "--train", "12", "--test", "14", "--sizes", "3", "6", "--ae-epochs", "1",
                 "--iterations", "2")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    # it says where its time went, phase by phase
    phases = re.search(r"demo finished in (\d+) s \(data (\d+) s, stage 1 (\d+) s, cells (\d+) s, pictures (\d+) s\)",
                       result.output)
    assert phases and sum(map(int, phases.groups()[1:])) <= int(phases.group(1)) + 4, result.output
    tail = lines[lines.index("wrote:") + 1:]
    written = {line.rsplit(maxsplit=1)[0].strip(): line.split()[-1] for line in tail}
    for name in ("leaderboard.md", "leaderboard.html", "ced.png", "attributes.png", "fewshot.png",
                 "gallery-worst.png"):
        path = out / name
        assert path.stat().st_size > 500 and str(path) in written.values()
    # The pictures: the worst faces, 3FabRec on a few photographs (landmarks, its five tiles, its heatmaps),
    # and the autoencoder's last epoch.
    assert written["worst faces"] == str(out / "gallery-worst.png")
    drawn = out / "predict" / "drawn"
    assert written["predict"] == str(drawn) and (out / "predict" / "landmarks.csv").is_file()
    assert list(drawn.glob("*-face0-tiles.png")) and list(drawn.glob("*-face0-heatmaps.png"))
    assert {p.name.split("_epoch")[0] for p in (out / "autoencoder").glob("*.png")} >= {
        "reconstructions", "random", "interpolations"}
    with ResultsStore(store_path(out / "results")) as store:
        runs = store.runs()
    labels = {(r.model, r.model_info.get("variant"), r.train_count, r.dataset) for r in runs if r.split == "test"}
    # 3FabRec trained on the demo's time budgets is tagged as such, so nobody reads it as the method's accuracy.
    smoke_ae, smoke_scratch = "pretrained AE, smoke budget", "scratch, smoke budget"
    assert {("mean-shape", None, 3, "wflw"), ("mean-shape", None, 6, "wflw"), ("3fabrec", smoke_ae, 3, "wflw"),
            ("3fabrec", smoke_ae, 6, "wflw"), ("3fabrec", smoke_scratch, 3, "wflw"),
            ("3fabrec", smoke_scratch, 6, "wflw")} <= labels
    assert len([r for r in runs if r.dataset == "wflw"]) == 6 * 7  # six trainings x seven WFLW splits
    pretrained = {r.model_info["autoencoder"] for r in runs if r.model_info.get("variant") == smoke_ae}
    assert len(pretrained) == 1  # one shared autoencoder, trained once
    # Only the autoencoder's latest snapshot is kept (epoch snapshots are ~100 MB each).
    snapshots = sorted(p.name for p in (out / "results").rglob("*.pt") if "runs" not in p.parts)
    assert snapshots == ["latest.optim.pt", "latest.pt"], snapshots
    assert "smoke budget" in (out / "leaderboard.md").read_text()
    if importlib.util.find_spec("dlib"):
        assert ("dlib-ert", None, None, "wflw68") in labels
    else:  # the install hint is printed as written (rich would otherwise eat "[dlib]" as markup)
        assert 'pip install "fabrec-bench[dlib]"' in result.output
    page = (out / "leaderboard.html").read_text()
    assert len(re.findall(r'<tbody class="group">', page)) == len({(r.model, r.model_info.get("variant"),
                                                                   r.train_count, r.dataset, r.split) for r in runs})
    # Re-running resumes: nothing is trained again.
    again = cli("demo", "--out", out, "--train", "12", "--test", "14", "--sizes", "3", "6", "--ae-epochs", "1",
                "--iterations", "2")
    assert again.exit_code == 0 and "(42 already done)" in again.output
