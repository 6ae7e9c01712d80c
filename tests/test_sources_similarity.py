import numpy as np
import pandas as pd
import pytest
import torch

from studylib.chapters.ch01 import er_table, fit_trends, group_mean_er, lies_between, pruning_study
from studylib.config import SOURCES, ConfigError, parse_sources, world_config
from studylib.similarity import nearest_similarity, prune_to_distribution, prune_to_similarity
from studylib.spec import resolve
from studylib.world import make_world


def test_parse_sources_and_validation():
    assert parse_sources("flickr") == {"flickr": 1.0}
    assert parse_sources("flickr:1,encyclopedia:3") == {"flickr": 0.25, "encyclopedia": 0.75}
    with pytest.raises(ConfigError, match="unknown source 'reddit'"):
        resolve("smoke", source="reddit")
    with pytest.raises(ConfigError, match="weight 'x' of 'flickr'"):
        resolve("smoke", source="flickr:x")


def test_mixture_world_mixes_styles(tiny_params):
    w = make_world(world_config(tiny_params, source="flickr:0.5,encyclopedia:0.5"))
    names = np.array(list(SOURCES))[w.train.source]
    assert set(names) == {"flickr", "encyclopedia"}
    assert 0.35 < (names == "flickr").mean() < 0.65
    # encyclopedia captions are descriptions/full text; flickr ones mostly titles and tags
    enc_levels = w.train.caption_level[names == "encyclopedia"]
    assert np.isin(enc_levels, [0, 1, 4, 5]).all()
    # the test sets do not depend on the training source
    web = make_world(world_config(tiny_params))
    assert torch.equal(w.test["photo"].images, web.test["photo"].images)


def test_caption_mined_labels_name_exactly_one_class(tiny_params):
    from studylib.data.world_data import caption_labels

    wc = world_config(tiny_params)
    labels = caption_labels(wc)
    w = make_world(wc)
    assert ((labels == -1) | ((labels >= 0) & (labels < len(w.concepts)))).all()
    named = labels >= 0
    assert 0.5 < named.mean() < 1.0
    # where the caption names exactly its own concept, the mined label is the true one
    own = np.array([m == (int(y),) for m, y in zip(w.train.caption_mentions, w.train.labels)])
    assert (labels[own & named] == w.train.labels[own & named]).mean() > 0.9


def test_training_on_a_subset_is_keyed_and_counted(tmp_path, tiny_params):
    from studylib.pipeline import run
    from studylib.registry import Registry
    from studylib.spec import RunSpec

    reg = Registry(tmp_path)
    keep = np.arange(0, tiny_params["n_train"], 2)
    params = {**tiny_params, "objective": "sl"}
    half = run(RunSpec(params, label="half", train_subset=keep), registry=reg, progress=False)
    full = run(RunSpec(params, label="full"), registry=reg, progress=False)
    assert half.key != full.key and half.config["subset"]["n"] == len(keep)
    w = make_world(world_config(params))
    photo = half.per_class[half.per_class["domain"] == "photo"]
    assert (
        photo["train_count"].tolist() == np.bincount(w.train.labels[keep], minlength=len(w.concepts)).tolist()
    )
    with pytest.raises(ValueError, match="train_subset: indices must lie in"):
        run(RunSpec(params, label="bad", train_subset=[10**6]), registry=reg, progress=False)


def test_nearest_similarity_by_hand():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ref = torch.nn.functional.normalize(torch.tensor([[1.0, 1.0], [1.0, 0.0]]), dim=-1)
    assert nearest_similarity(q, ref).tolist() == pytest.approx([1.0, 2**-0.5])
    with pytest.raises(ValueError, match="reference set is empty"):
        nearest_similarity(q, ref[:0])


