"""One output rule (studylib.outputs) for the runner, papermill and JupyterLab: only the published studies
(quick and full at their own values) write figures/ and data_cards/; anything else writes a folder under
results/ named by the preset and what differs."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from studylib import outputs  # noqa: E402
from studylib.fileio import REPO_ROOT, results_dir  # noqa: E402


def test_folder_names_say_what_differs():
    assert outputs.tag("smoke", {}) == "smoke"
    assert outputs.tag("quick", {"zipf_alpha": 1.5, "epochs": 2}) == "quick-epochs=2-zipf_alpha=1.5"
    assert outputs.tag("quick", {"profile": "/data/x/class_frequency_laion.txt"}) == (
        "quick-profile=class_frequency_laion.txt"
    )
    long = outputs.tag("quick", {f"p{i}": "v" * 20 for i in range(9)})
    assert len(long) <= 80 and long.startswith("quick-p0=")
    assert outputs.tag("quick", {"a": "x y"}) == "quick-a=x_y"


def test_published_and_other_folders():
    quick, full = outputs.folders("quick", {}), outputs.folders("full", {})
    assert (quick.figures, quick.cards, quick.published) == (
        REPO_ROOT / "figures",
        REPO_ROOT / "data_cards",
        True,
    )
    assert (full.figures, full.cards) == (REPO_ROOT / "figures" / "full", REPO_ROOT / "data_cards" / "full")
    assert full.executed == results_dir() / "full" / "executed"
    other = outputs.folders("full", {"seed": 3})
    assert other.figures == results_dir() / "full-seed=3" / "figures" and not other.published


def test_a_notebook_at_another_preset_never_writes_the_published_figures(monkeypatch):
    """As in JupyterLab: no runner sets the folders; the chapter's Session at preset smoke (or with a changed
    parameter) saves its figure under results/, and figures/ is untouched."""
    from studylib.chapters import ch02
    from studylib.session import Session

    monkeypatch.delenv("STUDYLIB_FIGURES")
    monkeypatch.delenv("STUDYLIB_CARDS")
    published = REPO_ROOT / "figures" / "02_imbalance__outputs_rule_probe.png"
    for preset, overrides, folder in (("smoke", {}, "smoke"), ("quick", {"epochs": 1}, "quick-epochs=1")):
        s = Session("02_imbalance", preset, sizes=ch02.SIZES, overrides=overrides, progress=False)
        fig = plt.figure()
        path = s.save(fig, "outputs_rule_probe", "a probe of the output rule")
        plt.close(fig)
        assert path == results_dir() / folder / "figures" / "02_imbalance__outputs_rule_probe.png"
        assert os.environ["STUDYLIB_CARDS"] == str(results_dir() / folder / "data_cards")
        assert not published.exists()
    # a parameter left at the preset's value (0 = from the preset, or the value itself) changes nothing
    s = Session("02_imbalance", "smoke", sizes=ch02.SIZES, overrides={"epochs": 0, "seed": 0}, progress=False)
    assert s.changed == {} and s.outputs.figures == results_dir() / "smoke" / "figures"


def test_a_folder_set_by_someone_else_is_kept(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDYLIB_FIGURES", str(tmp_path / "mine"))
    outputs.apply("smoke", {})
    assert os.environ["STUDYLIB_FIGURES"] == str(tmp_path / "mine")


def test_every_published_figure_is_in_the_repository_or_says_why_not():
    """The committed figure index lists each PNG the published study drew (present in figures/), or marks it
    not made with the reason (data that does not ship); a fresh clone's study draws the same set."""
    import json

    index = json.loads((REPO_ROOT / "figures" / "index.json").read_text())
    for name, entry in index.items():
        if entry.get("not_made"):
            assert not (REPO_ROOT / "figures" / name).exists() and "ship" in entry["not_made"]
        elif name.endswith(".png"):
            assert (REPO_ROOT / "figures" / name).is_file(), name
        assert entry["preset"] == "quick"


def test_interactive_figures_of_both_published_studies_stay_out_of_git():
    """The figure index says an interactive HTML figure is "not in the repository" (a 5 MB file whose plotly
    div id is new at every execution): git must ignore it in figures/ and in figures/full/ alike."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("git") is None or not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    for folder in ("figures", "figures/full"):
        path = f"{folder}/02_imbalance__predictions_vs_frequency_interactive.html"
        ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO_ROOT)
        assert ignored.returncode == 0, f"{path} is not ignored by git"
