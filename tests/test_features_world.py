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


def test_dino_refuses_the_features_world(tiny_params, tmp_path, monkeypatch):
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    with pytest.raises(ConfigError, match="render='pixels'"):
        run(RunSpec({**tiny_params, "render": "features", "objective": "dino"}, label="DINO"), progress=False)


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
