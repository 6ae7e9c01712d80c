"""Tests of studylib.captions.profiles: the count-file reader, correlations, figure, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studylib.captions.profiles import (
    align_profiles,
    compare_profiles,
    correlations,
    gini,
    imbalance_stats,
    plot_ranked_frequencies,
    plot_ranked_panels,
    read_profile,
    zipf_alpha,
)
from studylib.cli import freq as freq_cli

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "frequencies"


def write(path, rows):
    path.write_text("".join(f"{n}\t{c}\n" for n, c in rows), encoding="utf-8")
    return path


@pytest.fixture
def files(tmp_path):
    a = write(tmp_path / "A.tsv", [("cat", 1), ("dog", 2), ("fox", 3), ("owl", 4)])
    # B swaps the top two; listed in another order to exercise alignment by name
    b = write(tmp_path / "B.tsv", [("owl", 3), ("cat", 1), ("fox", 4), ("dog", 2)])
    c = write(tmp_path / "C.tsv", [("cat", 4), ("dog", 3), ("fox", 2), ("owl", 1)])
    return a, b, c


def test_read_profile(files):
    s = read_profile(files[1])
    assert s.name == "B" and s.dtype == np.int64
    assert s.to_dict() == {"owl": 3, "cat": 1, "fox": 4, "dog": 2}


def test_hand_computed_correlations(files):
    a, b, c = (read_profile(f) for f in files)
    table = compare_profiles(a, [b, c]).set_index("name")
    # d = (0, 0, 1, 1): rho = 1 - 6*2/(4*15) = 0.8; 5 concordant, 1 discordant: tau = 4/6
    assert table.loc["B", "spearman"] == pytest.approx(0.8)
    assert table.loc["B", "kendall"] == pytest.approx(2 / 3)
    assert table.loc["C", "spearman"] == pytest.approx(-1.0)
    assert table.loc["C", "kendall"] == pytest.approx(-1.0)
    assert table.loc["A", "spearman"] == 1.0
    assert table.loc["A", "total"] == 10 and table.loc["A", "classes"] == 4
    assert table.loc["A", "max_over_median"] == pytest.approx(4 / 2.5)
    assert list(table.reset_index().columns) == [
        "name",
        "classes",
        "matched",
        "aligned_by",
        "total",
        "spearman",
        "kendall",
        "max_over_median",
        "gini",
        "zipf_alpha",
        "unmatched",
    ]


def test_mismatched_class_sets(tmp_path, files):
    d = write(tmp_path / "D.tsv", [("cat", 1), ("dog", 2), ("fox", 3), ("emu", 4)])
    with pytest.raises(ValueError, match=r"1 only in the reference \(e.g. \['owl'\]\).*emu"):
        compare_profiles(read_profile(files[0]), [read_profile(d)])
    ok = compare_profiles(read_profile(files[0]), [read_profile(d)], align="order")
    assert ok.loc[1, "spearman"] == pytest.approx(1.0)
    e = write(tmp_path / "E.tsv", [("cat", 1), ("dog", 2)])
    with pytest.raises(ValueError, match="by order"):
        align_profiles(read_profile(files[0]), read_profile(e), "order")


def test_imbalance_statistics():
    assert gini([5, 5, 5, 5]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    ranks = np.arange(1, 201)
    assert zipf_alpha(1e6 * ranks**-1.5) == pytest.approx(1.5)
    assert zipf_alpha(np.r_[1e6 * ranks**-0.7, 0, 0]) == pytest.approx(0.7)  # zeros ignored
    st = imbalance_stats([0, 0, 3])
    assert st["max_over_median"] == float("inf") and st["classes"] == 3
    assert np.isnan(correlations([1, 1, 1], [1, 2, 3])["spearman"])


def test_bad_profile_files(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\t1\ndog two\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 'classname<TAB>count'"):
        read_profile(bad)
    bad.write_text("cat\tmany\n")
    with pytest.raises(ValueError, match="bad.tsv:1: count 'many' is not a number"):
        read_profile(bad)
    with pytest.raises(FileNotFoundError):
        read_profile(tmp_path / "none.tsv")


# Each bad file, and the reader's message: the file and the line, then what is wrong.
BAD_COUNT_FILES = {
    "negative": ("cat\t1\n\ndog\t-3\n", r"negative.tsv:3: count '-3' is negative"),
    "nan": ("cat\tnan\n", r"nan.tsv:1: count 'nan' is not finite"),
    "infinite": ("cat\t1\ndog\tinf\n", r"infinite.tsv:2: count 'inf' is not finite"),
    "fraction": ("cat\t2.5\n", r"fraction.tsv:1: count '2.5' is not a whole number"),
    "duplicate": (
        "cat\t1\ndog\t2\ncat\t3\n",
        r"duplicate.tsv:3: class 'cat' appears twice \(first at .*duplicate.tsv:1\)",
    ),
    "nameless": ("cat\t1\n\t4\n", r"nameless.tsv:2: empty class name"),
    "latin1": ("cat\t1\ncaf\xe9\t2\n", r"latin1.tsv:2: not UTF-8 text"),
}


@pytest.mark.parametrize("kind", sorted(BAD_COUNT_FILES))
def test_reader_rejects_bad_counts(tmp_path, kind):
    text, message = BAD_COUNT_FILES[kind]
    path = tmp_path / f"{kind}.tsv"
    path.write_bytes(text.encode("latin-1" if kind == "latin1" else "utf-8"))
    with pytest.raises(ValueError, match=message):
        read_profile(path)


def test_reader_unknown_class_names(tmp_path):
    path = write(tmp_path / "p.tsv", [("cat", 1), ("dog", 2), ("emu", 3)])
    with pytest.raises(ValueError, match=r"p.tsv:3: unknown class 'emu' \(not among the 2 given"):
        read_profile(path, classes=["cat", "dog"])
    assert read_profile(path, classes=["cat", "dog", "emu", "owl"]).tolist() == [1, 2, 3]
    assert read_profile(path).tolist() == [1, 2, 3]  # no class list: any name


def test_reader_byte_order_mark_and_whole_floats(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffcat\t1\r\ndog\t2.0\r\n\r\n".encode("utf-8"))
    s = read_profile(path)
    assert s.index.tolist() == ["cat", "dog"] and s.tolist() == [1, 2] and s.dtype == np.int64


def test_reader_parquet_checks(tmp_path):
    pd.DataFrame({"classname": ["cat", "dog"], "count": [3, 4]}).to_parquet(tmp_path / "ok.parquet")
    assert read_profile(tmp_path / "ok.parquet").to_dict() == {"cat": 3, "dog": 4}
    bad = pd.DataFrame({"classname": ["cat", "dog"], "count": [3.0, np.nan]})
    bad.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"b.parquet: row 2: count 'nan' is not finite"):
        read_profile(tmp_path / "b.parquet")


@pytest.mark.parametrize("kind", ["negative", "nan", "duplicate", "fraction", "latin1"])
def test_world_profile_goes_through_the_one_reader(tmp_path, kind):
    """A bad file given as the world's ``profile=`` fails with the reader's own error."""
    from studylib.concepts import load_concepts
    from studylib.config import WorldConfig
    from studylib.world import class_profile

    text, message = BAD_COUNT_FILES[kind]
    path = tmp_path / f"{kind}.tsv"
    path.write_bytes(text.encode("latin-1" if kind == "latin1" else "utf-8"))
    with pytest.raises(ValueError) as direct:
        read_profile(path)
    cfg = WorldConfig(profile=str(path))
    with pytest.raises(ValueError, match=message) as via_world:
        class_profile(cfg, load_concepts()[:3])
    assert str(via_world.value) == str(direct.value)


def test_cli_compare_csv(files, capsys):
    a, b, c = files
    assert freq_cli.main(["compare", "--reference", str(a), str(b), str(c), "--csv"]) == 0
    out = capsys.readouterr().out
    import io

    df = pd.read_csv(io.StringIO(out))
    assert df["name"].tolist() == ["A", "B", "C"]
    assert df["spearman"].tolist() == pytest.approx([1.0, 0.8, -1.0])
    assert df["kendall"].tolist() == pytest.approx([1.0, 2 / 3, -1.0])


def test_cli_compare_error(tmp_path, files, capsys):
    d = write(tmp_path / "D.tsv", [("cat", 1), ("emu", 2)])
    assert freq_cli.main(["compare", "--reference", str(files[0]), str(d), "--align", "name"]) == 2
    assert "--align order" in capsys.readouterr().err
    assert freq_cli.main(["compare", "--reference", str(files[0]), str(tmp_path / "nope.tsv:relevant")]) == 2
    assert "nope.tsv does not exist" in capsys.readouterr().err


def test_figure(files, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    profs = [read_profile(f) for f in files]
    fig = plot_ranked_frequencies(profs, reference="B", smooth=2)
    ax = fig.axes[0]
    assert len(ax.lines) == 3
    # the reference curve is non-increasing before smoothing with smooth=1
    fig1 = plot_ranked_frequencies(profs, reference="B", smooth=1)
    y = fig1.axes[0].lines[1].get_ydata()
    assert np.all(np.diff(y) <= 0)
    assert (
        freq_cli.main(
            ["compare", "--reference", str(files[0]), str(files[1]), "--figure", str(tmp_path / "f.png")]
        )
        == 0
    )
    assert (tmp_path / "f.png").stat().st_size > 1000
    a, b, c = profs
    panels = plot_ranked_panels({"one": {"B": b, "C": c}, "two": {"C": c}}, reference=a, smooth=1)
    assert [len(ax.lines) for ax in panels.axes] == [3, 2]  # the reference is drawn in every panel
    assert [ax.get_title() for ax in panels.axes] == ["one", "two"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared frequency files are absent")
def test_real_profiles():
    ref = read_profile(SHARED / "class_frequency_laion400m_imagenet_ori.txt")
    others = [
        read_profile(SHARED / f"class_frequency_{n}_imagenet_ori.txt")
        for n in ("laion2b", "cc12m", "yfcc15m", "incaps")
    ]
    t = compare_profiles(ref, others).set_index("name")
    assert (t["classes"] == 1000).all()
    assert t.loc["class_frequency_laion2b_imagenet_ori", "spearman"] > 0.95
    assert t.loc["class_frequency_cc12m_imagenet_ori", "spearman"] > 0.8
    # web corpora are far more imbalanced than ImageNet-Captions
    assert (
        t.loc["class_frequency_laion400m_imagenet_ori", "gini"]
        > 2 * t.loc["class_frequency_incaps_imagenet_ori", "gini"]
    )
    assert 1 < t.loc["class_frequency_laion400m_imagenet_ori", "zipf_alpha"] < 3


def test_add_parser_mounts_on_a_cli(files, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="studylib")
    freq_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["freq", "compare", "--reference", str(files[0]), str(files[2]), "--csv"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("C,4,4,order,10,-1,-1,")


def test_headed_tsv_columns_and_automatic_alignment(tmp_path, files, capsys):
    """FILE:column reads a headed TSV; auto alignment pairs by line order when the class lists agree line by
    line (spellings may differ), else by normalised name, reporting the matched count and the unmatched."""
    t = tmp_path / "theirs.tsv"
    t.write_text(
        "class_index\tname\tmatched\trelevant\n0\tCat\t10\t5\n1\tdog\t20\t\n2\tRed Fox\t30\t7\n"
        "3\towl\t40\t9\n4\tcat\t1\t1\n"
    )
    s = read_profile(f"{t}:matched")
    assert s.name == "theirs:matched" and s.tolist() == [10, 20, 30, 40, 1]
    assert list(s.index) == ["Cat", "dog", "Red Fox", "owl", "cat"]
    with pytest.raises(ValueError, match=r"theirs.tsv:3 \(column 'relevant'\): count '' is not a number"):
        read_profile(f"{t}:relevant")
    with pytest.raises(ValueError, match="no column 'nope'; columns: class_index, name, matched, relevant"):
        read_profile(f"{t}:nope")
    a = read_profile(files[0])  # cat dog fox owl
    row = compare_profiles(a, [s], align="auto").iloc[1]
    assert row["aligned_by"] == "name" and row["matched"] == 3 and row["unmatched"] == "fox"
    same_order = write(tmp_path / "S.tsv", [("CAT", 4), ("Dog", 3), ("vulpes", 2), ("owl", 1)])
    row = compare_profiles(a, [read_profile(same_order)], align="auto").iloc[1]
    assert row["aligned_by"] == "order" and row["matched"] == 4 and row["spearman"] == pytest.approx(-1.0)
    assert freq_cli.main(["compare", "--reference", str(files[0]), f"{t}:matched", "--csv"]) == 0
    assert ",3,name," in capsys.readouterr().out


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared frequency files are absent")
def test_the_paper_counts_against_parashar_et_al(capsys):
    nt = SHARED.parent / "neglected_tails"
    assert (
        freq_cli.main(
            [
                "compare",
                "--reference",
                str(SHARED / "class_frequency_laion400m_imagenet_ori.txt"),
                f"{nt / 'imagenet_1k__laion400m.tsv'}:relevant",
                "--csv",
            ]
        )
        == 0
    )
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert (
        out.loc[1, "matched"] == 1000 and out.loc[1, "aligned_by"] == "order" and out.loc[1, "spearman"] > 0.7
    )
    assert (
        freq_cli.main(
            [
                "compare",
                "--reference",
                str(SHARED / "class_frequency_laion400m_pets.txt"),
                f"{nt / 'oxford_pets__laion400m.tsv'}:relevant",
                "--csv",
            ]
        )
        == 0
    )
    out = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert out.loc[1, "aligned_by"] == "name" and 0 < out.loc[1, "matched"] < 37
