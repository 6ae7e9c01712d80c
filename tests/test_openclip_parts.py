import subprocess
import sys

import pytest

from studylib.models.openclip_parts import part

SCRIPT = r"""
import sys
import torch
from studylib.models.openclip_parts import part

loss_mod, tok_mod = part("loss"), part("tokenizer")
alone = {m: m in sys.modules for m in ("open_clip", "torchvision", "transformers")}
texts = ["a photo of a Great White Shark.", "my dog's ball &amp; the park  (explored)", "naïve café, 2012!"]
tokens = tok_mod.SimpleTokenizer(context_length=16)(texts)
g = torch.Generator().manual_seed(0)
img, txt = torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g)
value = loss_mod.ClipLoss()(img, txt, torch.tensor(3.0))

import open_clip.loss, open_clip.tokenizer                     # now the whole package, as before

same_tokens = torch.equal(tokens, open_clip.tokenizer.SimpleTokenizer(context_length=16)(texts))
same_loss = torch.equal(value, open_clip.loss.ClipLoss()(img, txt, torch.tensor(3.0)))
print(alone, same_tokens, same_loss, part("loss") is open_clip.loss)
"""


def test_the_loss_and_tokenizer_load_without_the_package_and_compute_what_it_computes():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [
        "{'open_clip':",
        "False,",
        "'torchvision':",
        "False,",
        "'transformers':",
        "False}",
        "True",
        "True",
        "True",
    ]


def test_an_unknown_part_is_named():
    with pytest.raises(ValueError, match="unknown open_clip part 'model'"):
        part("model")