def test_pruning_removes_near_copies_first_and_reaches_the_target():
    g = torch.Generator().manual_seed(0)
    test = torch.nn.functional.normalize(torch.randn(50, 8, generator=g), dim=-1)
    far = torch.nn.functional.normalize(torch.randn(200, 8, generator=g), dim=-1)
    copies = torch.nn.functional.normalize(test[:30] + 0.01 * torch.randn(30, 8, generator=g), dim=-1)
    train = torch.cat([far, copies])
    target = float(np.median(nearest_similarity(test, far)))
    keep, info = prune_to_similarity(train, test, target)
    assert info["achieved"] <= target + 1e-9
    assert not np.isin(np.arange(200, 230), keep).any()  # every near copy is gone
    assert len(keep) > 100


def test_pruning_to_a_distribution_matches_it_not_just_its_median():
    g = torch.Generator().manual_seed(1)
    norm = torch.nn.functional.normalize
    test = norm(torch.randn(80, 8, generator=g), dim=-1)
    small = norm(torch.randn(300, 8, generator=g), dim=-1)
    copies = norm(test.repeat(2, 1) + 0.05 * torch.randn(160, 8, generator=g), dim=-1)
    big = torch.cat([norm(torch.randn(600, 8, generator=g), dim=-1), copies])
    target = nearest_similarity(test, small)
    keep, info = prune_to_distribution(big, test, target)
    assert info["ks_distance"] < info["ks_distance_before"] / 2
    assert np.isin(np.arange(600, 760), keep).mean() < 0.2  # the near copies go first
    assert 0.3 < info["kept_fraction"] < 1


def test_pruning_to_a_distribution_equals_scoring_every_cut_on_its_own():
    """The one-pass search (a running maximum over the training rows in score order) keeps exactly what
    computing each cut's nearest neighbours from scratch keeps, with the same numbers."""
    from scipy.stats import ks_2samp

    g = torch.Generator().manual_seed(2)
    norm = torch.nn.functional.normalize
    test = norm(torch.randn(70, 6, generator=g), dim=-1)
    big = norm(
        torch.cat([torch.randn(500, 6, generator=g), test + 0.1 * torch.randn(70, 6, generator=g)]), dim=-1
    )
    target = nearest_similarity(test, norm(torch.randn(250, 6, generator=g), dim=-1))
    keep, info = prune_to_distribution(big, test, target, candidates=25, chunk=37)  # blocks straddle cuts
    score = nearest_similarity(big, test)
    scored = []
    for cut in np.unique(np.quantile(score, np.linspace(0.02, 1.0, 25))):
        kept = np.flatnonzero(score <= cut)
        if len(kept):
            achieved = nearest_similarity(test, big[torch.from_numpy(kept)])
            scored.append((float(ks_2samp(achieved, target).statistic), kept, achieved))
    ks, kept, achieved = min(scored, key=lambda t: t[0])
    assert ks < info["ks_distance_before"]
    assert np.array_equal(keep, kept) and info["ks_distance"] == ks
    assert info["achieved"] == float(np.median(achieved))


class FakeRun:
    def __init__(self, correct_id, correct_ood, n=200):
        def conf(c):
            m = np.zeros((2, 2), int)
            m[0, 0] = c
            m[0, 1] = n - c
            return m

        self.arrays = {"confusion_photo": conf(correct_id), "confusion_v2": conf(correct_ood)}
        self.metrics = {"top1_photo": correct_id / n, "top1_v2": correct_ood / n}

    def array(self, name):
        return self.arrays[name]


def test_er_table_on_constructed_runs():
    base = pd.DataFrame({"photo": [0.3, 0.5, 0.7, 0.8], "v2": [0.2, 0.4, 0.6, 0.7]})
    trends = fit_trends(base, ["v2"], n_boot=200)
    runs = {
        "on line": FakeRun(100, int(round(200 * float(trends["v2"].predict(0.5))))),
        "above": FakeRun(100, 150),
    }
    er = er_table(trends, runs, n_boot=300)
    on = er[er["model"] == "on line"].iloc[0]
    assert abs(on["er"]) < 0.01 and on["lo"] < 0 < on["hi"]
    above = er[er["model"] == "above"].iloc[0]
    assert above["lo"] > 0
    means = group_mean_er(er, lambda label: "all")
    assert means.loc["all", "v2"] == pytest.approx(er["er"].mean())
    assert lies_between(er, "above", ["on line", "above"]) == {"v2": True}
    assert lies_between(er, "on line", ["above", "above"]) == {"v2": False}


