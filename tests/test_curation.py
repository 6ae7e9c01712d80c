"""Tests of studylib.captions.curation: variants are correct, seeded and carded."""

from __future__ import annotations

import numpy as np
import pytest

from studylib.captions import curation as cur


def zipf_labels(C=20, n_max=400, alpha=1.0, seed=0):
    counts = np.maximum(1, (n_max * np.arange(1, C + 1) ** -alpha).astype(int))
    labels = np.repeat(np.arange(C), counts)
    return np.random.default_rng(seed).permutation(labels)


def counts_of(labels, kept, C):
    return np.bincount(labels[kept], minlength=C)


def test_metaclip_exact_seeded_case():
    # captions: 0 -> {0}, 1 -> {0, 1}, 2 -> {1}, 3 -> {}, 4 -> {0}
    matches = [[0], [1, 0], [1], [], [0]]
    counts = np.array([30, 5])  # concept 0 is frequent: p = 10/30, concept 1: p = 1
    v = cur.metaclip_balance(matches, t=10, counts=counts, seed=7)
    entries = [(0, 0), (1, 0), (1, 1), (2, 1), (4, 0)]  # (caption, concept) order
    u = np.random.default_rng(7).random(len(entries))
    p = {0: 10 / 30, 1: 1.0}
    want = sorted({c for (c, k), x in zip(entries, u) if x < p[k]})
    assert v.kept.tolist() == want
    assert v.kept.dtype == np.int64
    assert {1, 2} <= set(want) and 3 not in want  # p = 1 entries always pass
    assert cur.metaclip_balance(
        matches, t=10, counts=counts, seed=7, keep_unmatched=True
    ).kept.tolist() == sorted(want + [3])


def test_metaclip_probability_statistically():
    n_head, n_tail, t = 20_000, 300, 2_000
    cap = np.arange(n_head + n_tail)
    con = np.r_[np.zeros(n_head, int), np.ones(n_tail, int)]
    v = cur.metaclip_balance((cap, con), t=t, seed=0)
    kept_head = np.count_nonzero(v.kept < n_head)
    p = t / n_head
    sd = np.sqrt(n_head * p * (1 - p))
    assert abs(kept_head - n_head * p) < 4 * sd
    assert np.count_nonzero(v.kept >= n_head) == n_tail  # below t: all kept
    assert v.counts_after.tolist() == [kept_head, n_tail]
    assert "t=2000" in v.card


def test_metaclip_any_entry_keeps_caption():
    # every caption names concept 0 (p=1/100) and concept 1 (count 1 -> p=1)
    cap = np.repeat(np.arange(100), 2)
    con = np.tile([0, 1], 100)
    counts = np.array([10_000, 1])
    v = cur.metaclip_balance((cap, con), t=100, counts=counts, n_captions=100, seed=3)
    assert v.n_after == 100


def test_resample_balanced_zipf_and_profile():
    labels = zipf_labels()
    C = 20
    bal = cur.resample_to_profile(labels, "balanced", seed=1)
    c = counts_of(labels, bal.kept, C)
    assert (c == c.min()).all() and c.min() == np.bincount(labels).min()
    z = cur.resample_to_profile(labels, 1.0, size=200, seed=1, order="random")
    cz = counts_of(labels, z.kept, C)
    assert cz.sum() <= 200 and cz.max() > 3 * np.median(cz)
    target = np.arange(1, C + 1, dtype=float)  # reversed imbalance
    pr = cur.resample_to_profile(labels, target, size=60, seed=1)
    cp = counts_of(labels, pr.kept, C)
    assert cp.sum() <= 60 and cp[-1] >= cp[0]
    assert np.all(np.diff(pr.kept) >= 0) and len(set(pr.kept)) == pr.n_after
    rep = cur.resample_to_profile(labels, "balanced", size=400, replace=True, seed=1)
    assert (counts_of(labels, rep.kept, C) == 20).all()
    with pytest.raises(ValueError, match="target profile has 3 classes"):
        cur.resample_to_profile(labels, [1, 2, 3])


