"""Tests of studylib.captions counting: matching rules, inputs, bad input, outputs, scoring."""

from __future__ import annotations

import io
import json
import random
import tarfile

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studylib.captions.counting import count_captions, count_files
from studylib.captions.matching import match_reference
from studylib.captions.patterns import ConceptSpec, build_patterns, plural_forms, tokenize
from studylib.captions.readers import detect_format
from studylib.captions.results import write_counts_parquet, write_counts_tsv, write_matches_parquet
from studylib.captions.scoring import estimation_scores, estimation_section, estimation_table, score_matches

SPECS = [
    ConceptSpec("ram", ("ram", "tup"), ("memory", "ddr4")),
    ConceptSpec("construction crane", ("construction crane", "crane"), ("bird", "whooping")),
    ConceptSpec("crane bird", ("crane bird", "crane"), ("construction",)),
    ConceptSpec("computer mouse", ("computer mouse", "mouse")),
    ConceptSpec("great white shark", ("great white shark", "white shark", "man-eater")),
    ConceptSpec("puppy", ("puppy",)),
    ConceptSpec("jack-o'-lantern", ("jack-o'-lantern",)),
    ConceptSpec("tomato", ("tomato",)),
]
NAMES = [s.name for s in SPECS]


@pytest.fixture(scope="module")
def pat():
    return build_patterns(SPECS)


@pytest.fixture(scope="module")
def imagenet():
    return build_patterns("imagenet")


def names_of(caption, pat, **kw):
    res = count_captions([caption], pat, keep_matches=True, **kw)
    return sorted(pat.names[i] for i in res.matches_by_caption()[0])


# --- matching rules ----------------------------------------------------------


def test_tokenize_rules():
    assert tokenize("The Dog's BOWL, man-eater!") == ["the", "dogs", "bowl", "man-eater"]
    assert tokenize("jack-o\u2019-lantern \u201cx\u201d\u2014y 😀z") == ["jack-o-lantern", "x", "y", "z"]
    assert tokenize("a--b -c d- e\u2010f umbrella-like") == ["a", "b", "c", "d", "e", "f", "umbrella-like"]
    assert tokenize("café_naïve") == ["café", "naïve"]


def test_word_boundaries(pat):
    assert names_of("a new program", pat) == []
    assert names_of("programming with grammar", pat) == []
    assert names_of("a ram in the field", pat) == ["ram"]
    assert names_of("RAM!", pat) == ["ram"]


def test_plurals_and_inflections(pat):
    assert names_of("three rams", pat) == ["ram"]
    assert names_of("two puppies", pat) == ["puppy"]
    assert names_of("mice everywhere", pat) == ["computer mouse"]
    assert names_of("tomatoes and tomatos", pat) == ["tomato"]
    assert names_of("great white sharks", pat) == ["great white shark"]
    assert plural_forms("glass") == ("glasses",)
    assert plural_forms("sheep") == ()


def test_hyphens_and_apostrophes(pat):
    for cap in ["a man-eater", "a man eater", "the maneater", "Man-Eaters"]:
        assert names_of(cap, pat) == ["great white shark"], cap
    for cap in ["jack-o'-lantern", "jack o lantern", "Jack-O\u2019-Lanterns"]:
        assert names_of(cap, pat) == ["jack-o'-lantern"], cap
    assert names_of("the puppy's toy", pat) == ["puppy"]


def test_negative_contexts(pat):
    assert names_of("a crane on a construction site", pat) == ["construction crane"]
    assert names_of("a whooping crane", pat) == ["crane bird"]
    assert names_of("a crane", pat) == ["construction crane", "crane bird"]
    assert names_of("ram with ddr4 memory", pat) == []
    # with a window, a far-away negative no longer blocks the mention
    far = "ram grazing on a hill far away from any memory"
    assert names_of(far, pat, negative_window=2) == ["ram"]
    assert names_of("ram memory", pat, negative_window=2) == []
    assert names_of("a crane", build_patterns(SPECS, negatives=False)) == ["construction crane", "crane bird"]


def test_imagenet_negatives(imagenet):
    got = names_of("A crane lifting steel at the construction site", imagenet)
    assert "construction crane" in got and "crane bird" not in got
    assert "crane bird" in names_of("whooping crane in a marsh", imagenet)
    assert len(imagenet.names) == len(set(imagenet.names)) == 1000


