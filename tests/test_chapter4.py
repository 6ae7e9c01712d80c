"""Chapter 4: the relevance filter, DTD's rule, binned trends, the real-data tables and C12 on smoke runs."""

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED_DATA

from studylib.captions.relevance import confusable_concepts, relevant_matches
from studylib.chapters import CONTRACT, ch04, realdata, worlds


def test_confusable_concepts_share_a_synonym():
    assert confusable_concepts([("crane", "bird"), ("Crane ", "machine"), ("owl",)]) == [{1}, {0}, set()]


def test_the_relevance_filter_keeps_the_closer_concept():
    concept_vectors = np.eye(3)
    captions = np.array([[0.9, 0.1, 0.0], [0.2, 0.8, 0.0], [0.0, 0.0, 1.0]])
    # caption 0 names concepts 0 and 1 (closer to 0); caption 1 names concept 0 only, but 0 and 1 are homonyms;
    # caption 2 names concept 2, which has no rival
    keep = relevant_matches([0, 0, 1, 2], [0, 1, 0, 2], captions, concept_vectors, [{1}, {0}, set()])
    assert keep.tolist() == [True, False, False, True]


def test_chapter4_keeps_the_contract_and_reads_chapter_2s_and_2cs_runs():
    import inspect

    from studylib.session import Session

    assert all(hasattr(ch04, attr) for attr in CONTRACT) and not hasattr(ch04, "summary")
    assert list(inspect.signature(ch04.claims).parameters) == ["session", "runs_by_seed"]
    assert ch04.AFTER == ("02_imbalance", "02c_data_distribution")
    assert isinstance(ch04.full_adds("quick"), str)
    s = Session(ch04.NAME, "quick", sizes=ch04.SIZES, progress=False)
    specs = ch04.specs(s)
    two = worlds.imbalance_specs(Session("02_imbalance", "quick", sizes=worlds.IMBALANCE, progress=False))
    assert specs["CLIP"].params == two["CLIP"].params and specs["SL"].params == two["SL"].params
    c = Session("02c_data_distribution", "quick", sizes=worlds.DISTRIBUTION, progress=False)
    coarse, fine = specs["coarse (random concepts)"].params, specs["fine-grained (dogs)"].params
    for key in ("width", "text_width", "embed_dim", "epochs", "render", "test_domains"):
        assert coarse[key] == fine[key] == c.params[key]  # chapter 2c's models and world, cut to 100 classes
    assert coarse["n_classes"] == fine["n_classes"] == min(c.params["n_classes"], ch04.CONCEPT_SET_CLASSES)
    assert fine["subset"] == "subtree:dogs" and coarse["n_train"] == fine["n_train"]
    assert specs["fine-grained (dogs)"].params["subset"] == "subtree:dogs"


def _pairs(dtd_noise: float, other_noise: float, n: int = 60):
    """concept set -> (paper's counts, theirs): theirs = paper's × lognormal noise (more noise, less
    agreement)."""
    rng = np.random.default_rng(0)
    out = {}
    for name, noise in (("DTD", dtd_noise), ("Food", other_noise), ("CUB", other_noise / 2)):
        a = rng.lognormal(5, 2, n)
        out[name] = (a, a * rng.lognormal(0, noise, n))
    return out


def test_dtd_is_the_exception_only_when_it_agrees_less_than_the_least_agreeing_other_set():
    assert ch04.dtd_part(_pairs(3.0, 0.3), "X").verdict == "reproduced"
    assert ch04.dtd_part(_pairs(0.3, 3.0), "X").verdict == "opposite"
    part = ch04.dtd_part(_pairs(1.0, 1.0), "X")
    assert part.verdict == "inconclusive" and "Food" in part.name  # the lowest other set


def test_bin_trend_in_units_of_the_rarest_bins_spread():
    t = pd.DataFrame(
        {
            "model": "m",
            "measure": "accuracy",
            "centre": [1.0, 10.0],
            "mean": [0.2, 0.5],
            "std": [0.1, 0.2],
            "n": [5, 5],
        }
    )
    row = ch04.bin_trend(t).iloc[0]
    assert row["difference"] == pytest.approx(0.3) and row["in rarest-bin stds"] == pytest.approx(3.0)


@pytest.mark.skipif(not (SHARED_DATA / "neglected_tails").is_dir(), reason="../shared is absent")
def test_real_estimators_and_concept_sets():
    t = ch04.estimator_agreement(SHARED_DATA)
    imagenet = t[(t["concept set"] == "ImageNet") & (t["estimate"] == "relevant")]
    assert (imagenet["matched"] == 1000).all() and (imagenet["spearman"] > 0.7).all()
    dtd = t[(t["concept set"] == "DTD") & (t["estimate"] == "relevant")]
    assert (dtd["spearman"] < imagenet["spearman"].min()).all()
    assert t.loc[t["concept set"] == "EuroSAT", "unmatched"].str.contains("not available").any()
    assert set(ch04.aligned_pairs(SHARED_DATA)) >= {"ImageNet", "DTD", "EuroSAT"}
    imb = ch04.concept_set_imbalance(SHARED_DATA)
    assert set(imb["concept set"]) == set(ch04.CONCEPT_SETS) and (imb["gini"] > 0.5).all()


