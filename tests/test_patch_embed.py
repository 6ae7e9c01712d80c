"""A ViT's patch embedding as one matrix product: the convolution's function, parameters and names."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from studylib.models.openclip import create_clip, create_sl
from studylib.models.patch_embed import PatchMatmul, patch_embedding_as_matmul


@pytest.mark.parametrize("bias", [True, False])
def test_patch_matmul_is_the_convolution(bias):
    """Same output and gradients as the Conv2d, also for an image that is not a whole number of patches."""
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 16, 8, stride=8, bias=bias).double()
    x = torch.randn(2, 3, 35, 42, dtype=torch.float64, requires_grad=True)
    params = [x, conv.weight] + ([conv.bias] if bias else [])
    ref = conv(x)
    upstream = torch.randn_like(ref)
    ref_grads = torch.autograd.grad((ref * upstream).sum(), params)
    matmul = PatchMatmul(conv)
    out = matmul(x)
    grads = torch.autograd.grad((out * upstream).sum(), params)
    assert out.shape == ref.shape == (2, 16, 4, 5)
    torch.testing.assert_close(out, ref)
    for got, want in zip(grads, ref_grads):
        torch.testing.assert_close(got, want)
    assert matmul.weight is conv.weight and (matmul.bias is conv.bias)


def test_other_convolutions_are_refused_and_left_alone():
    with pytest.raises(ValueError, match="not a patch embedding"):
        PatchMatmul(nn.Conv2d(3, 8, 3, stride=2, padding=1))
    for conv in (nn.Conv2d(3, 8, 4, stride=4, padding=1), nn.Conv2d(4, 8, 4, stride=4, groups=2)):
        tower = nn.Module()
        tower.conv1 = conv
        assert not patch_embedding_as_matmul(tower) and tower.conv1 is conv
    assert not patch_embedding_as_matmul(nn.Linear(2, 2))


def test_open_clip_vit_gets_it_with_open_clips_state_dict():
    """create_clip's ViT: the patch embedding is a PatchMatmul, the state dict is open_clip's own (names and
    shapes), and with open_clip's weights it computes open_clip's image features."""
    import open_clip

    model = create_clip("ViT-S-32-alt")[0]
    assert isinstance(model.clip.visual.conv1, PatchMatmul)
    torch.manual_seed(0)
    ref = open_clip.create_model("ViT-S-32-alt", pretrained=None).eval()
    ours, theirs = model.clip.state_dict(), ref.state_dict()
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    model.clip.load_state_dict(theirs, strict=True)
    model.clip.eval()
    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(
            model.clip.encode_image(images), ref.encode_image(images), atol=1e-4, rtol=1e-4
        )
    assert isinstance(create_sl("ViT-S-32-alt", n_classes=3)[0].visual.conv1, PatchMatmul)
