"""Tests of studylib.profiles: count files, correlations, imbalance, figure, CLI."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studylib import freq_cli
from studylib.profiles import (align_profiles, compare_profiles, correlations, gini,
                               imbalance_stats, plot_ranked_frequencies, read_profile, zipf_alpha)

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
    assert list(table.reset_index().columns) == ["name", "classes", "total", "spearman", "kendall",
                                                 "max_over_median", "gini", "zipf_alpha"]


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
    assert zipf_alpha(1e6 * ranks ** -1.5) == pytest.approx(1.5)
    assert zipf_alpha(np.r_[1e6 * ranks ** -0.7, 0, 0]) == pytest.approx(0.7)  # zeros ignored
    st = imbalance_stats([0, 0, 3])
    assert st["max_over_median"] == float("inf") and st["classes"] == 3
    assert np.isnan(correlations([1, 1, 1], [1, 2, 3])["spearman"])


def test_bad_profile_files(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("cat\t1\ndog two\n")
    with pytest.raises(ValueError, match=r"bad.tsv, line 2: expected 'classname<TAB>count'"):
        read_profile(bad)
    bad.write_text("cat\tmany\n")
    with pytest.raises(ValueError, match="line 1: count 'many' is not a number"):
        read_profile(bad)
    with pytest.raises(FileNotFoundError):
        read_profile(tmp_path / "none.tsv")


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
    assert freq_cli.main(["compare", "--reference", str(files[0]), str(d)]) == 2
    assert "--align order" in capsys.readouterr().err


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
    assert freq_cli.main(["compare", "--reference", str(files[0]), str(files[1]),
                          "--figure", str(tmp_path / "f.png")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 1000


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared frequency files are absent")
def test_real_profiles():
    ref = read_profile(SHARED / "class_frequency_laion400m_imagenet_ori.txt")
    others = [read_profile(SHARED / f"class_frequency_{n}_imagenet_ori.txt")
              for n in ("laion2b", "cc12m", "yfcc15m", "incaps")]
    t = compare_profiles(ref, others).set_index("name")
    assert (t["classes"] == 1000).all()
    assert t.loc["class_frequency_laion2b_imagenet_ori", "spearman"] > 0.95
    assert t.loc["class_frequency_cc12m_imagenet_ori", "spearman"] > 0.8
    # web corpora are far more imbalanced than ImageNet-Captions
    assert t.loc["class_frequency_laion400m_imagenet_ori", "gini"] > \
        2 * t.loc["class_frequency_incaps_imagenet_ori", "gini"]
    assert 1 < t.loc["class_frequency_laion400m_imagenet_ori", "zipf_alpha"] < 3


def test_add_parser_mounts_on_a_cli(files, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="studylib")
    freq_cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["freq", "compare", "--reference", str(files[0]), str(files[2]),
                              "--csv"])
    assert args.func(args) == 0
    assert capsys.readouterr().out.splitlines()[2].startswith("C,4,10,-1,-1,")
