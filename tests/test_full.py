"""The `full` preset's code path at tiny sizes (make study-full): runs over several seeds at preset full, their
combination into one verdict per claim, the "Results at full" table beside the quick verdicts, and the mark on
every claim where the two disagree."""

import os

import pandas as pd

from studylib.chapters import ch02e, summary
from studylib.cli.main import main
from studylib.config import PRESETS
from studylib.session import Session


def test_full_combines_seeds_and_marks_disagreement_with_quick(monkeypatch, tmp_path):
    monkeypatch.setitem(ch02e.SIZES, "full", {**PRESETS["smoke"], **ch02e.SIZES["smoke"]})
    monkeypatch.setitem(ch02e.SEEDS, "full", 2)
    s = Session(ch02e.NAME, "full", sizes=ch02e.SIZES, seeds=ch02e.SEEDS, progress=False)
    assert s.seeds() == (0, 1) and s.outputs.figures.name == "full"  # figures/full/, apart from quick's
    for k in s.seeds():
        s.run_all(ch02e.specs(s, k))
    rows = summary.chapter_rows(ch02e, s.registry, "full")
    assert [r["seeds"] for r in rows] == [2]
    assert "over 2 seeds" in rows[0]["result"] or rows[0]["verdict"] == "untestable"

    # a README whose quick table has this claim with another verdict, and one claim full has not
    full_verdict = rows[0]["verdict"]
    other = "reproduced" if full_verdict != "reproduced" else "opposite"
    quick = pd.DataFrame(
        [
            {
                "chapter": ch02e.NAME,
                "claim": rows[0]["claim"],
                "quantity": "q",
                "result": "a | b",
                "verdict": other,
            },
            {"chapter": "99_x", "claim": "only at quick", "quantity": "q", "result": "r", "verdict": "mixed"},
        ]
    )
    readme = tmp_path / "README.md"
    readme.write_text(
        f"{summary.START}\n{quick.to_markdown(index=False)}\n{summary.END}\n"
        f"{summary.FULL_START}\nnot run\n{summary.FULL_END}\n"
        f"{summary.FULL_MINUTES_START}\n{summary.FULL_MINUTES_END}\n"
    )
    monkeypatch.setattr(
        summary, "modules", lambda: [ch02e]
    )  # the other chapters would build full-size worlds
    assert main(["summary", "--preset", "full", "--write", str(readme), "--root", str(s.registry.root)]) == 0
    block = summary.read_block(readme, summary.FULL_START, summary.FULL_END)
    table = summary.parse_table(block)
    mine = table[table["chapter"] == ch02e.NAME]
    assert len(mine) == 1 and mine["quick agrees"].item() == summary.DIFFERS
    assert mine["seeds"].item() == "2" and mine["verdict at quick"].item() == other
    assert "1 claim(s) marked" in block
    assert "99_x" not in block  # the table lists full's claims; the quick table stays above it
    # the quick block is untouched, and agreeing verdicts are not marked
    assert quick.to_markdown(index=False) in readme.read_text()
    same = summary.comparison(pd.DataFrame([{**rows[0]}]), pd.DataFrame([{**rows[0]}]))
    assert same["quick agrees"].tolist() == ["yes"]


def test_the_readme_quick_table_parses_for_the_full_comparison():
    """write_full reads the quick verdicts back from the README's own generated table."""
    from studylib import claims
    from studylib.fileio import REPO_ROOT

    quick = summary.parse_table(summary.read_block(REPO_ROOT / "README.md"))
    assert len(quick) >= 20 and quick["verdict"].isin(claims.VERDICTS).all()
    assert quick["chapter"].str.match(r"^\d\d[a-e]?_").all()
    assert summary.FULL_START in (REPO_ROOT / "README.md").read_text()


def _rows(*verdicts, seeds=0):
    return [
        {
            "chapter": ch02e.NAME,
            "claim": f"claim {i}",
            "quantity": "",
            "result": "",
            "verdict": v,
            "seeds": seeds,
        }
        for i, v in enumerate(verdicts)
    ]


def test_a_chapter_names_the_preset_to_believe_where_quick_and_full_differ(monkeypatch):
    """The chapters' quick-versus-full cell: agreement, a difference (believe the preset with more seeds, and
    say why), a better-powered answer that is itself undecided, and a preset not yet run."""
    monkeypatch.setattr(summary, "chapter_rows", lambda module, registry, preset: _rows(*stored, seeds=10))
    s = Session(ch02e.NAME, "quick", sizes=ch02e.SIZES, seeds=ch02e.SEEDS, progress=False, publish=False)
    stored = ("reproduced", "opposite", "inconclusive", "untestable")  # at full, ten seeds
    text = summary.presets_compared(s, ch02e, _rows(*["reproduced"] * 4, seeds=5))
    table = summary.parse_table(text)
    assert list(table["believe"]) == ["either", "full", "full", "quick"]
    assert "10 seed(s)" in table["why"][1] and "against 5 seed(s)" in table["why"][1]
    assert "inconclusive" in table["why"][2] and "stays open" in table["why"][2]
    assert "full failed a manipulation check" in table["why"][3] and "only quick tested" in table["why"][3]
    assert "3 of 4 claim(s) differ" in text

    monkeypatch.setattr(
        summary,
        "chapter_rows",
        lambda module, registry, preset: [
            {"claim": "all claims", "result": "not run yet (CLIP)", "verdict": "not run"}
        ],
    )
    assert "`full` is not in this registry" in summary.presets_compared(s, ch02e, _rows("reproduced"))
    smoke = Session(ch02e.NAME, "smoke", sizes=ch02e.SIZES, seeds=ch02e.SEEDS, progress=False, publish=False)
    assert "no published preset" in summary.presets_compared(smoke, ch02e, [])


def test_a_reading_session_leaves_the_figure_folders_alone(monkeypatch, tmp_path):
    """A session made only to read the other preset's runs (publish=False) never re-points this process's
    figure folder, as a notebook at full reading quick's claims would otherwise do."""
    monkeypatch.delenv("STUDYLIB_FIGURES", raising=False)
    Session(ch02e.NAME, "smoke", sizes=ch02e.SIZES, seeds=ch02e.SEEDS, progress=False)
    here = os.environ["STUDYLIB_FIGURES"]
    Session(ch02e.NAME, "quick", sizes=ch02e.SIZES, seeds=ch02e.SEEDS, progress=False, publish=False)
    assert os.environ["STUDYLIB_FIGURES"] == here
