"""A ViT's patch embedding as one matrix product over the flattened patches.

open_clip embeds a ViT's patches with a ``Conv2d`` whose kernel equals its stride. The same map is a reshape and
one matrix product, and on a GPU that is the faster route: cuDNN runs this convolution, and above all its
weight gradient, far below the matrix-product rate, while it holds a few percent of a ViT step's FLOPs.
bench/gpu_step_variants.py measures the step both ways (bench/results/gpu_step_variants.txt), next to
cudnn.benchmark and channels_last inputs, which did not change the convolution's time.

:class:`PatchMatmul` keeps the convolution's ``weight`` and ``bias`` Parameters under the same names, so state
dicts, checkpoints and optimiser groups are unchanged, and it computes the same function (up to the order of
float additions; ``tests/test_patch_embed.py`` compares them).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class PatchMatmul(nn.Module):
    """``Conv2d(c, width, p, stride=p)`` (no padding, dilation or groups) as patches @ weight.T + bias.

    Returns ``(batch, width, h // p, w // p)`` like the convolution (a view of the product's output); rows and
    columns beyond the last whole patch are dropped, as the convolution drops them.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not is_patch_conv(conv):
            raise ValueError(
                f"{conv} is not a patch embedding (kernel == stride, no padding, dilation or groups)"
            )
        self.patch = conv.kernel_size
        self.weight, self.bias = conv.weight, conv.bias

    def forward(self, x):
        b, c, h, w = x.shape
        ph, pw = self.patch
        gh, gw = h // ph, w // pw
        x = x[:, :, : gh * ph, : gw * pw]
        patches = x.reshape(b, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5).reshape(b, gh * gw, c * ph * pw)
        out = F.linear(patches, self.weight.reshape(len(self.weight), -1), self.bias)
        return out.transpose(1, 2).unflatten(2, (gh, gw))

    def extra_repr(self) -> str:
        return f"{self.weight.shape[1]}, {self.weight.shape[0]}, patch={tuple(self.patch)}"


def is_patch_conv(m: nn.Module) -> bool:
    return (
        isinstance(m, nn.Conv2d)
        and tuple(m.kernel_size) == tuple(m.stride)
        and tuple(m.padding) == (0, 0)
        and tuple(m.dilation) == (1, 1)
        and m.groups == 1
        and m.padding_mode == "zeros"
    )


def patch_embedding_as_matmul(visual: nn.Module) -> bool:
    """Replace an image tower's ``conv1`` by a :class:`PatchMatmul` when it is a patch embedding (open_clip's
    ViTs); return whether it did. Convolutional towers (ModifiedResNet, timm) are left alone."""
    conv = getattr(visual, "conv1", None)
    if conv is None or not is_patch_conv(conv):
        return False
    visual.conv1 = PatchMatmul(conv)
    return True