def test_multi_and_single_label(pat):
    caps = ["a puppy and a ram", "a puppy", "a tomato", "nothing here", "a crane"]
    multi = count_captions(caps, pat)
    single = count_captions(caps, pat, single_label=True)
    assert dict(zip(NAMES, multi.counts))["puppy"] == 2
    assert multi.counts.sum() == 6 and multi.n_matched == 4 and multi.n_multi == 2
    assert single.counts.sum() == 2  # "a puppy", "a tomato"
    assert dict(zip(NAMES, single.counts))["puppy"] == 1
    assert single.n_multi == 2


def _fuzz_captions(n, seed=0):
    rnd = random.Random(seed)
    words = [
        "crane",
        "construction",
        "great",
        "white",
        "shark",
        "sharks",
        "puppy's",
        "man-eater",
        "ram",
        "program",
        "jack-o'-lantern",
        "mice",
        "memory",
        "bird",
        "tomatoes",
        "the",
    ]
    junk = list("ab '`´‘’-_.,!é×—“\u00a0\u3000\ufe0f\ufeff\ufffd😀Ж中\t\r")
    out = []
    for _ in range(n):
        parts = [
            rnd.choice(words)
            if rnd.random() < 0.6
            else "".join(rnd.choice(junk) for _ in range(rnd.randint(1, 3)))
            for _ in range(rnd.randint(0, 7))
        ]
        out.append(rnd.choice([" ", "", "'", "-"]).join(parts))
    return out


@pytest.mark.parametrize("window", [None, 0, 2])
def test_vectorised_equals_reference(pat, window):
    caps = _fuzz_captions(1500, seed=window or 0)
    res = count_captions(caps, pat, keep_matches=True, negative_window=window, batch_size=97)
    got = res.matches_by_caption()
    for cap, g in zip(caps, got):
        assert g.tolist() == sorted(match_reference(cap, pat, window)), cap
    assert res.counts.sum() == sum(len(match_reference(c, pat, window)) for c in caps)


def test_imagenet_matches_reference(imagenet):
    from studylib.concepts import load_concepts

    rnd = random.Random(1)
    syn = [s for c in load_concepts() for s in c.synonyms]
    caps = [
        " ".join(
            rnd.choice(syn + ["a", "the", "photo", "of", "program", "sites"])
            for _ in range(rnd.randint(1, 6))
        )
        for _ in range(400)
    ]
    res = count_captions(caps, imagenet, keep_matches=True)
    for cap, g in zip(caps, res.matches_by_caption()):
        assert g.tolist() == sorted(match_reference(cap, imagenet)), cap


def test_arrow_and_list_inputs_agree(pat):
    caps = _fuzz_captions(500, seed=3) + [None, ""]
    a = count_captions(caps, pat, keep_matches=True, batch_size=128)
    b = count_captions(pa.array(caps, pa.string()), pat, keep_matches=True, batch_size=128)
    c = count_captions((x for x in caps), pat, keep_matches=True, batch_size=128)
    for r in (b, c):
        assert np.array_equal(a.counts, r.counts)
        assert np.array_equal(a.match_caption, r.match_caption)
        assert r.problems["null"] == 1 and r.n_captions == len(caps)


def test_workers_equal_single_process(pat):
    caps = _fuzz_captions(3000, seed=5)
    one = count_captions(caps, pat, keep_matches=True, batch_size=256)
    two = count_captions(caps, pat, keep_matches=True, workers=2, batch_size=256)
    assert np.array_equal(one.counts, two.counts)
    assert np.array_equal(one.match_caption, two.match_caption)
    assert two.n_captions == 3000


# --- bad input ---------------------------------------------------------------


def test_bad_strings_counted_not_raised(pat):
    caps = ["a puppy", None, "", "ram \ud800 bytes", 42, b"a tomato"]
    res = count_captions(caps, pat)
    assert res.n_captions == 6
    assert res.problems["null"] == 1 and res.problems["not_text"] == 2
    assert res.problems["empty"] == 1 and res.problems["bad_utf8"] == 1
    assert dict(zip(NAMES, res.counts)) == {**dict.fromkeys(NAMES, 0), "puppy": 1, "ram": 1, "tomato": 1}
    assert "empty captions" in res.summary()


