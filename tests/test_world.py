import numpy as np
import pytest
import torch

from studylib.config import CAPTION_LEVELS, world_config
from studylib.world import allocate_counts, counts_from_file, make_world


@pytest.fixture(scope="module")
def world(tiny_params):
    return make_world(
        world_config(tiny_params, test_domains=("photo", "v2", "sketch", "rendition", "objectnet"))
    )


def test_same_seed_same_world(tiny_params, world):
    again = make_world(world.config)
    assert torch.equal(again.train.images, world.train.images)
    assert again.train.captions == world.train.captions
    assert np.array_equal(again.class_counts, world.class_counts)
    for d in world.test:
        assert torch.equal(again.test[d].images, world.test[d].images)


def test_different_seed_different_world(tiny_params, world):
    other = make_world(world_config(tiny_params, world_seed=1, test_domains=world.config.test_domains))
    assert [c.index for c in other.concepts] != [c.index for c in world.concepts]
    assert not torch.equal(other.train.images[:50], world.train.images[:50])


def test_long_tailed_train_balanced_test(world):
    cfg = world.config
    assert world.class_counts.sum() == cfg.n_train == len(world.train)
    assert np.array_equal(np.bincount(world.train.labels, minlength=cfg.n_classes), world.class_counts)
    assert world.class_counts.min() >= cfg.min_per_class
    assert world.class_counts.max() > 5 * np.median(world.class_counts)
    for split in world.test.values():
        assert np.all(np.bincount(split.labels) == cfg.test_per_class)
        assert split.images.dtype == torch.uint8 and split.images.shape[1:] == (
            3,
            cfg.image_size,
            cfg.image_size,
        )


def test_domains_differ_from_photo(world):
    photo = world.test["photo"].images.float()
    for d in ("sketch", "rendition", "objectnet"):
        assert (world.test[d].images.float() - photo).abs().mean() > 10
    sketch = world.test["sketch"].images
    assert torch.equal(sketch[:, 0], sketch[:, 1])  # no colour


def test_captions_record_the_concepts_they_name(world):
    tr = world.train
    assert set(np.unique(tr.caption_level)) <= set(range(len(CAPTION_LEVELS)))
    for text, label, lvl, named in zip(tr.captions, tr.labels, tr.caption_level, tr.caption_mentions):
        assert text.strip()
        for j in named:
            assert any(s in text.lower() for s in world.concepts[j].synonyms), (text, j)
        if CAPTION_LEVELS[lvl] == "description":
            assert label not in named


def test_semantically_close_concepts_look_alike(tiny_params):
    """The visual latent follows the semantics: a world whose class latents are all semantics keeps MiniLM's geometry."""
    from studylib.concepts import semantic_vectors
    from studylib.world import _class_latents

    cfg = world_config(tiny_params, semantic_share=1.0)
    w = make_world(cfg)
    centres, _ = _class_latents(cfg, w.concepts)
    sem = semantic_vectors(w.concepts)
    sem = sem - semantic_vectors(__import__("studylib.concepts", fromlist=["x"]).load_concepts()).mean(0)
    iu = np.triu_indices(len(w.concepts), 1)
    c_lat = np.corrcoef(centres)[iu]
    c_sem = (sem @ sem.T / np.outer(np.linalg.norm(sem, axis=1), np.linalg.norm(sem, axis=1)))[iu]
    assert np.corrcoef(c_lat, c_sem)[0, 1] > 0.5


def test_allocate_counts_exact_total():
    c = allocate_counts(np.array([0.5, 0.3, 0.2]), 103, 1)
    assert c.sum() == 103 and c.min() >= 1 and c[0] > c[1] > c[2]
    with pytest.raises(ValueError, match="min_per_class"):
        allocate_counts(np.ones(10) / 10, 5, 1)


def test_profile_from_count_file(tmp_path, tiny_params):
    from studylib.concepts import load_concepts

    concepts = load_concepts()[:3]
    f = tmp_path / "freq.txt"
    f.write_text(f"{concepts[2].name}\t5\n{concepts[0].name}\t50\n{concepts[1].synonyms[-1]}\t7\n")
    assert list(counts_from_file(f, concepts)) == [50, 7, 5]
    typo = tmp_path / "typo.txt"
    typo.write_text(f.read_text() + "unrelated\t1\n")  # a name no concept has: refused, not dropped
    with pytest.raises(ValueError, match=r"typo.txt:4: 'unrelated' is no ImageNet class's name or synonym"):
        counts_from_file(typo, concepts)
    bad = tmp_path / "bad.txt"
    bad.write_text("tench 50\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: expected 'classname<TAB>count'"):
        counts_from_file(bad, concepts)
    with pytest.raises(ValueError, match="no count for 1 classes"):
        counts_from_file(f, load_concepts()[:4])