def test_without_the_users_folder_only_the_shipped_data_is_read(tmp_path):
    """A fresh clone: the paper's profiles ship (Fig 12 is drawn from them); Parashar et al.'s counts do not
    (no licence), so the estimator comparison is None and the chapter says why."""
    assert ch04.estimator_agreement(tmp_path) is None and ch04.aligned_pairs(tmp_path) == {}
    imb = ch04.concept_set_imbalance(tmp_path)
    assert set(imb["concept set"]) == set(ch04.CONCEPT_SETS) and (imb["gini"] > 0.5).all()
    assert ch04.SHARED_FREQUENCIES == realdata.PACKAGED / "frequencies"


def test_the_shipped_real_data_is_the_shared_data_byte_for_byte():
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared is absent")
    for name in realdata.SHIPPED:
        mine = sorted(p.name for p in (realdata.PACKAGED / name).iterdir() if p.suffix != ".md")
        assert mine == sorted(p.name for p in (SHARED_DATA / name).iterdir())
        for f in mine:
            assert (realdata.PACKAGED / name / f).read_bytes() == (SHARED_DATA / name / f).read_bytes()
    assert (realdata.PACKAGED / name / "README.md").is_file()
    assert realdata.real_folder(None, "neglected_tails") is None
    assert realdata.real_folder(SHARED_DATA, "neglected_tails") == SHARED_DATA / "neglected_tails"


def test_c12_and_scores_on_chapter_2s_smoke_runs():
    from studylib.claims import VERDICTS
    from studylib.session import Session

    s = Session(ch04.NAME, "smoke", sizes=ch04.SIZES, progress=False)
    by_seed = {0: s.run_all(ch04.specs(s))}
    runs = ch04.imbalance_runs(by_seed[0])
    scores = ch04.scores(runs)
    assert set(scores["method"]) == set(ch04.METHODS) and len(scores) == 2 * len(ch04.METHODS)
    assert scores[["top1", "balanced", "tail"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (scores["tail lo"] <= scores["tail"]).all() and (scores["tail"] <= scores["tail hi"]).all()
    assert (scores["chance"] == 1 / s.params["n_classes"]).all()
    rows = ch04.claims(s, by_seed)
    assert [r["claim"][:4] for r in rows] == ["C12:", "C12:", "Fig "]
    assert {r["verdict"] for r in rows} <= set(VERDICTS)
    assert all(r["quantity"] for r in rows)
    adj = ch04.adjusted_logits(runs["CLIP"])
    assert np.isclose(adj["priors"]["oracle"].sum(), 1) and len(adj["heldout"]) > 0
    binned = ch04.binned_statistics(runs, edges=[1, 10, 100, 1000])
    assert set(binned["measure"]) == {"accuracy", "predictions"} and "std" in binned
    assert (
        by_seed[0]["fine-grained (dogs)"].per_class["class_name"].nunique()
        == worlds.DISTRIBUTION["smoke"]["n_classes"]
    )


def test_unpaired_difference_of_correlations_on_different_class_sets():
    from studylib.inference import unpaired_difference

    rng = np.random.default_rng(0)
    fa, fb = rng.integers(1, 1000, 80), rng.integers(1, 1000, 60)
    strong = unpaired_difference(fa + rng.normal(0, 50, 80), fa, rng.normal(0, 1, 60), fb)
    assert strong["a"] > 0.9 and abs(strong["b"]) < 0.35 and strong["lo"] > 0.4
    same = unpaired_difference(rng.normal(0, 1, 80), fa, rng.normal(0, 1, 60), fb, seed=1)
    assert same["lo"] < 0 < same["hi"]
    with pytest.raises(ValueError, match=">= 4 classes"):
        unpaired_difference([1, 2, 3], [1, 2, 3], [1, 2, 3, 4], [1, 2, 3, 4])


def test_prior_summary_and_real_runs_on_smoke_runs():
    from studylib.session import Session

    s = Session(ch04.NAME, "smoke", sizes=ch04.SIZES, progress=False)
    runs = ch04.imbalance_runs(s.run_all(ch04.specs(s)))
    t = ch04.prior_summary(runs)
    assert set(t["method"]) == {"oracle", "unlabelled", "labelled (GLA)"}
    assert (t.loc[t["method"] == "oracle", "Spearman with the true prior"] > 0.99).all()
    assert ch04.real_runs(s.registry) == {}  # world runs only