def test_pruning_study_is_cached(tmp_path, monkeypatch):
    from studylib.models.tiny import ImageEncoder

    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    torch.manual_seed(0)

    class Ref(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.visual = ImageEncoder(4, 8)

    g = torch.Generator().manual_seed(0)

    def imgs(n):
        return torch.randint(0, 256, (n, 3, 16, 16), generator=g, dtype=torch.uint8)

    small, big, test = imgs(40), imgs(80), imgs(20)
    first = pruning_study("k", Ref, lambda: small, lambda: big, lambda: test)
    assert 0 < len(first["keep"]) <= 80 and len(first["rand_keep"]) == len(first["keep"])
    assert first["info"]["ks_distance"] <= first["info"]["ks_distance_before"]

    def boom():
        raise AssertionError("a cache hit must not build anything")

    again = pruning_study("k", boom, boom, boom, boom)
    assert np.array_equal(again["keep"], first["keep"]) and again["info"] == first["info"]


def test_er_over_seeds_summarises_each_shift():
    from studylib.chapters.ch01 import er_over_seeds

    def er(values):
        return pd.DataFrame({"model": "CLIP", "shift": ["v2", "sketch"], "er": values, "lo": 0, "hi": 0})

    out = er_over_seeds(
        {0: er([0.01, 0.03]), 1: er([0.03, 0.01]), 2: er([0.02, 0.02])}, "CLIP", ["v2", "sketch"]
    )
    assert (
        out["v2"]["mean"] == pytest.approx(0.02)
        and out["v2"]["n"] == 3
        and out["v2"]["lo"] < 0.02 < out["v2"]["hi"]
    )
    single = er_over_seeds({0: er([0.01, 0.03])}, "CLIP", ["v2"])
    assert single["v2"]["mean"] == pytest.approx(0.01) and np.isnan(single["v2"]["lo"])


def test_explorer_table_keeps_each_model_once_and_needs_a_group():
    from studylib.chapters import ch01

    a = pd.DataFrame(
        {
            "model": ["CLIP (web)"],
            "shift": ["sketch"],
            "id": [0.3],
            "ood": [0.1],
            "er": [0.0],
            "lo": [-0.1],
            "hi": [0.1],
        }
    )
    b = pd.concat([a, a.assign(model="SL, true labels (web)")])
    t = ch01.explorer_table([a, b], {"CLIP (web)": "section 1", "SL, true labels (web)": "section 3"})
    assert list(t["model"]) == ["CLIP (web)", "SL, true labels (web)"] and list(t["group"]) == [
        "section 1",
        "section 3",
    ]
    with pytest.raises(ValueError, match="no explorer group"):
        ch01.explorer_table([b], {"CLIP (web)": "section 1"})


def test_explorer_groups_keep_a_model_in_the_first_section_that_shows_it():
    from studylib.chapters import ch01

    groups = ch01.explorer_groups(
        clip_runs={"CLIP (web)": 1, "CLIP (curated)": 1},
        source_runs={"CLIP flickr n=6000": 1, "CLIP mixture ×2": 1},
        source_group={"CLIP flickr n=6000": "flickr", "CLIP mixture ×2": "mixture"},
        lang_runs={"CLIP (web)": 1, "SL, caption labels": 1},
        sim_runs={"CLIP mixture ×2": 1, "CLIP mixture ×2, pruned": 1},
    )
    assert groups == {
        "CLIP (web)": "section 1: CLIP web vs curated",
        "CLIP (curated)": "section 1: CLIP web vs curated",
        "CLIP flickr n=6000": "source: flickr",
        "CLIP mixture ×2": "source: mixture",
        "SL, caption labels": "section 3: language vs labels",
        "CLIP mixture ×2, pruned": "section 4: similarity",
    }