def test_world_from_a_real_laion_profile(tiny_params):
    from conftest import SHARED_DATA

    path = SHARED_DATA / "frequencies" / "class_frequency_laion400m_imagenet_ori.txt"
    if not path.exists():
        pytest.skip("../shared/data is absent")
    w = make_world(world_config(tiny_params, profile=str(path)))
    raw = counts_from_file(path, w.concepts)
    from scipy.stats import spearmanr

    assert spearmanr(raw, w.class_counts).statistic > 0.9


def test_no_synonym_names_two_classes_unless_marked_ambiguous():
    from collections import Counter

    from studylib.concepts import load_concepts

    concepts = load_concepts()
    holders = Counter(s for c in concepts for s in c.synonyms)
    shared = {s for s, n in holders.items() if n > 1}
    ambiguous = {s for c in concepts for s in c.ambiguous}
    assert shared <= ambiguous
    dogs = [c for c in concepts if "canis lupus familiaris" in c.ambiguous]
    assert len(dogs) > 100 and not any("canis lupus familiaris" in c.synonyms for c in concepts)
    # a class whose every name is shared has no unambiguous synonym, and says so
    assert all(c.synonyms or c.name.lower() in c.ambiguous for c in concepts)
    sunglasses = [c for c in concepts if c.name == "sunglasses"]
    assert not any(
        "sunglasses" in c.synonyms or "sunglass" in c.synonyms for c in sunglasses
    )  # plural = singular


def test_web_sources_hold_a_few_shifted_renderings_and_the_curated_one_none(tiny_params):
    from studylib.config import DOMAINS

    web = make_world(world_config(tiny_params, n_train=2000, shift_share=0.1))
    share = (web.train.domain > 0).mean()
    assert 0.06 < share < 0.14
    kinds = {DOMAINS[d] for d in web.train.domain if d}
    assert kinds == {"sketch", "rendition", "objectnet"}
    styled = [c for c, d in zip(web.train.captions, web.train.domain) if d]
    assert all(":" in c.split(" ")[0] or ":" in " ".join(c.split(" ")[:2]) for c in styled)
    curated = make_world(world_config(tiny_params, n_train=2000, shift_share=0.1, source="imagenet"))
    assert (curated.train.domain == 0).all()
    none = make_world(world_config(tiny_params, n_train=2000, shift_share=0.0))
    assert (none.train.domain == 0).all()


def test_captions_describe_their_image(tiny_params):
    """With caption_image_words=1 every image's atypicality words are in its caption, graded by tier."""
    from studylib.world import ATYPICAL_WORDS, atypicality

    w = make_world(world_config(tiny_params, n_train=1200, caption_image_words=1.0))
    tier = atypicality(w.train.images, w.train.labels)
    assert [round(float((tier >= k).mean()), 1) for k in (1, 2, 3)] == [
        0.5,
        0.2,
        0.1,
    ]  # cuts at 1/2, 3/4, 9/10
    for k, words in enumerate(ATYPICAL_WORDS, 1):
        said = np.array([f", {words}" in c for c in w.train.captions])
        assert (said == (tier == k)).all()


@pytest.mark.parametrize("world_seed", [0, 1])
def test_similarity_threshold_lowers_kept_diversity_monotonically(tiny_params, world_seed):
    """LAIONet's knob: the higher the caption–class-text similarity threshold, the less diverse the kept images
    of each class (mean within-class pixel variance), strictly, over four thresholds. Descriptive captions
    (the encyclopedia-like source), where the class text has room to give way to words about the image."""
    from studylib.captions.curation import similarity_filter
    from studylib.concepts import embed_texts, semantic_vectors

    w = make_world(
        world_config(
            tiny_params, n_train=1200, caption_image_words=1.0, source="encyclopedia", world_seed=world_seed
        )
    )
    x, lab = w.train.images.float().flatten(1) / 255, w.train.labels
    sims = np.einsum("ij,ij->i", embed_texts(w.train.captions), semantic_vectors(w.concepts)[lab])

    def diversity(kept):
        mask = np.zeros(len(lab), bool)
        mask[kept] = True
        return float(
            np.mean(
                [
                    x[(lab == c) & mask].var(0).sum().item()
                    for c in range(len(w.concepts))
                    if ((lab == c) & mask).sum() >= 3
                ]
            )
        )

    thresholds = np.quantile(sims, [0.0, 0.25, 0.5, 0.75])
    kept = [similarity_filter(w.train.captions, lab, w.concepts, float(t)).kept for t in thresholds]
    assert [k.size for k in kept] == sorted((k.size for k in kept), reverse=True)
    div = [diversity(k) for k in kept]
    assert all(a > b for a, b in zip(div, div[1:])), div
    assert div[-1] < 0.9 * div[0]


