"""Chapter 2's analysis functions on constructed tables and, where present, the shared real profiles."""
import numpy as np
import pandas as pd
import pytest

from conftest import SHARED_DATA
from studylib.chapters import ch02, ch02b
from studylib.inference import WORDS


def test_real_profiles_absent_folder_is_none(tmp_path):
    assert ch02.real_profiles(tmp_path / "nowhere") is None
    (tmp_path / "class_frequency_laion400m_imagenet_ori.txt").write_text("tench\t3\n")
    with pytest.raises(FileNotFoundError, match="laion2b_imagenet_ori"):
        ch02.real_profiles(tmp_path)


@pytest.mark.skipif(not (SHARED_DATA / "frequencies").is_dir(), reason="../shared is absent")
def test_real_corpora_share_the_long_tail():
    """The paper's Fig 1a: the web corpora's ImageNet profiles correlate with LAION-400M's; ImageNet-Captions,
    a class-balanced curation, much less; LAIONet's correlation falls as its threshold rises."""
    table = ch02.long_tail_table(ch02.real_profiles(SHARED_DATA / "frequencies")).set_index("name")
    assert list(table.index[:2]) == ["LAION-400M", "LAION-2B"] and (table["classes"] == 1000).all()
    assert table.loc["LAION-2B", "spearman"] > 0.9 and table.loc["ImageNet-Captions", "spearman"] < 0.5
    laionet = table.loc[list(ch02.LAIONET), "spearman"].to_numpy()
    assert (np.diff(laionet) < 0).all()


def _rows(diffs, halfwidth):
    return pd.DataFrame({"difference": diffs, "lo": np.subtract(diffs, halfwidth), "hi": np.add(diffs, halfwidth)})


def test_c3_verdicts_need_every_point_and_separate_consistent_from_reproduced():
    all_less = ch02b.c3_verdicts(_rows([-0.2, -0.3], 0.1))
    assert set(all_less.values()) == {WORDS["reproduced"]}
    mixed = ch02b.c3_verdicts(_rows([-0.2, -0.05], 0.1))            # the second point's interval holds 0
    assert list(mixed.values()) == [WORDS["inconclusive"], WORDS["consistent"]]
    worse = ch02b.c3_verdicts(_rows([-0.2, 0.3], 0.1))
    assert list(worse.values()) == [WORDS["opposite"], WORDS["opposite"]]


def test_c2_verdict_needs_both_halves():
    rows = lambda *w: pd.DataFrame({"verdict": list(w)})
    assert ch02b.c2_verdict(rows(WORDS["reproduced"], WORDS["reproduced"])) == WORDS["reproduced"]
    assert ch02b.c2_verdict(rows(WORDS["reproduced"], WORDS["inconclusive"])) == WORDS["inconclusive"]
    assert ch02b.c2_verdict(rows(WORDS["opposite"], WORDS["reproduced"])) == WORDS["opposite"]


def test_sweep_specs_change_one_factor_each():
    from studylib.session import Session

    s = Session(ch02b.NAME, "quick", sizes=ch02b.SIZES, progress=False)
    scale, captions, vocab = ch02b.scale_specs(s), ch02b.caption_specs(s), ch02b.vocab_specs(s)
    assert scale[ch02b.SL].params == s.spec("x", objective="sl").params              # full data = the default run
    assert sorted(sp.params["n_train"] for label, sp in scale.items() if label.startswith("CLIP")) == [2250, 9000]
    assert [sp.params["caption_mix"] for sp in captions.values()][0] == (1.0, 0, 0, 0, 0, 0)
    assert len(captions) == 4 and {sp.params["objective"] for sp in captions.values()} == {"clip"}
    full = Session(ch02b.NAME, "full", sizes=ch02b.SIZES, progress=False)
    assert len(ch02b.caption_specs(full)) == 6 + len(ch02b.MIXES)
    assert [(sp.params["vocab_k"], sp.params["vocab_weighting"]) for sp in vocab.values()] == list(ch02b.VOCAB["quick"])