def test_newlines_inside_captions(pat):
    res = count_captions(["a\npuppy", "ram\n"], pat, keep_matches=True)
    assert res.n_captions == 2
    assert [m.tolist() for m in res.matches_by_caption()] == [[5], [0]]


# --- file formats ------------------------------------------------------------

CAPS = [
    "A puppy on the grass",
    "a crane at the construction site",
    "",
    "program code",
    "Great white sharks!",
    "two puppies and a ram",
    "mice",
    "nothing",
    "a tomato",
    "ram",
]


def expected(pat, caps=CAPS):
    return count_captions(caps, pat, keep_matches=True)


def write_inputs(tmp_path):
    (tmp_path / "caps.txt").write_text("\n".join(CAPS) + "\n", encoding="utf-8")
    df = pd.DataFrame({"id": range(len(CAPS)), "TEXT": CAPS})
    df.to_csv(tmp_path / "caps.csv", index=False)
    (tmp_path / "caps.tsv").write_text(
        "id\tTEXT\n" + "".join(f"{i}\t{c}\n" for i, c in enumerate(CAPS)), encoding="utf-8"
    )
    pq.write_table(
        pa.Table.from_pandas(df, preserve_index=False), tmp_path / "caps.parquet", row_group_size=3
    )
    with tarfile.open(tmp_path / "shard-000.tar", "w") as tf:
        for i, c in enumerate(CAPS):
            if i % 2:
                name, data = f"{i:06d}.json", json.dumps({"caption": c, "url": "x"}).encode()
            else:
                name, data = f"{i:06d}.txt", c.encode()
            for n, d in ((f"{i:06d}.jpg", b"\xff\xd8"), (name, data)):
                info = tarfile.TarInfo(n)
                info.size = len(d)
                tf.addfile(info, io.BytesIO(d))
    return tmp_path


@pytest.mark.parametrize("fname", ["caps.txt", "caps.csv", "caps.tsv", "caps.parquet", "shard-000.tar"])
def test_file_formats(tmp_path, pat, fname):
    write_inputs(tmp_path)
    assert pq.ParquetFile(tmp_path / "caps.parquet").num_row_groups == 4
    res = count_files(
        tmp_path / fname,
        pat,
        column=None if fname.endswith(("txt", "tar")) else "TEXT",
        keep_matches=True,
        batch_size=4,
        progress=False,
    )
    exp = expected(pat)
    assert res.n_captions == len(CAPS), res.summary()
    assert np.array_equal(res.counts, exp.counts)
    assert np.array_equal(res.match_caption, exp.match_caption)
    assert res.problems["empty"] == 1
    assert res.messages == [f"{tmp_path / fname}: 1 empty captions"]


def test_many_files_parallel_and_globs(tmp_path, pat):
    write_inputs(tmp_path)
    one = count_files(
        [tmp_path / "caps.parquet", str(tmp_path / "*.txt")],
        pat,
        column="TEXT",
        keep_matches=True,
        progress=False,
    )
    two = count_files(
        [tmp_path / "caps.parquet", str(tmp_path / "*.txt")],
        pat,
        column="TEXT",
        keep_matches=True,
        workers=2,
        progress=False,
    )
    exp = expected(pat, CAPS + CAPS)
    for r in (one, two):
        assert np.array_equal(r.counts, exp.counts)
        assert np.array_equal(r.match_caption, exp.match_caption)
        assert r.source_rows == [len(CAPS), len(CAPS)]


def test_bad_files_counted_with_messages(tmp_path, pat):
    write_inputs(tmp_path)
    (tmp_path / "bad.txt").write_bytes(b"a puppy\n\xff\xfe broken ram\n\n  \nmice\xc3\n")
    with pytest.raises(FileNotFoundError, match="missing.txt' does not exist"):  # a typo is no empty input
        count_files([tmp_path / "bad.txt", tmp_path / "missing.txt"], pat, progress=False)
    res = count_files(
        [tmp_path / "bad.txt", tmp_path / "caps.parquet", tmp_path / "caps.csv"],
        pat,
        column="CAPTION",
        progress=False,
    )
    assert res.problems["bad_utf8"] == 2
    assert res.problems["empty"] == 1
    assert res.problems["missing_column"] == 2
    msg = "\n".join(res.messages)
    assert "caps.parquet: no column 'CAPTION' (columns: id, TEXT)" in msg
    assert "caps.csv: no column 'CAPTION'" in msg
    assert "bad.txt: 2 captions with invalid UTF-8 (decoded with U+FFFD), 1 empty captions" in msg
    assert res.n_captions == 5
    assert dict(zip(NAMES, res.counts))["ram"] == 1 and dict(zip(NAMES, res.counts))["puppy"] == 1


