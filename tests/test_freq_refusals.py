"""`freq count` refuses what it cannot count (issue 28): each case exits 2, names the problem, writes nothing.

Before this, each of these wrote 1000 zero rows (or overwrote the captions) and exited 0."""

from __future__ import annotations

import pytest

from studylib.cli.main import main


@pytest.fixture
def caps(tmp_path):
    txt = tmp_path / "caps.txt"
    txt.write_text("a photo of a goldfish\na tench in a net\n")
    tsv = tmp_path / "caps.tsv"
    tsv.write_text("id\tTEXT\n1\ta photo of a goldfish\n2\ta tench in a net\n")
    return tmp_path, txt, tsv


def _count(*args):
    return main(["freq", "count", "--no-progress", *map(str, args)])


def test_a_missing_column_is_refused(caps, capsys):
    tmp, _, tsv = caps
    assert _count("--input", tsv, "--column", "NOPE", "--out", tmp / "o.tsv") == 2
    assert "NOPE" in capsys.readouterr().err and not (tmp / "o.tsv").exists()


def test_a_tsv_without_column_is_refused(caps, capsys):
    tmp, _, tsv = caps
    assert _count("--input", tsv, "--out", tmp / "o.tsv") == 2
    assert "--column" in capsys.readouterr().err and not (tmp / "o.tsv").exists()


def test_a_format_that_contradicts_the_extension_is_refused(caps, capsys):
    tmp, txt, _ = caps
    assert _count("--input", txt, "--format", "parquet", "--out", tmp / "o.tsv") == 2
    assert "format" in capsys.readouterr().err and not (tmp / "o.tsv").exists()


def test_zero_readable_captions_are_refused_unless_allowed(caps, capsys):
    tmp, _, _ = caps
    empty = tmp / "empty.txt"
    empty.write_text("")
    assert _count("--input", empty, "--out", tmp / "o.tsv") == 2
    assert "no readable caption" in capsys.readouterr().err and not (tmp / "o.tsv").exists()
    assert _count("--input", empty, "--out", tmp / "o.tsv", "--allow-empty") == 0
    assert (tmp / "o.tsv").exists()


def test_the_output_may_not_be_an_input(caps, capsys):
    tmp, txt, _ = caps
    before = txt.read_text()
    assert _count("--input", txt, "--out", txt) == 2
    assert "is also an input" in capsys.readouterr().err and txt.read_text() == before


def test_the_same_input_twice_is_refused(caps, capsys):
    tmp, txt, _ = caps
    assert _count("--input", txt, str(tmp / "*.txt"), "--out", tmp / "o.tsv") == 2
    assert "more than once" in capsys.readouterr().err and not (tmp / "o.tsv").exists()


@pytest.mark.parametrize(
    "option, value", [("--workers", "-3"), ("--batch-size", "0"), ("--negative-window", "-1")]
)
def test_out_of_range_options_are_refused(caps, capsys, option, value):
    tmp, txt, _ = caps
    assert _count("--input", txt, option, value, "--out", tmp / "o.tsv") == 2
    assert option in capsys.readouterr().err and not (tmp / "o.tsv").exists()
