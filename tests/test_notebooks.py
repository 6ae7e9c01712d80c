"""Every chapter end to end at preset smoke, through the same runner `make study` uses."""

import json

import nbformat
import pytest

from studylib.execute import ChapterFailed, chapters, execute_chapter, parse_assignment

CHAPTERS = chapters()


def test_there_are_chapters_with_a_parameters_cell():
    import jupytext

    assert CHAPTERS, "no notebooks found"
    for path in CHAPTERS:
        nb = jupytext.read(path)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
        assert "preset: str =" in tagged[0].source
        from papermill.translators import PythonTranslator

        declared = [
            line.split(":")[0] for line in tagged[0].source.splitlines() if line and line[0].isalpha()
        ]
        parsed = [p.name for p in PythonTranslator.inspect(tagged[0])]
        assert parsed == declared, "papermill cannot parse every parameter (avoid '=' and ';' in comments)"


def _declares(path, name: str) -> bool:
    return f"\n{name}: " in path.read_text()


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_at_smoke(path, _isolated_outputs):
    """Every chapter on the pixel world (explicitly where the chapter has a ``render`` parameter)."""
    params = {"preset": "smoke", **({"render": "pixels"} if _declares(path, "render") else {})}
    out = execute_chapter(path, params, progress=False)
    _check_executed(out, path, _isolated_outputs)


FEATURES_CHAPTERS = [p for p in CHAPTERS if p.stem.startswith(("02_", "02d_"))]


@pytest.mark.parametrize("path", FEATURES_CHAPTERS, ids=[p.stem for p in FEATURES_CHAPTERS])
def test_features_chapter_runs_at_smoke(path, _isolated_outputs):
    """Chapter 2 and 2d (its pretraining CLIP, text heads and prototypes) on the features world, as they run
    at quick; the other chapters' features runs go through the same pipeline (tests/test_world.py)."""
    out = execute_chapter(path, {"preset": "smoke", "render": "features"}, progress=False)
    _check_executed(out, path, _isolated_outputs)


def _check_executed(out, path, _isolated_outputs):
    nb = nbformat.read(out, as_version=4)
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"
    ]
    assert not errors
    assert "jupytext" not in nb.metadata  # a plain notebook: JupyterLab opens it without a pairing
    index = json.loads((_isolated_outputs / "figures" / "index.json").read_text())
    mine = [f for f, e in index.items() if e["notebook"] == path.stem]
    made = [f for f in mine if not index[f].get("not_made")]  # a figure not drawn says why (Session.not_made)
    assert made and all(index[f]["preset"] == "smoke" for f in mine)
    assert all(
        len(index[f]["not_made"]) > 20 and not (_isolated_outputs / "figures" / f).exists()
        for f in mine
        if f not in made
    )
    assert all((_isolated_outputs / "figures" / f).stat().st_size > 1000 for f in made)


def test_wrong_parameter_type_gives_a_clear_error(_isolated_outputs):
    path = next(p for p in CHAPTERS if p.stem.startswith("02"))
    with pytest.raises(ChapterFailed) as err:
        execute_chapter(path, {"preset": "smoke", "epochs": "three"}, progress=False)
    msg = str(err.value)
    assert "ConfigError" in msg and "parameter 'epochs' must be int, got str 'three'" in msg
    assert (_isolated_outputs / "results" / "executed" / f"{path.stem}.failed.ipynb").exists()


def test_parse_assignment():
    assert parse_assignment("epochs=3") == ("epochs", 3)
    assert parse_assignment("lr=0.5") == ("lr", 0.5)
    assert parse_assignment("highlight=shark") == ("highlight", "shark")
    with pytest.raises(ValueError, match="key=value"):
        parse_assignment("epochs")
    with pytest.raises(ValueError, match="no chapter matches '99'"):
        chapters(["99"])


@pytest.mark.parametrize("path", chapters(), ids=lambda p: p.stem)
def test_saving_a_chapter_from_lab_leaves_its_file_unchanged(path):
    """JupyterLab saves through jupytext with notebooks/jupytext.toml and the kernel `make` installs ("Python 3"):
    the text it writes back must be the committed text (no version stamp, no kernel-name diff)."""
    import jupytext
    from jupytext.config import load_jupytext_config

    src = path.read_text()
    nb = jupytext.reads(src, fmt="py:percent")
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11"}  # Lab adds it; the filter drops it
    config = load_jupytext_config(str(path))
    assert config is not None, "notebooks/jupytext.toml is missing"
    assert jupytext.writes(nb, fmt={"extension": ".py", "format_name": "percent"}, config=config) == src


