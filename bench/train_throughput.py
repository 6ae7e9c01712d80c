"""Training-step throughput: studylib's trainer against a bare hand-written loop.

Same model, same batch size, same in-memory data, same optimizer settings; the
bare loop is the minimum a step needs (index, normalise, forward, loss,
backward, AdamW step). The difference is our trainer's overhead: LR schedule,
logit-scale clamp, NaN check, logging, progress bar, vocabulary sampling.
Also measured: bf16 autocast on this CPU (AMX-BF16), bare loop.

    python bench/train_throughput.py            # quick-preset model sizes
    python bench/train_throughput.py --steps 40 --repeats 2

Prints samples/s per variant (median of repeats, variants interleaved) and,
last, the ratio ours / bare per objective. Output also goes to
bench/results/train_throughput.txt.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from studylib.config import build, train_config
from studylib.data.sources import InMemorySource, TrainData
from studylib.models.tiny import ClipModel, SLModel, clamp_logit_scales, normalize_images
from studylib.objectives.base import DataInfo, get
from studylib.objectives.clip import make_clip_loss
from studylib.spec import resolve
from studylib.train import autocast_for, param_groups, train


def build_model(p, cfg, n_classes, vocab):
    """The quick-preset model of ``cfg.objective`` (seeded as the pipeline seeds it)."""
    torch.manual_seed(cfg.seed)
    if cfg.objective == "clip":
        return ClipModel(cfg.width, cfg.embed_dim, vocab, p["context_length"], p["text_width"], p["text_layers"])
    return SLModel(cfg.width, cfg.embed_dim, n_classes)


def objective_for(p, cfg, data, n_classes):
    info = DataInfo("world", [str(i) for i in range(n_classes)], data.class_counts.numpy(), p["image_size"],
                    labels=data.labels.numpy(), captions=[""] * len(data.labels))
    cls = get(cfg.objective)
    return cls(build(cls.Config, p), cfg, info)


def make_data(n, n_classes, vocab, size, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    tokens = torch.randint(2, vocab, (n, length), generator=g)
    tokens[:, length // 2:] = 0
    counts = torch.bincount(labels, minlength=n_classes)
    return TrainData(images, labels, tokens, counts)


def bare_loop(p, cfg, data, n_classes, vocab, amp="off"):
    model = build_model(p, cfg, n_classes, vocab)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = make_clip_loss()
    steps = len(data.labels) // cfg.batch_size
    ctx = autocast_for(amp, torch.device("cpu"))
    t0 = time.perf_counter()
    for s in range(steps):
        idx = slice(s * cfg.batch_size, (s + 1) * cfg.batch_size)
        x = normalize_images(data.images[idx])
        with ctx:
            if cfg.objective == "clip":
                loss = loss_fn(model.encode_image(x), model.encode_text(data.tokens[idx]), model.logit_scale.exp())
            else:
                loss = F.cross_entropy(model(x), data.labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp_logit_scales(model)
    return steps * cfg.batch_size / (time.perf_counter() - t0)


def ours(p, cfg, data, n_classes, vocab):
    model = build_model(p, cfg, n_classes, vocab)
    objective = objective_for(p, cfg, data, n_classes)
    t0 = time.perf_counter()
    train(model, objective, InMemorySource(data, cfg.batch_size, cfg.seed), cfg, progress=True, name="bench")
    return len(data.labels) // cfg.batch_size * cfg.batch_size / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "train_throughput.txt"))
    args = ap.parse_args()
    p = resolve("quick", epochs=1, warmup_steps=5, checkpoint_every=0)
    n_classes, vocab = p["n_classes"], 3600
    lines = [f"# train_throughput  torch {torch.__version__}  {platform.processor() or platform.machine()}  "
             f"threads={torch.get_num_threads()}  steps={args.steps}  repeats={args.repeats}"]
    ratios = []
    for objective, extra in (("sl", {}), ("clip", {})):
        cfg = train_config(p, objective=objective, **extra)
        data = make_data(args.steps * cfg.batch_size, n_classes, vocab, p["image_size"], p["context_length"])
        variants = {"bare fp32": lambda: bare_loop(p, cfg, data, n_classes, vocab),
                    "bare bf16": lambda: bare_loop(p, cfg, data, n_classes, vocab, "bf16"),
                    "studylib": lambda: ours(p, cfg, data, n_classes, vocab)}
        results = {k: [] for k in variants}
        bare_loop(p, cfg, make_data(4 * cfg.batch_size, n_classes, vocab, p["image_size"], p["context_length"]),
                  n_classes, vocab)                                     # warm-up
        for _ in range(args.repeats):
            for k, fn in variants.items():
                results[k].append(fn())
        name = objective + (f" vocab_k={extra['vocab_k']}" if extra else "")
        med = {k: statistics.median(v) for k, v in results.items()}
        for k, v in med.items():
            lines.append(f"{name:18s} {k:10s} {v:9.0f} samples/s  (runs: {', '.join(f'{x:.0f}' for x in results[k])})")
        if "bare bf16" in med:
            lines.append(f"{name:18s} bf16 autocast / fp32 (bare): {med['bare bf16'] / med['bare fp32']:.2f}")
        ratios.append((name, med["studylib"] / med["bare fp32"]))
    lines += [f"ratio studylib / bare loop, {name}: {r:.3f}" for name, r in ratios]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
