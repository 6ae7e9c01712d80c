"""Benchmark: training samples per second and FLOP per sample, ``render=features`` against ``render=pixels``.

Why: chapters 2–4 moved to the features world (issue 24) so that the CPU budget buys seeds and models
that learn; the issue asks for at least 20x more training samples per second than pixels, for SL and
CLIP. Both renders are measured in one run, one thread each, with the same model settings, so that only
the render (and with it the image tower: the CNN on 16 px images, the MLP on 128 retina values) differs:

* chapter 2's quick setting (width 64, text width 128, the bag-of-embeddings text tower): the one the
  issue's target is judged on, since it is what chapters 2–4 train and what ``-p render=pixels`` trains;
* the preset's default width (32, text width 64), shown too: the narrower CNN is cheaper, so the ratio is
  smaller there;
* for reference, pixels with the transformer text tower (what the pixel world's CLIP used before).

Batches are chapter 2's quick world itself (its captions encoded with its own vocabulary; images of the
same config rendered both ways), batch 256. A step is the objective's loss (cross-entropy over 300 classes
for SL, open_clip's ClipLoss for CLIP), backward and AdamW (fused, as the training loop uses it). FLOP per
sample are counted by ``torch.utils.flop_counter`` on one forward and backward pass (matrix products and
convolutions; embedding lookups count 0). Output also goes to ``bench/results/render_speed.txt``.

    python bench/render_speed.py
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from studylib.fileio import atomic_write_text  # noqa: E402
from studylib.models.tiny import ClipModel, SLModel  # noqa: E402
from studylib.objectives.clip import make_clip_loss  # noqa: E402

BATCH, CLASSES, CONTEXT = 256, 300, 24
SETTINGS = {  # name -> (width, text width, text tower)
    "chapter 2 (width 64, text 128, bag)": (64, 128, "bag"),
    "preset default (width 32, text 64, bag)": (32, 64, "bag"),
    "pixel world's CLIP (width 32, text 64, transformer)": (32, 64, "transformer"),
}


def batches(n: int) -> dict:
    """Chapter 2's quick world: ``n`` samples of its features, its pixels, labels and caption tokens."""
    from studylib.chapters import ch02
    from studylib.evaluate import prompts_for
    from studylib.models.tiny import normalize_images
    from studylib.models.vocabulary import Vocabulary
    from studylib.session import Session

    s = Session(ch02.NAME, "quick", sizes=ch02.SIZES, seeds=ch02.SEEDS, progress=False)
    out = {}
    for render in ("features", "pixels"):
        w = s.world(render=render)
        out[render] = normalize_images(w.train.images[:n].clone())
    captions = list(w.train.captions)
    vocab = Vocabulary(captions + prompts_for(w.class_names), CONTEXT)
    out["tokens"], out["vocab"] = vocab.encode(captions[:n]), len(vocab)
    out["labels"] = torch.from_numpy(w.train.labels[:n]).clamp(max=CLASSES - 1)
    return out


def build(objective: str, render: str, setting: tuple, vocab: int, feature_dim: int):
    width, text_width, text_arch = setting
    fd = feature_dim if render == "features" else 0
    if objective == "sl":
        return SLModel(width, 128, CLASSES, feature_dim=fd)
    return ClipModel(width, 128, vocab, CONTEXT, text_width, 2, feature_dim=fd, text_arch=text_arch)


def measure(objective: str, render: str, setting: tuple, data: dict, seconds: float = 4.0) -> dict:
    torch.manual_seed(0)
    images = data[render]
    model = build(objective, render, setting, data["vocab"], data["features"].shape[1])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=True)
    loss_fn = make_clip_loss()

    def loss(i):
        sl = slice(i * BATCH, (i + 1) * BATCH)
        if objective == "sl":
            return F.cross_entropy(model(images[sl]), data["labels"][sl])
        return loss_fn(*model(images[sl], data["tokens"][sl]))

    with FlopCounterMode(display=False) as counter:
        loss(0).backward()
    flop = counter.get_total_flops() / BATCH
    steps, n_batches = 0, len(images) // BATCH
    for i in range(2):  # warm-up
        loss(i).backward()
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or steps < 3:
        opt.zero_grad(set_to_none=True)
        loss(steps % n_batches).backward()
        opt.step()
        steps += 1
    return {"samples_per_s": BATCH * steps / (time.perf_counter() - t0), "flop": flop}


def main():
    torch.set_num_threads(1)
    data = batches(BATCH * 40)
    lines = [
        f"# render_speed  chapter 2's quick world, batch {BATCH}, 1 thread, {platform.machine()}, "
        f"torch {torch.__version__}, vocabulary {data['vocab']}"
    ]
    for setting_name, setting in SETTINGS.items():
        for objective in ("sl", "clip"):
            if objective == "sl" and setting[2] == "transformer":
                continue  # SL has no text tower: the line above is the same model
            got = {render: measure(objective, render, setting, data) for render in ("pixels", "features")}
            ratio = got["features"]["samples_per_s"] / got["pixels"]["samples_per_s"]
            flop_ratio = got["pixels"]["flop"] / got["features"]["flop"]
            lines.append(
                f"{objective:4s} {setting_name:50s} pixels {got['pixels']['samples_per_s']:7.0f}/s "
                f"({got['pixels']['flop'] / 1e6:6.2f} MFLOP), features {got['features']['samples_per_s']:7.0f}/s "
                f"({got['features']['flop'] / 1e6:5.2f} MFLOP): {ratio:5.1f}x samples/s, {flop_ratio:5.1f}x fewer FLOP"
            )
    lines.append("target (issue 24): >= 20x samples/s for SL and CLIP at chapter 2's setting")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    atomic_write_text(Path(__file__).resolve().parent / "results" / "render_speed.txt", text)


if __name__ == "__main__":
    main()