def test_tar_bad_json_and_missing_text(tmp_path, pat):
    with tarfile.open(tmp_path / "s.tar", "w") as tf:
        for n, d in (("a.json", b"{not json"), ("b.jpg", b"x"), ("c.txt", b"puppy")):
            info = tarfile.TarInfo(n)
            info.size = len(d)
            tf.addfile(info, io.BytesIO(d))
    res = count_files(tmp_path / "s.tar", pat, progress=False)
    assert res.n_captions == 3
    assert res.problems["bad_json"] == 1 and res.problems["no_text"] == 1
    assert res.counts.sum() == 1


def test_unknown_format_and_empty_glob(tmp_path, pat):
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format("x.xlsx")
    with pytest.raises(FileNotFoundError, match="matches no file"):
        count_files(str(tmp_path / "*.parquet"), pat, progress=False)


@pytest.mark.timeout(120)
def test_dask_local_cluster(tmp_path, pat):
    pytest.importorskip("dask.distributed")
    write_inputs(tmp_path)
    res = count_files(
        tmp_path / "caps.parquet", pat, column="TEXT", engine="dask", keep_matches=True, progress=False
    )
    exp = expected(pat)
    assert np.array_equal(res.counts, exp.counts)
    assert np.array_equal(res.match_caption, exp.match_caption)


# --- outputs and concept files ----------------------------------------------


def test_outputs(tmp_path, pat):
    res = count_captions(CAPS, pat, keep_matches=True)
    write_counts_tsv(res, tmp_path / "f.tsv")
    lines = (tmp_path / "f.tsv").read_text().splitlines()
    assert lines[0] == "ram\t2" and len(lines) == len(NAMES)
    write_counts_parquet(res, tmp_path / "f.parquet")
    df = pd.read_parquet(tmp_path / "f.parquet")
    assert list(df.columns) == ["class_index", "classname", "count"]
    assert df["count"].tolist() == res.counts.tolist()
    write_matches_parquet(res, tmp_path / "m.parquet")
    m = pd.read_parquet(tmp_path / "m.parquet")
    assert m["caption_id"].tolist() == res.match_caption.tolist()
    assert (m["row"] == m["caption_id"]).all()


