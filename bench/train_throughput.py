"""Training-step throughput: studylib's trainer against a bare hand-written loop.

Same model, same batch size, same in-memory data, same optimizer settings; the
bare loop is the minimum a step needs (index, normalise, forward, loss,
backward, AdamW step). The difference is our trainer's overhead: LR schedule,
logit-scale clamp, NaN check, logging, progress bar, vocabulary sampling.
Also measured, on the bare loop: bf16 autocast on this CPU (AMX-BF16) and torch.compile
(steady state after compiling); and the FLOPs of a training sample (torch's flop counter),
hence the GFLOP/s our trainer achieves against an fp32 matmul peak measured in the same run
with the same threads. DINO's step is the CNN's forward and backward on several views.

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
        return ClipModel(
            cfg.width, cfg.embed_dim, vocab, p["context_length"], p["text_width"], p["text_layers"]
        )
    return SLModel(cfg.width, cfg.embed_dim, n_classes)


def objective_for(p, cfg, data, n_classes):
    info = DataInfo(
        "world",
        [str(i) for i in range(n_classes)],
        data.class_counts.numpy(),
        p["image_size"],
        labels=data.labels.numpy(),
        captions=[""] * len(data.labels),
    )
    cls = get(cfg.objective)
    return cls(build(cls.Config, p), cfg, info)


def make_data(n, n_classes, vocab, size, length, seed=0):
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    tokens = torch.randint(2, vocab, (n, length), generator=g)
    tokens[:, length // 2 :] = 0
    counts = torch.bincount(labels, minlength=n_classes)
    return TrainData(images, labels, tokens, counts)


def bare_loop(p, cfg, data, n_classes, vocab, amp="off", compile_model=False):
    """Samples/s of the minimal loop; with ``compile_model`` the first 5 steps (compilation) are not timed."""
    model = build_model(p, cfg, n_classes, vocab)
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6)
    loss_fn = make_clip_loss()
    steps = len(data.labels) // cfg.batch_size
    ctx = autocast_for(amp, torch.device("cpu"))
    if compile_model:
        model = torch.compile(model)
    skip = 5 if compile_model else 0
    t0 = time.perf_counter()
    for s in range(steps):
        if s == skip and skip:
            t0 = time.perf_counter()
        idx = slice(s * cfg.batch_size, (s + 1) * cfg.batch_size)
        x = normalize_images(data.images[idx])
        with ctx:
            if cfg.objective == "clip":
                loss = loss_fn(
                    model.encode_image(x), model.encode_text(data.tokens[idx]), model.logit_scale.exp()
                )
            else:
                loss = F.cross_entropy(model(x), data.labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        clamp_logit_scales(model)
    return (steps - skip) * cfg.batch_size / (time.perf_counter() - t0)


def flops_per_sample(p, cfg, data, n_classes, vocab) -> float:
    """Forward + backward FLOPs of one training sample (torch.utils.flop_counter: matmuls, convolutions)."""
    from torch.utils.flop_counter import FlopCounterMode

    b = cfg.batch_size
    x = normalize_images(data.images[:b])
    if cfg.objective == "dino":
        objective = objective_for(p, cfg, data, n_classes)
        model = objective.build_model()[0]
        objective.setup("cpu", 0, 1, data.class_counts, total_steps=1)
        with FlopCounterMode(display=False) as counter:
            objective.loss(model, {"images": x}, 0)[0].backward()
        return counter.get_total_flops() / b
    model = build_model(p, cfg, n_classes, vocab)
    with FlopCounterMode(display=False) as counter:
        if cfg.objective == "clip":
            loss = make_clip_loss()(
                model.encode_image(x), model.encode_text(data.tokens[:b]), model.logit_scale.exp()
            )
        else:
            loss = F.cross_entropy(model(x), data.labels[:b])
        loss.backward()
    return counter.get_total_flops() / b


def matmul_peak(n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of a square fp32 matmul on this CPU with the same threads (the practical peak)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - t0)


def ours(p, cfg, data, n_classes, vocab):
    objective = objective_for(p, cfg, data, n_classes)
    model = objective.build_model()[0] if cfg.objective == "dino" else build_model(p, cfg, n_classes, vocab)
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
    lines = [
        f"# train_throughput  torch {torch.__version__}  {platform.processor() or platform.machine()}  "
        f"threads={torch.get_num_threads()}  steps={args.steps}  repeats={args.repeats}"
    ]
    ratios = []
    peak = matmul_peak()
    for objective, extra in (("sl", {}), ("clip", {}), ("dino", {})):
        cfg = train_config(p, objective=objective, **extra)
        data = make_data(args.steps * cfg.batch_size, n_classes, vocab, p["image_size"], p["context_length"])
        # each variant is called within this iteration; the defaults bind this iteration's cfg and data
        variants = (
            {"studylib": lambda cfg=cfg, data=data: ours(p, cfg, data, n_classes, vocab)}
            if objective == "dino"
            else {
                "bare fp32": lambda cfg=cfg, data=data: bare_loop(p, cfg, data, n_classes, vocab),
                "bare bf16": lambda cfg=cfg, data=data: bare_loop(p, cfg, data, n_classes, vocab, "bf16"),
                "bare compile": lambda cfg=cfg, data=data: bare_loop(
                    p, cfg, data, n_classes, vocab, compile_model=True
                ),
                "studylib": lambda cfg=cfg, data=data: ours(p, cfg, data, n_classes, vocab),
            }
        )
        results = {k: [] for k in variants}
        warm = make_data(4 * cfg.batch_size, n_classes, vocab, p["image_size"], p["context_length"])
        if objective == "dino":
            ours(p, cfg, warm, n_classes, vocab)  # warm-up
        else:
            bare_loop(p, cfg, warm, n_classes, vocab)
        for _ in range(args.repeats):
            for k, fn in variants.items():
                results[k].append(fn())
        name = objective + (f" vocab_k={extra['vocab_k']}" if extra else "")
        med = {k: statistics.median(v) for k, v in results.items()}
        for k, v in med.items():
            lines.append(
                f"{name:18s} {k:10s} {v:9.0f} samples/s  (runs: {', '.join(f'{x:.0f}' for x in results[k])})"
            )
        if "bare bf16" in med:
            lines.append(f"{name:18s} bf16 autocast / fp32 (bare): {med['bare bf16'] / med['bare fp32']:.2f}")
        if "bare compile" in med:
            lines.append(
                f"{name:18s} torch.compile / eager (bare, after compiling): "
                f"{med['bare compile'] / med['bare fp32']:.2f}"
            )
        flops = flops_per_sample(p, cfg, data, n_classes, vocab)
        achieved = flops * med["studylib"]
        lines.append(
            f"{name:18s} {flops / 1e6:.1f} MFLOP/sample, {achieved / 1e9:.1f} GFLOP/s achieved = "
            f"{achieved / peak:.1%} of the {peak / 1e9:.0f} GFLOP/s fp32 matmul peak"
        )
        if "bare fp32" in med:
            ratios.append((name, med["studylib"] / med["bare fp32"]))
    lines += [f"ratio studylib / bare loop, {name}: {r:.3f}" for name, r in ratios]
    text = "\n".join(lines)
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
