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
    assert len(captions) == 3 and {sp.params["objective"] for sp in captions.values()} == {"clip"}
    full = Session(ch02b.NAME, "full", sizes=ch02b.SIZES, progress=False)
    assert len(ch02b.caption_specs(full)) == 6 + len(ch02b.MIXES)
    assert [(sp.params["vocab_k"], sp.params["vocab_weighting"]) for sp in vocab.values()] == list(ch02b.VOCAB["quick"])


def test_similarity_keeps_cut_every_threshold_to_the_same_size(tiny_params):
    from studylib.chapters import ch02c
    from studylib.config import world_config
    from studylib.world import make_world

    w = make_world(world_config(tiny_params, n_train=600, caption_image_words=1.0, source="encyclopedia"))
    keeps = ch02c.similarity_keeps(w, "quick", seed=3)
    assert list(keeps) == list(ch02c.QUANTILES["quick"])
    assert {len(k) for k in keeps.values()} == {300} and all((np.diff(k) > 0).all() for k in keeps.values())
    again = ch02c.similarity_keeps(w, "quick", seed=3)                          # seeded
    assert all(np.array_equal(keeps[q], again[q]) for q in keeps)
    x = w.train.images.float().flatten(1) / 255
    low, high = (ch02c.within_class_diversity(x, w.train.labels, keeps[q]) for q in ch02c.QUANTILES["quick"])
    assert high < low                                                           # a higher threshold: less diverse


def test_data_distribution_specs_and_the_pretraining_dependency():
    from studylib.chapters import ch02c, ch02d
    from studylib.chapters.pretraining import pretraining_spec
    from studylib.session import Session

    s = Session(ch02c.NAME, "quick", sizes=ch02c.SIZES, progress=False)
    specs = ch02c.specs(s, keeps={0.0: np.arange(10), 0.5: np.arange(10, 20)})
    pre = pretraining_spec(s)
    assert pre.params["n_classes"] == 1000 and pre.params["subset"] == "all" and pre.params["world_seed"] == 1000
    assert pre.params["n_train"] == 10000
    pretrained = [sp for label, sp in specs.items() if label.endswith("pretrained")]
    assert pretrained and all(sp.deps["text_init"].params == pre.params for sp in pretrained)
    assert all(sp.params["text_tower"] == "init" for sp in pretrained)
    assert {label for label in specs if "similarity" in label} == {"similarity ≥ q0, scratch", "similarity ≥ q0.5, scratch"}
    # chapter 2d shares the world, so CLIP scratch and init at the full data are chapter 2c's runs
    d = ch02d.specs(Session(ch02d.NAME, "quick", sizes=ch02d.SIZES, progress=False))
    assert d["CLIP, scratch ×1"].params == specs["Zipf α=1, scratch"].params
    assert d["CLIP, init ×1"].params == specs["Zipf α=1, pretrained"].params
    assert d["SL, frozen prototypes ×1"].deps["prototypes"].params == pre.params
    assert sorted(d) == sorted([*(f"{m} ×1" for m in ch02d.MODELS), "CLIP, scratch ×0.25"])   # quick: one small run


def test_nc1_difference_is_paired_over_classes():
    from studylib.chapters import ch02d

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(8), 10)
    means = rng.normal(size=(8, 6)) * 3

    class FakeRun:
        def __init__(self, spread):
            self.arrays = {"features_photo": means[labels] + rng.normal(0, spread, (80, 6)),
                           "labels_photo": labels, "feature_index_photo": np.arange(80)}

        def array(self, name):
            return self.arrays[name]

    wide, tight = FakeRun(1.0), FakeRun(0.2)
    d = ch02d.nc1_difference(wide, tight, n_boot=100)
    assert d["lo"] > 0 and d["lo"] <= d["diff"] <= d["hi"]
    from studylib.metrics import nc1, nc1_terms

    for run in (wide, tight):                            # the per-class terms add up to NC1 itself
        feats, labs = run.arrays["features_photo"], run.arrays["labels_photo"]
        assert nc1_terms(feats, labs).sum() == pytest.approx(nc1(feats, labs))
    assert d["diff"] == pytest.approx(nc1(wide.arrays["features_photo"], labels)
                                      - nc1(tight.arrays["features_photo"], labels))
    other = FakeRun(1.0)
    other.arrays["feature_index_photo"] = np.arange(80)[::-1]
    with pytest.raises(ValueError, match="same test images"):
        ch02d.nc1_difference(wide, other)


def test_part_verdicts_and_rows_join_each_parts_comparisons():
    t = pd.DataFrame({"part": ["a", "b", "a", "b"], "head": ["x", "x", "y", "y"], "difference": [0.1, 0.2, 0.3, 0.4],
                      "verdict": [WORDS["reproduced"], WORDS["opposite"], WORDS["reproduced"], WORDS["inconclusive"]]})
    assert ch02.part_verdicts(t) == {"a": WORDS["reproduced"], "b": WORDS["opposite"]}
    assert ch02.part_verdicts(t, counted=t["head"] == "y") == {"a": WORDS["reproduced"], "b": WORDS["inconclusive"]}
    rows = ch02.part_rows("ch", t, ch02.part_verdicts(t), lambda r: f"{r.head} {r.difference}", prefix="C: ")
    assert rows[0] == {"chapter": "ch", "claim": "C: a", "verdict": WORDS["reproduced"], "result": "x 0.1; y 0.3"}


def test_what_full_adds_is_named_from_the_sweeps():
    from studylib.chapters import ch02c, ch02d

    assert ch02.beyond((0.125, 0.25, 1.0), (0.25, 1.0)) == "0.125" and ch02.beyond((1,), (1,)) == "none"
    text = ch02b.full_adds("quick")
    assert "data fractions 0.125, 0.5" in text and "vocabulary sizes 128, 200" in text and "title" in text
    assert "Zipf α 0.5, 1.5" in ch02c.full_adds("quick") and "threshold variants" in ch02c.full_adds("quick")
    assert "0.03125, 0.125, 0.5" in ch02d.full_adds("quick") and "here only CLIP, scratch" in ch02d.full_adds("quick")


def test_not_run_names_the_first_missing_runs():
    from studylib.chapters.stored import not_run

    assert not_run("ch", {"a": object()}) == []
    row = not_run("ch", {"b": None, "a": None}, {"c": None, "d": None})
    assert row == [{"chapter": "ch", "claim": "all claims", "result": "not run yet (a, b, c, …)", "verdict": "not run"}]


def test_robustness_averages_the_runs_own_shifted_test_sets():
    class FakeRun:
        key = "k"
        metrics = {"id_domain": "photo"}

        def __init__(self, rows):
            self.per_class = pd.DataFrame(rows, columns=["class_index", "domain", "accuracy"])

    run = FakeRun([(1, "photo", 0.9), (0, "photo", 0.8), (0, "sketch", 0.2), (0, "v2", 0.4), (1, "sketch", 0.0),
                   (1, "v2", 0.6)])
    assert np.allclose(ch02.robustness(run), [0.3, 0.3])                 # classes in order, photo left out
    with pytest.raises(ValueError, match="no shifted test set"):
        ch02.robustness(FakeRun([(0, "photo", 0.5)]))
