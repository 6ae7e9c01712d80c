"""open_clip architectures behind studylib's ClipModel / SLModel interfaces (random weights, no download)."""

from __future__ import annotations

import pytest
import torch

from studylib.models.openclip import (
    _read_state_dict,
    _text_keys,
    channels_last_ok,
    create_clip,
    create_sl,
    flops_per_sample,
)

SMALL = "ViT-S-32-alt"
CLIP_TEXT = ("token_embedding", "positional_embedding", "transformer.", "ln_final.", "text_projection")


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return create_clip("ViT-B-32")


@pytest.fixture(scope="module")
def rn50():
    torch.manual_seed(0)
    return create_clip("RN50")


@pytest.fixture(scope="module")
def inputs():
    gen = torch.Generator().manual_seed(0)
    return torch.randn(2, 3, 224, 224, generator=gen)


@pytest.fixture(scope="module")
def vit_outputs(vit, inputs):
    return _outputs(vit[0], vit[1], inputs)


@pytest.fixture(scope="module")
def rn50_outputs(rn50, inputs):
    return _outputs(rn50[0], rn50[1], inputs)


@pytest.fixture(scope="module")
def small():
    """The smallest built-in CLIP config (43M parameters): the checkpoint tests rebuild it several times."""
    torch.manual_seed(0)
    return create_clip(SMALL)


@pytest.fixture(scope="module")
def small_outputs(small, inputs):
    return _outputs(small[0], small[1], inputs)


@pytest.fixture(scope="module")
def small_ckpt(small, tmp_path_factory):
    """Weights saved as open_clip's trainer does (DDP prefixes under "state_dict")."""
    path = tmp_path_factory.mktemp("ckpt") / "epoch_1.pt"
    sd = {f"module.{k}": v for k, v in small[0].clip.state_dict().items()}
    torch.save({"epoch": 1, "name": "test", "state_dict": sd}, path)
    return path


def _outputs(model, tokenizer, images):
    model.eval()
    with torch.no_grad():
        return model(images, tokenizer(["a photo of a dog", "a crane"]))