# A cell that finishes in the kernel but whose reply is dropped before it leaves (the known hang, constructed): the
# kernel's session drops its next execute_reply, once per marker file, so the retry in a fresh kernel succeeds.
DROP_REPLY = """
import os
from pathlib import Path
marker = Path(os.environ["HANG_MARKER"])
if not marker.exists():
    marker.write_text("dropped once")
    kernel = get_ipython().kernel
    send = kernel.session.send
    def dropping(stream, msg_or_type, content=None, parent=None, *a, **k):
        kind = msg_or_type if isinstance(msg_or_type, str) else msg_or_type.get("msg_type")
        if kind == "execute_reply" and not getattr(dropping, "done", False):
            dropping.done = True  # built as if sent, never sent
            return kernel.session.msg(msg_or_type, content=content, parent=parent)
        return send(stream, msg_or_type, content, parent, *a, **k)
    kernel.session.send = dropping
"""


def test_a_constructed_hang_is_detected_and_recovered_and_a_slow_cell_is_never_killed(
    tmp_path, monkeypatch, capsys
):
    """The known hang (the kernel is done with a cell, its reply never comes) is caught by the kernel's cell log
    and recovered by executing the chapter again, printed and booked; a cell that sleeps longer than the grace
    is working, and finishes."""
    import json

    from studylib import execute

    monkeypatch.setenv("HANG_MARKER", str(tmp_path / "marker"))
    monkeypatch.setenv("STUDYLIB_PROFILE", str(tmp_path / "profile.json"))
    nb = tmp_path / "09_hang.py"
    nb.write_text(
        '# %% tags=["parameters"]\npreset: str = "smoke"\n\n# %%\n'
        + DROP_REPLY
        + "\n# %%\nimport time\ntime.sleep(4)\nprint('slow cell done')\n"
    )
    out = execute_chapter(nb, {"preset": "smoke"}, tmp_path / "out", progress=False, grace=2.0)
    assert "slow cell done" in out.read_text()  # the 4 s cell outlived the 2 s grace: it was working
    err = capsys.readouterr().err
    assert "but its reply never came" in err and "executing the chapter again in a fresh kernel" in err
    booked = json.loads((tmp_path / "profile.json.retries.json").read_text())
    assert len(booked) == 1 and booked[0]["seconds"] >= 2.0
    assert not list((tmp_path / "out").glob(".*running.ipynb")) and not list(
        (tmp_path / "out").glob(".*cells*")
    )
    # with no retry left, the hang is a clear failure
    (tmp_path / "marker").unlink()
    with pytest.raises(
        ChapterFailed, match=r"09_hang.py: the kernel finished cell \d+ but its reply never came"
    ):
        execute_chapter(nb, {"preset": "smoke"}, tmp_path / "out", progress=False, retries=0, grace=2.0)
    assert execute.HANG_GRACE >= 30  # the study's own grace: far above any reply's normal delay


def test_papermill_with_an_unknown_parameter_stops_inside_the_notebook(tmp_path):
    """papermill itself only warns about a name the parameters cell lacks; the chapter's Session stops it, as
    `studylib run` does before a kernel starts."""
    nb = tmp_path / "01_x.py"
    nb.write_text(
        '# %% tags=["parameters"]\npreset: str = "quick"\nzipf_alpha: float = 1.0\n\n'
        "# %%\nfrom studylib.session import Session\n"
        'ch = Session("01_x", preset, overrides=dict(zipf_alpha=zipf_alpha))\n'
    )
    with pytest.raises(ChapterFailed, match=r"no parameter 'zipf_alfa' \(did you mean zipf_alpha\?\)"):
        execute_chapter(nb, {"preset": "smoke", "zipf_alfa": 2.0}, out_dir=tmp_path / "out", progress=False)
    assert execute_chapter(
        nb, {"preset": "smoke", "zipf_alpha": 2.0}, out_dir=tmp_path / "out", progress=False
    ).is_file()


def test_a_chapter_is_selected_by_its_exact_number_name_or_a_pattern():
    names = [p.stem for p in chapters()]
    assert [p.stem for p in chapters(["02"])] == ["02_imbalance"]  # one chapter, not 02b..02e
    assert [p.stem for p in chapters(["02b"])] == ["02b_language_and_vocabulary"]
    assert [p.stem for p in chapters(["02_imbalance"])] == ["02_imbalance"]
    assert [p.stem for p in chapters(["02*"])] == [n for n in names if n.startswith("02")]
    assert [p.stem for p in chapters(["03*", "01"])] == [
        "03a_extreme_tail",
        "03b_dino",
        "01_robustness_origins",
    ]
    with pytest.raises(ValueError, match="no chapter matches '0'"):
        chapters(["0"])
