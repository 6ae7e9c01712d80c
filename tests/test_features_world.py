"""The features world (``render="features"``): the scene through the fixed retina, and the models that read it."""

import numpy as np
import pytest
import torch

from studylib.config import ConfigError, world_config
from studylib.world import make_world

DOMAINS = ("photo", "v2", "sketch", "rendition", "objectnet")


@pytest.fixture(scope="module")
def fworld(tiny_params):
    return make_world(world_config(tiny_params, render="features", test_domains=DOMAINS))


def test_features_are_vectors_of_the_configured_length_and_deterministic(tiny_params, fworld):
    cfg = fworld.config
    assert fworld.train.images.dtype == torch.uint8
    assert fworld.train.images.shape == (cfg.n_train, cfg.feature_dim)
    assert all(split.images.shape == (len(split), cfg.feature_dim) for split in fworld.test.values())
    again = make_world(cfg)
    assert torch.equal(again.train.images, fworld.train.images)
    assert again.train.captions == fworld.train.captions
    other = make_world(world_config(tiny_params, render="features", feature_dim=64, test_domains=DOMAINS))
    assert other.train.images.shape[1] == 64


def test_same_labels_counts_and_captions_levels_as_the_pixel_world(tiny_params, fworld):
    """Only how an image is seen changes: classes, counts, labels and caption levels are the pixel world's."""
    pixels = make_world(world_config(tiny_params, test_domains=DOMAINS))
    assert [c.index for c in pixels.concepts] == [c.index for c in fworld.concepts]
    assert np.array_equal(pixels.class_counts, fworld.class_counts)
    assert np.array_equal(pixels.train.labels, fworld.train.labels)
    assert np.array_equal(pixels.train.caption_level, fworld.train.caption_level)


def test_shifts_and_nuisance_enter_before_the_retina(fworld):
    """Each shifted domain moves the features away from photos of the same classes, more than v2 does."""
    photo = fworld.test["photo"].images.float()
    gap = {d: (fworld.test[d].images.float() - photo).abs().mean().item() for d in DOMAINS[1:]}
    assert all(gap[d] > gap["v2"] for d in ("sketch", "rendition", "objectnet")), gap


def test_classes_are_separable_in_feature_space(fworld):
    """A nearest-class-mean rule on the training features beats chance by far on the photo test set."""
    x, y = fworld.train.images.float(), torch.from_numpy(fworld.train.labels)
    n = len(fworld.concepts)
    means = torch.stack([x[y == c].mean(0) for c in range(n)])
    test = fworld.test["photo"]
    pred = torch.cdist(test.images.float(), means).argmin(1).numpy()
    assert (pred == test.labels).mean() > 3 / n


def test_sl_and_clip_train_on_features_and_clip_stores_its_prompt_cosine(tiny_params, tmp_path, monkeypatch):
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    p = {**tiny_params, "render": "features"}
    sl = run(RunSpec({**p, "objective": "sl"}, label="SL"), progress=False)
    clip = run(RunSpec({**p, "objective": "clip", "text_arch": "bag"}, label="CLIP"), progress=False)
    assert sl.config["world"]["render"] == "features" and 0 <= sl.metrics["top1"] <= 1
    assert -1 <= clip.metrics["prompt_mean_cosine"] <= 1
    pixels = run(RunSpec({**tiny_params, "objective": "sl"}, label="SL"), progress=False)
    assert pixels.key != sl.key  # render is in the key


def test_dino_trains_on_the_features_world_from_its_scenes(tiny_params, tmp_path, monkeypatch):
    """DINO's views of a features world are its scenes seen again; its run counts unique prototypes through
    training, at evenly spaced steps ending at the last."""
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    p = {
        **tiny_params,
        "render": "features",
        "objective": "dino",
        "dino_prototypes": 64,
        "dino_bottleneck": 16,
    }
    r = run(RunSpec(p, label="DINO"), progress=False)
    assert r.metrics["prototype_drift"] > 0 and 1 <= r.metrics["unique_prototypes"] <= 64
    steps = sorted(int(k.rsplit("_", 1)[1]) for k in r.metrics if k.startswith("unique_at_step_"))
    total = tiny_params["n_train"] // tiny_params["batch_size"] * tiny_params["epochs"]
    assert len(steps) == min(8, total) and steps[-1] == total
    assert r.metrics[f"unique_at_step_{total}"] == r.metrics["unique_prototypes"]


def test_train_scenes_are_the_worlds_own_draws(tiny_params):
    from studylib.world import make_world, train_scenes

    wc = world_config({**tiny_params, "render": "features", "source": "web:0.5,imagenet:0.5"})
    world, scenes = make_world(wc), train_scenes(wc)
    assert scenes.latents.shape == (len(world.train), wc.latent_dim)
    assert np.array_equal(scenes.domains, world.train.domain)
    assert sorted(set(scenes.nuisance.tolist())) == [0.8, 1.0]  # imagenet's and web's nuisance


def test_views_are_seeded_fresh_draws_of_each_scene(tiny_params):
    from studylib.retina import render_views
    from studylib.world import train_scenes

    scenes = train_scenes(world_config({**tiny_params, "render": "features"}))
    rows = np.arange(40)

    def views(seed, part_keep=1.0):
        return render_views(scenes, rows, torch.Generator().manual_seed(seed), part_keep).float()

    a, b = views(0), views(1)
    assert a.shape == (40, scenes.feature_dim)
    assert torch.equal(a, views(0)) and not torch.equal(a, b)  # seeded; fresh nuisance per draw
    same = torch.nn.functional.cosine_similarity(a - 127.5, b - 127.5).mean()
    other = torch.nn.functional.cosine_similarity(a - 127.5, b.roll(1, 0) - 127.5).mean()
    assert same > other  # two views of one scene are closer than views of two scenes
    local = torch.nn.functional.cosine_similarity(a - 127.5, views(2, 0.5) - 127.5).mean()
    assert local < same  # a local view hides part of the object


def test_render_is_checked_by_name(tiny_params):
    with pytest.raises(ConfigError, match="render"):
        world_config(tiny_params, render="voxels")


def test_bag_text_tower_ignores_word_order_and_padding():
    from studylib.models.tiny import BagTextEncoder

    torch.manual_seed(0)
    bag = BagTextEncoder(50, 16, 8)
    a = torch.tensor([[5, 6, 7, 0, 0]])
    b = torch.tensor([[7, 5, 6, 0, 0, 0, 0]])
    assert torch.allclose(bag(a), bag(b), atol=1e-6)


@pytest.mark.parametrize("render", ["features", "pixels"])
def test_a_world_without_shifted_test_sets_is_the_same_world(tiny_params, render):
    """Chapters 2–4 render no shifted test set (chapters/worlds.PHOTOS_ONLY); that must leave the training
    split and the photo test set bit for bit as the world with every shift had them, so no number moves."""
    every = make_world(world_config(tiny_params, render=render, test_domains=DOMAINS))
    photos = make_world(world_config(tiny_params, render=render, test_domains=("photo",)))
    assert set(photos.test) == {"photo"}
    assert np.array_equal(photos.class_counts, every.class_counts)
    assert torch.equal(photos.train.images, every.train.images)
    assert np.array_equal(photos.train.labels, every.train.labels)
    assert photos.train.captions == every.train.captions
    assert torch.equal(photos.test["photo"].images, every.test["photo"].images)
    assert np.array_equal(photos.test["photo"].labels, every.test["photo"].labels)