def test_scale_subsets_nested():
    labels = zipf_labels()
    vs = cur.scale_subsets(labels.size, [0.1, 0.5, 1.0], seed=2, labels=labels)
    sizes = [v.n_after for v in vs]
    assert sizes == [round(0.1 * labels.size), round(0.5 * labels.size), labels.size]
    assert set(vs[0].kept) <= set(vs[1].kept) <= set(vs[2].kept)
    st = cur.scale_subsets(labels.size, [0.5], seed=2, labels=labels, stratified=True)[0]
    assert np.abs(counts_of(labels, st.kept, 20) - np.bincount(labels) / 2).max() <= 0.5 + 1e-9


def test_trim_tail():
    labels = zipf_labels()
    C = 20
    before = np.bincount(labels)
    v = cur.trim_tail(labels, k=5, shots=1, seed=0)
    after = counts_of(labels, v.kept, C)
    rare = np.argsort(before, kind="stable")[:5]
    assert (after[rare] == np.minimum(before[rare], 1)).all()
    rest = np.setdiff1d(np.arange(C), rare)
    assert (after[rest] == before[rest]).all()
    zero = cur.trim_tail(labels, k=3, shots=0, seed=0)
    assert np.count_nonzero(counts_of(labels, zero.kept, C)) == C - 3


def test_determinism_and_seeds():
    labels = zipf_labels()
    runs = [
        lambda s: cur.resample_to_profile(labels, 1.2, size=150, seed=s, order="random").kept,
        lambda s: cur.scale_subsets(labels.size, [0.3], seed=s)[0].kept,
        lambda s: cur.trim_tail(labels, k=10, shots=2, seed=s).kept,
        lambda s: cur.metaclip_balance((np.arange(labels.size), labels), t=20, seed=s).kept,
    ]
    for f in runs:
        assert np.array_equal(f(0), f(0))
        assert not np.array_equal(f(0), f(1))


def test_similarity_filter_with_fake_encoder():
    class C:
        def __init__(self, name):
            self.name = name

    concepts = [C("cat"), C("dog")]
    cv = np.eye(2, dtype=np.float32)

    def embed(texts):
        v = np.array(
            [[1.0, 0.0] if "cat" in t else [0.0, 1.0] if "dog" in t else [0.6, 0.8] for t in texts],
            dtype=np.float32,
        )
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    caps = ["a cat", "a dog", "a cat", "something", "a dog"]
    labels = [0, 1, 1, 1, -1]
    v = cur.similarity_filter(caps, labels, concepts, 0.7, embed_fn=embed, concept_vectors=cv)
    assert v.kept.tolist() == [0, 1, 3]  # 0.8 >= 0.7 for "something" vs dog
    assert cur.similarity_filter(
        caps, labels, concepts, 0.9, embed_fn=embed, concept_vectors=cv
    ).kept.tolist() == [0, 1]
    assert "| cat |" in v.card


def test_deduplicate():
    caps = [
        "A red fox in the snow",
        "a red fox, in the snow!",
        "A blue bird on a wire",
        "a red fox in the snow today",
        "completely different words here",
        "A blue bird on a wire",
    ]
    ex = cur.deduplicate(caps)
    assert ex.kept.tolist() == [0, 2, 3, 4]
    near = cur.deduplicate(caps, near=True, threshold=0.6, seed=0)
    assert near.kept.tolist() == [0, 2, 4]
    assert np.array_equal(near.kept, cur.deduplicate(caps, near=True, threshold=0.6, seed=0).kept)
    assert "near duplicates removed" in near.card


def test_data_card_contents(tmp_path):
    labels = zipf_labels()
    v = cur.trim_tail(labels, k=4, shots=2, seed=5, class_names=[f"c{i}" for i in range(20)])
    card = v.card
    for s in [
        "# Data card: trim_k4_c2",
        "| seed | 5 |",
        f"| size before | {labels.size:,} |",
        "| k | 4 |",
        "| shots | 2 |",
        "Gini",
        "fitted Zipf alpha",
        "| c0 |",
    ]:
        assert s in card, s
    path = v.write_card(tmp_path / "cards" / "trim.md")
    assert path.read_text() == card
