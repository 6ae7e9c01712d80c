"""Issue 24's sizes: chapters 2–4 on the features world with five seeds, a real pretraining stage, the
render comparison of chapter 2, and chapter 4's real profiles."""

import pandas as pd
import pytest

from studylib import chapters
from studylib.chapters import ch02, ch04
from studylib.chapters.pretraining import pretraining_spec
from studylib.session import Session

FEATURES_CHAPTERS = {m.NAME for m in chapters.modules()} - {"01_robustness_origins", "03b_dino"}


def _session(module, preset="quick"):
    return Session(module.NAME, preset, sizes=module.SIZES, seeds=module.SEEDS, progress=False)


@pytest.mark.parametrize("module", chapters.modules(), ids=lambda m: m.NAME)
def test_chapters_2_to_4_run_five_seeds_on_features_at_quick(module):
    s = _session(module)
    spec = next(iter(module.specs(s, s.seeds()[0]).values()))
    if module.NAME in FEATURES_CHAPTERS:
        assert len(s.seeds()) >= 5 and len(set(s.seeds())) == len(s.seeds())
        assert s.params["render"] == "features" and s.params["test_per_class"] >= 40
        assert spec.params["render"] == "features"
    elif module.NAME == "03b_dino":  # DINO on features (its views re-render scenes), three seeds for C9/C10
        assert (
            len(s.seeds()) >= 3 and s.params["render"] == "features" and spec.params["render"] == "features"
        )
    else:  # chapter 1 (shifts, renditions) stays on pixels
        assert s.params["render"] == "pixels"
    smoke = _session(module, "smoke")
    assert smoke.params["render"] == "pixels"  # the tests run every chapter on pixels at smoke


def test_chapter_2c_studies_imbalance_over_at_least_300_classes():
    from studylib.chapters import ch02c

    assert _session(ch02c).params["n_classes"] >= 300


def test_one_pretraining_run_of_every_concept_with_200k_pairs_serves_every_seed():
    from studylib.chapters import ch02d

    s = _session(ch02d)
    specs = [pretraining_spec(s, k) for k in s.seeds()]
    assert len({repr(sorted(sp.params.items())) for sp in specs}) == 1
    p = specs[0].params
    assert p["n_classes"] == 1000 and p["subset"] == "all" and p["n_train"] >= 200_000
    assert p["render"] == s.params["render"] and p["text_width"] == s.params["text_width"]


def test_render_comparison_trains_both_renders_at_the_same_classes_and_seeds():
    s = _session(ch02)
    seeds = ch02.comparison_seeds(s)
    assert len(seeds) >= 3
    for k in seeds:
        specs = ch02.comparison_specs(s, k)
        assert set(specs) == set(ch02.RENDERS)
        for render, by_label in specs.items():
            for spec in by_label.values():
                assert spec.params["render"] == render and spec.params["seed"] == k
                assert spec.params["n_classes"] == s.params["n_classes"]
        # the same sizes on both sides: only the render (and so the image tower) differs
        strip = [
            {k: v for k, v in sp.params.items() if k != "render"}
            for sp in (specs["features"]["CLIP"], specs["pixels"]["CLIP"])
        ]
        assert strip[0] == strip[1]


def test_agreement_sentence_names_the_parts_that_differ():
    table = pd.DataFrame(
        {"part": ["C1: a", "C3: b"], "same sign": [True, False], "same verdict": [True, False]}
    )
    assert "differ on: C3: b" in ch02.agreement_sentence(table)
    assert "agree on all 1" in ch02.agreement_sentence(table.iloc[:1])


def test_fine_grained_set_gets_cubs_profile_shape_and_coarse_its_own_counts(tmp_path, monkeypatch):
    from studylib.config import world_config
    from studylib.world import make_world

    if not ch04.SHARED_FREQUENCIES.is_dir():
        pytest.skip("the shared frequencies folder is absent")
    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    profiles = ch04.concept_set_profiles(0)
    assert profiles["coarse (random concepts)"]["profile"].endswith(ch04.COARSE_COUNTS)
    fine = profiles["fine-grained (dogs)"]["profile"]
    assert ch04.concept_set_profiles(0)["fine-grained (dogs)"]["profile"] == fine  # deterministic
    assert ch04.concept_set_profiles(1)["fine-grained (dogs)"]["profile"] != fine  # the world seed orders it
    spec = ch04.concept_set_specs(_session(ch04, "smoke"))["fine-grained (dogs)"]
    world = make_world(world_config({**spec.params, "render": "features", "n_train": 2000}))
    assert world.class_counts.max() > 20 * world.class_counts.min()


def test_without_the_shared_folder_both_sets_are_zipf(tmp_path):
    profiles = ch04.concept_set_profiles(0, folder=tmp_path)
    assert all(p == {"profile": "zipf", "zipf_alpha": 1.0} for p in profiles.values())
