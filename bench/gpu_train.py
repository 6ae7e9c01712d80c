"""GPU training throughput: plain open_clip step vs studylib's trainer, same GPU, same process.

For each (architecture, batch): synthetic images and tokens already on the GPU,
then
  (a) a plain open_clip step: ``create_model(arch, pretrained=None)``, ``ClipLoss``,
      AdamW, bf16 autocast, eager;
  (b) studylib's trainer (``studylib.train.train``) on the same model config and
      batch: bf16 autocast, fused AdamW, channels_last for convolutional towers,
      no host sync per step; and (b+compile) the same with ``torch.compile``.
Prints img/s, ms/step and model-FLOP utilisation (FLOPs per training sample from
``studylib.models.openclip.flops_per_sample``; peak bf16 dense FLOP/s of the GPU
from ``--peak-tflops``, default 989 for an H100 SXM), and the ratio b/a last.

    python bench/gpu_train.py                                  # RN50 and ViT-B-32 at B256 and B512
    python bench/gpu_train.py --archs ViT-B-32 --batches 512 --steps 30
    python bench/gpu_train.py --device cpu --archs RN50 --batches 4 --steps 2 --warmup 1   # script check only

Output also goes to bench/results/gpu_train.txt (or --out).
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from studylib.config import train_config
from studylib.objectives.clip import make_clip_loss
from studylib.spec import resolve


def synthetic(batch, image_size, context, device, seed=0):
    g = torch.Generator(device="cpu").manual_seed(seed)
    images = torch.randn(batch, 3, image_size, image_size, generator=g).to(device)
    tokens = torch.randint(1, 49000, (batch, context), generator=g)
    tokens[:, 0], tokens[:, -1] = 49406, 49407
    return images, tokens.to(device)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def plain_open_clip(arch, images, tokens, steps, warmup, device):
    """(a): the reference loop, written as a user of open_clip would."""
    import open_clip

    model, _, _ = open_clip.create_model_and_transforms(arch, pretrained=None, device=device)
    model.train()
    loss_fn = make_clip_loss()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.2)
    amp = torch.autocast(device.type, dtype=torch.bfloat16)
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            t0 = time.perf_counter()
        with amp:
            img, txt, scale = model(images, tokens)[:3]
            loss = loss_fn(img, txt, scale)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return (time.perf_counter() - t0) / steps


class RepeatSource:
    """A batch source for studylib.train that yields the same on-device batch every step."""

    def __init__(self, images, tokens, steps):
        self.batch = {
            "images": images,
            "tokens": tokens,
            "labels": torch.zeros(len(images), dtype=torch.long, device=images.device),
        }
        self.steps_per_epoch = steps
        self.class_counts = torch.ones(1000)

    def batches(self, epoch, start, device):
        for _ in range(start, self.steps_per_epoch):
            yield dict(self.batch)

    def end_epoch(self):
        return None


def studylib_trainer(arch, images, tokens, steps, warmup, device, compile_):
    """(b): studylib.train.train on the same model config and batch."""
    from studylib.models.openclip import channels_last_ok, create_clip
    from studylib.objectives.base import DataInfo
    from studylib.objectives.clip import Clip, ClipConfig
    from studylib.train import train

    model, _, _ = create_clip(arch, device=str(device))
    if channels_last_ok(model):
        model = model.to(memory_format=torch.channels_last)
    cfg = train_config(
        resolve("paper"),
        arch=arch,
        batch_size=len(images),
        epochs=1,
        lr=1e-4,
        warmup_steps=1,
        checkpoint_every=0,
        compile=compile_,
        device=device.type,
        amp="bf16",
    )
    marks = {}

    def on_step(step):
        if step in (warmup, warmup + steps):
            sync(device)
            marks[step] = time.perf_counter()

    info = DataInfo("real", [str(i) for i in range(1000)], np.ones(1000, dtype=np.int64), 224)
    objective = Clip(ClipConfig(), cfg, info)
    train(
        model,
        objective,
        RepeatSource(images, tokens, warmup + steps),
        cfg,
        progress=False,
        on_step=on_step,
        log_every=10**9,
    )
    return (marks[warmup + steps] - marks[warmup]) / steps


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archs", nargs="+", default=["RN50", "ViT-B-32"])
    ap.add_argument("--batches", nargs="+", type=int, default=[256, 512])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="peak dense bf16 TFLOP/s of the GPU")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_train.txt"))
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA GPU here: run this benchmark on a GPU machine (or --device cpu to check the script)"
        )
    from studylib.models.openclip import flops_per_sample

    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    lines = [f"# gpu_train  {name}  torch {torch.__version__}  steps={args.steps} warmup={args.warmup}"]
    ratios = []
    for arch in args.archs:
        flops = flops_per_sample(arch)
        for batch in args.batches:
            images, tokens = synthetic(batch, 224, 77, device)
            results = {
                "a plain open_clip": plain_open_clip(arch, images, tokens, args.steps, args.warmup, device),
                "b studylib": studylib_trainer(arch, images, tokens, args.steps, args.warmup, device, False),
            }
            if not args.no_compile:
                results["b studylib +compile"] = studylib_trainer(
                    arch, images, tokens, args.steps, args.warmup, device, True
                )
            for variant, sec in results.items():
                ips = batch / sec
                mfu = ips * flops / (args.peak_tflops * 1e12)
                lines.append(
                    f"{arch:9s} B{batch:<5d} {variant:22s} {ips:9.0f} img/s  {sec * 1e3:8.1f} ms/step  "
                    f"MFU {100 * mfu:5.1f}%"
                )
            best = min(v for k, v in results.items() if k.startswith("b "))
            ratios.append((f"{arch} B{batch}", results["a plain open_clip"] / best))
            print("\n".join(lines[-len(results) :]), flush=True)
            del images, tokens
            if device.type == "cuda":
                torch.cuda.empty_cache()
    lines.append(
        "# FLOPs per training sample: "
        + ", ".join(f"{a} {flops_per_sample(a) / 1e9:.1f} GFLOP" for a in args.archs)
    )
    lines += [f"ratio b/a (best studylib variant / plain open_clip), {k}: {r:.2f}" for k, r in ratios]
    text = "\n".join(lines)
    print("\n".join(lines[-len(ratios) - 1 :]))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