@pytest.mark.parametrize("name,dim,conv", [("vit", 512, False), ("rn50", 1024, True), ("small", 256, False)])
def test_clip_forward_shapes_and_normalisation(request, name, dim, conv):
    model, tokenizer, (train_tf, eval_tf) = request.getfixturevalue(name)
    img, txt, scale = request.getfixturevalue(f"{name}_outputs")
    assert img.shape == txt.shape == (2, dim)
    torch.testing.assert_close(img.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(txt.norm(dim=-1), torch.ones(2))
    torch.testing.assert_close(scale, torch.tensor(1 / 0.07))
    with torch.no_grad():
        torch.testing.assert_close(model.encode_text(tokenizer(["a photo of a dog", "a crane"])), txt)
    assert model.visual is model.clip.visual and model.logit_scale is model.clip.logit_scale
    assert all(k.startswith("clip.") for k in model.state_dict())  # no duplicated entries
    assert channels_last_ok(model) is conv
    assert train_tf is not None and eval_tf is not None


def test_transforms_are_open_clips(vit):
    from PIL import Image

    _, _, (train_tf, eval_tf) = vit
    img = Image.new("RGB", (300, 260), (120, 30, 200))
    assert eval_tf(img).shape == train_tf(img).shape == (3, 224, 224)


def test_pretrained_checkpoint_round_trip(small_outputs, small_ckpt, inputs):
    torch.manual_seed(123)
    loaded, tokenizer, _ = create_clip(SMALL, pretrained=str(small_ckpt))
    assert len(loaded.loaded_keys["pretrained"]) == len(loaded.clip.state_dict())
    for a, b in zip(_outputs(loaded, tokenizer, inputs), small_outputs):
        assert torch.equal(a, b)


def test_state_dict_unwrapping(tmp_path):
    t = torch.ones(2)
    for wrapped in ({"module.clip.a": t}, {"state_dict": {"_orig_mod.a": t}}, {"a": t}):
        torch.save(wrapped, tmp_path / "c.pt")
        assert list(_read_state_dict(tmp_path / "c.pt")) == ["a"]


def test_text_tower_init_copies_only_text(small, small_ckpt):
    torch.manual_seed(7)
    model, _, _ = create_clip(SMALL, text_tower="init", text_init=small_ckpt)
    src, dst = small[0].clip.state_dict(), model.clip.state_dict()
    text = {k for k in dst if k.startswith(CLIP_TEXT)}
    assert set(model.loaded_keys["text_init"]) == text == set(_text_keys(model.clip))
    assert {p for p in CLIP_TEXT if any(k.startswith(p) for k in text)} == set(CLIP_TEXT)
    assert all(torch.equal(dst[k], src[k]) for k in text)
    random_visual = [k for k in dst if k.startswith("visual.") and dst[k].ndim >= 2]
    assert random_visual and not any(torch.equal(dst[k], src[k]) for k in random_visual)
    assert all(p.requires_grad for p in model.parameters())


def test_text_tower_frozen_freezes_exactly_text(small, small_ckpt):
    torch.manual_seed(8)
    model, _, _ = create_clip(SMALL, text_tower="frozen", text_init=str(small_ckpt))
    frozen = {n for n, p in model.clip.named_parameters() if not p.requires_grad}
    text = {n for n, _ in model.clip.named_parameters() if n.startswith(CLIP_TEXT)}
    assert frozen == text == set(model.frozen_keys)
    assert model.logit_scale.requires_grad
    src = small[0].clip.state_dict()
    assert all(torch.equal(model.clip.state_dict()[k], src[k]) for k in text)


def test_sl_from_clip_checkpoint(small, small_ckpt, inputs):
    model, (train_tf, eval_tf) = create_sl(SMALL, 7, pretrained=small_ckpt, head="cosine")
    src = small[0].clip.visual.state_dict()
    assert all(torch.equal(v, src[k]) for k, v in model.visual.state_dict().items())
    assert len(model.loaded_keys) == len(src)
    model.eval()
    with torch.no_grad():
        full = model(inputs)
        some = model(inputs[:1], torch.tensor([1, 4]))
    assert full.shape == (2, 7) and some.shape == (1, 2)
    torch.testing.assert_close(some, full[:1, [1, 4]])
    assert not channels_last_ok(model)
    assert eval_tf.transforms[1].size == (224, 224)


def test_sl_rn50_prototype_head_rejects_checkpoint_of_another_architecture(small_ckpt):
    model, _ = create_sl("RN50", 5, head="prototype", prototypes=torch.randn(5, 1024))
    assert channels_last_ok(model) and model.head.kind == "prototype"
    with pytest.raises(ValueError, match="does not fit the image tower of 'RN50'"):
        create_sl("RN50", 5, pretrained=small_ckpt)


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="arch='ViT-B-33'.*ViT-B-32"):
        create_clip("ViT-B-33")
    with pytest.raises(ValueError, match="arch='vit_b_32'.*ViT-B-32"):
        create_sl("vit_b_32", 3)
    missing = tmp_path / "missing.pt"
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        create_clip("ViT-B-32", pretrained=str(missing))
    with pytest.raises(FileNotFoundError, match="text_init.*missing.pt"):
        create_clip("ViT-B-32", text_tower="init", text_init=missing)
    for tag in ("openai", "laion2b_s34b_b79k"):
        with pytest.raises(ValueError, match="pretrained='.*'.*tag"):
            create_clip("ViT-B-32", pretrained=tag)
        with pytest.raises(ValueError, match="tag"):
            create_sl("RN50", 3, pretrained=tag)
    with pytest.raises(ValueError, match="download"):
        create_clip("ViT-B-32", pretrained="hf-hub:laion/CLIP-ViT-B-32")
    with pytest.raises(ValueError, match="text_tower='freeze'"):
        create_clip("ViT-B-32", text_tower="freeze")
    with pytest.raises(ValueError, match="needs text_init"):
        create_clip("ViT-B-32", text_tower="frozen")
    with pytest.raises(ValueError, match="text_init="):
        create_clip("ViT-B-32", text_init=str(missing))
    with pytest.raises(ValueError, match="head='mlp'"):
        create_sl("RN50", 3, head="mlp")


def test_flops_per_sample_vit_b_32():
    flops = flops_per_sample("ViT-B-32")
    assert 42e9 < flops < 46e9  # ~44 GFLOP: 3 x 2 x 7.4 GMAC
    assert flops_per_sample("ViT-B-32") == flops  # cached
    with pytest.raises(ValueError, match="kind="):
        flops_per_sample("ViT-B-32", kind="dino")