def test_concept_files(tmp_path):
    (tmp_path / "c.json").write_text(
        json.dumps({"crane": {"synonyms": ["crane"], "negatives": ["construction"]}, "puppy": ["pup"]})
    )
    (tmp_path / "c.tsv").write_text(
        "name\tsynonyms\tnegatives\n# comment\ncrane\tcrane\tconstruction\npuppy\tpup, puppy dog\n"
    )
    for f in ("c.json", "c.tsv"):
        p = build_patterns(tmp_path / f)
        assert p.names == ["crane", "puppy"]
        r = count_captions(["a crane", "construction crane", "two pups"], p)
        assert r.counts.tolist() == [1, 1]
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(ValueError, match="bad.json: invalid JSON"):
        build_patterns(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_patterns(tmp_path / "none.tsv")


def test_cli_count(tmp_path, capsys):
    from studylib.cli import freq as freq_cli

    write_inputs(tmp_path)
    (tmp_path / "c.json").write_text(json.dumps({s.name: list(s.synonyms) for s in SPECS}))
    rc = freq_cli.main(
        [
            "count",
            "--concepts",
            str(tmp_path / "c.json"),
            "--input",
            str(tmp_path / "caps.parq*"),
            "--column",
            "TEXT",
            "--out",
            str(tmp_path / "f.tsv"),
            "--matches",
            str(tmp_path / "m.parquet"),
            "--workers",
            "1",
            "--no-progress",
        ]
    )
    assert rc == 0
    counts = dict(line.split("\t") for line in (tmp_path / "f.tsv").read_text().splitlines())
    assert counts["puppy"] == "2" and counts["ram"] == "2"
    assert "10 captions" in capsys.readouterr().err
    assert (
        freq_cli.main(["count", "--input", str(tmp_path / "nope*.txt"), "--out", str(tmp_path / "x.tsv")])
        == 2
    )


# --- scoring -----------------------------------------------------------------


def test_score_matches_hand_computed():
    matches = [[0], [0, 1], [], [2], [1]]
    truth = np.array([0, 1, 2, 2, -1])
    groups = ["name", "name", "tags", "tags", "tags"]
    out = score_matches(matches, truth, 3, groups=groups)
    o = out["overall"].iloc[0]
    # predicted pairs 5, true pairs 4, true positives (0,0),(1,1),(3,2) = 3
    assert (o.tp, o.predicted, o.true) == (3, 5, 4)
    assert o.precision == pytest.approx(3 / 5) and o.recall == pytest.approx(3 / 4)
    pc = out["per_concept"].set_index("concept")
    assert pc.loc[2, "recall"] == pytest.approx(0.5) and pc.loc[2, "precision"] == 1.0
    assert pc.loc[1, "precision"] == pytest.approx(0.5)
    # estimated counts (2, 2, 1) vs true (1, 1, 2): spearman -1
    assert o.spearman == pytest.approx(-1.0)
    g = out["per_group"].set_index("group")
    assert g.loc["name", "precision"] == pytest.approx(2 / 3) and g.loc["name", "recall"] == 1.0
    assert g.loc["tags", "precision"] == pytest.approx(1 / 2) and g.loc["tags", "recall"] == 0.5
    gc = out["per_group_concept"]
    assert len(gc) == 6


def test_score_from_frequency_result(pat):
    caps = ["a puppy", "a ram", "a tomato and a puppy", "nothing"]
    truth = [NAMES.index("puppy"), NAMES.index("ram"), NAMES.index("tomato"), -1]
    res = count_captions(caps, pat, keep_matches=True)
    o = score_matches(res, truth, len(NAMES))["overall"].iloc[0]
    assert o.recall == 1.0 and o.precision == pytest.approx(3 / 4)
    with pytest.raises(ValueError, match="true_labels has 2"):
        score_matches(res, truth[:2], len(NAMES))


def test_estimation_scores_from_plain_inputs(pat):
    caps = ["a puppy", "a ram", "a tomato and a puppy", "nothing", "two puppies", "a ram"]
    truth = [NAMES.index(n) for n in ("puppy", "ram", "tomato", "puppy", "puppy", "tomato")]
    levels = [2, 0, 2, 1, 0, 2]  # indices into level_names
    level_names = ("name", "tags", "text")
    got = estimation_scores(caps, truth, SPECS, levels=levels, level_names=level_names)
    res = count_captions(caps, pat, keep_matches=True)
    want = score_matches(res, truth, len(NAMES), groups=[level_names[i] for i in levels])
    pd.testing.assert_frame_equal(got["overall"], want["overall"])
    pd.testing.assert_frame_equal(got["per_concept"], want["per_concept"])
    # per-group rows follow level_names, not the order of first appearance
    assert got["per_group"]["group"].tolist() == ["name", "tags", "text"]
    assert want["per_group"]["group"].tolist() == ["text", "name", "tags"]
    pd.testing.assert_frame_equal(
        got["per_group"].set_index("group"), want["per_group"].set_index("group").loc[list(level_names)]
    )
    table = estimation_table(got)
    assert table.index.tolist() == ["name", "tags", "text"] and table.index.name == "level"
    assert list(table.columns) == ["captions", "precision", "recall", "f1", "spearman"]
    # "text": (0, puppy) and (2, tomato) right, (2, puppy) and (5, ram) wrong
    assert table.loc["text", "precision"] == pytest.approx(2 / 4)
    text = estimation_section(got, NAMES)
    o = got["overall"].iloc[0]
    assert f"Overall: precision {o.precision:.3f}, recall {o.recall:.3f}" in text
    assert "| level   |   captions |" in text and "Least precise concepts" in text