def test_words_that_describe_images_name_no_class():
    """A caption's colour, look, background and style words must never be counted as a class mention."""
    from studylib.captions.matching import match_reference
    from studylib.captions.patterns import build_patterns
    from studylib.world import ATYPICAL_WORDS, COLOUR_HUES, STYLE_WORDS

    pat = build_patterns("imagenet")
    words = [
        *COLOUR_HUES,
        "grey",
        *ATYPICAL_WORDS,
        "busy cluttered background",
        "plain background",
        *(w for ws in STYLE_WORDS.values() for w in ws),
    ]
    assert {
        w: [pat.names[i] for i in match_reference(w, pat)] for w in words if match_reference(w, pat)
    } == {}


def _same_world(a, b):
    assert [c.index for c in a.concepts] == [c.index for c in b.concepts]
    assert [c.index for c in a.open_concepts] == [c.index for c in b.open_concepts]
    assert np.array_equal(a.class_counts, b.class_counts)
    for x, y in [(a.train, b.train)] + [(a.test[d], b.test[d]) for d in a.test]:
        assert torch.equal(x.images, y.images) and np.array_equal(x.labels, y.labels)
        assert x.captions == y.captions and x.caption_mentions == y.caption_mentions
        for field in ("caption_level", "source", "domain"):
            u, v = getattr(x, field), getattr(y, field)
            assert (u is None and v is None) or np.array_equal(u, v)
    assert set(a.test) == set(b.test)


def test_stored_world_is_the_generated_world(tiny_params, tmp_path, monkeypatch):
    from studylib import world_store

    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    cfg = world_config(tiny_params, open_world=3, open_world_pairs=20)
    made = world_store.load_or_make(cfg)
    folder = tmp_path / "worlds" / world_store.world_key(cfg)
    assert (folder / "world.json").is_file()
    loaded = world_store.load_or_make(cfg)
    _same_world(made, loaded)
    _same_world(make_world(cfg), loaded)
    loaded.train.images[0] += 1  # copy-on-write: the cache is untouched
    _same_world(made, world_store.load(folder, cfg))


def test_world_key_follows_config_profile_content_and_code(tiny_params, tmp_path, monkeypatch):
    from studylib import world_store

    cfg = world_config(tiny_params)
    assert world_store.world_key(cfg) == world_store.world_key(world_config(tiny_params))
    assert world_store.world_key(cfg) != world_store.world_key(world_config(tiny_params, zipf_alpha=1.5))
    names = [c.name for c in make_world(cfg).concepts]
    prof = tmp_path / "profile.tsv"
    prof.write_text("".join(f"{n}\t{i + 1}\n" for i, n in enumerate(names)))
    by_file = world_config(tiny_params, profile=str(prof))
    before = world_store.world_key(by_file)
    prof.write_text("".join(f"{n}\t{2 * i + 1}\n" for i, n in enumerate(names)))
    assert world_store.world_key(by_file) != before
    key = world_store.world_key(cfg)
    monkeypatch.setattr(world_store, "fingerprint", lambda: "an edited generator")
    assert world_store.world_key(cfg) != key


def test_damaged_or_concurrent_world_copies(tiny_params, tmp_path, monkeypatch):
    from studylib import world_store

    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    cfg = world_config(tiny_params)
    made = world_store.load_or_make(cfg)
    folder = tmp_path / "worlds" / world_store.world_key(cfg)
    world_store.save(made, folder)  # a second writer of the same world: one copy stays
    assert sorted(p.name for p in folder.parent.iterdir()) == [folder.name]
    (folder / "train-images.npy").write_bytes(b"not an array")
    _same_world(made, world_store.load_or_make(cfg))  # damaged: regenerated and stored again
    _same_world(made, world_store.load(folder, cfg))
