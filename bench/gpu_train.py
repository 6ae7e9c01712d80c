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
    python bench/gpu_train.py --archs ViT-B-32 --batches 512 --measure-peak \
        --compile-modes default max-autotune-no-cudagraphs --profile 3 --profile-out prof.txt

``--compile-modes``: one (b+compile) variant per ``torch.compile`` mode ("default" is studylib's own
``compile=True``; another mode compiles the model in this script and hands it to the trainer).
``--measure-peak``: time an 8192^3 bf16 matrix product first and give MFU against it too (the datasheet
peak is not reached by any kernel). ``--profile N``: profile N steps of the last (b) variant of each
setting with torch.profiler and write its GPU kernel time by kind (matrix products, cuDNN convolutions, attention, Triton
fused kernels, other) and the top kernels to ``--profile-out``. Graph breaks of each compiled variant
are counted (torch._dynamo's counters).

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


def bench_device(name: str) -> torch.device:
    """The device a GPU benchmark runs on; a clear exit where CUDA is asked for and absent."""
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(
            "no CUDA GPU here: run this benchmark on a GPU machine (or --device cpu to check the script)"
        )
    return device


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


def studylib_trainer(arch, images, tokens, steps, warmup, device, mode=None, profile=0, prepare=None):
    """(b): studylib.train.train on the same model config and batch; ``mode`` None (eager) or a
    torch.compile mode; ``prepare(model)`` changes the built model first (bench/gpu_step_variants.py).
    Returns (seconds per step, profiler or None, seconds to the end of warm-up: build and compile)."""
    from studylib.models.openclip import channels_last_ok, create_clip
    from studylib.objectives.base import DataInfo
    from studylib.objectives.clip import Clip, ClipConfig
    from studylib.train import train

    model, _, _ = create_clip(arch, device=str(device))
    if channels_last_ok(model):
        model = model.to(memory_format=torch.channels_last)
    if prepare is not None:
        prepare(model)
    if mode not in (None, "default"):
        model = torch.compile(model, mode=mode)
    cfg = train_config(
        resolve("paper"),
        arch=arch,
        batch_size=len(images),
        epochs=1,
        lr=1e-4,
        warmup_steps=1,
        checkpoint_every=0,
        compile=mode == "default",
        device=device.type,
        amp="bf16",
    )
    marks = {"enter": time.perf_counter()}
    end = warmup + steps + profile
    prof = torch.profiler.profile() if profile else None

    def on_step(step):
        if step in (warmup, warmup + steps, end):
            sync(device)
            marks[step] = time.perf_counter()
        if prof is not None and step == warmup + steps:
            prof.start()
        if prof is not None and step == end:
            prof.stop()

    info = DataInfo("real", [str(i) for i in range(1000)], np.ones(1000, dtype=np.int64), 224)
    objective = Clip(ClipConfig(), cfg, info)
    train(
        model,
        objective,
        RepeatSource(images, tokens, end),
        cfg,
        progress=False,
        on_step=on_step,
        log_every=10**9,
    )
    return (marks[warmup + steps] - marks[warmup]) / steps, prof, marks[warmup] - marks["enter"]


def kernel_kind(name: str) -> str:
    low = name.lower()
    if "cnn::" in low or "convolution" in low:  # cuDNN's own, before "cudnn" counts as attention below
        return "convolutions"
    if any(k in low for k in ("gemm", "cutlass", "xmma", "nvjet", "cublas", "matmul")):
        return "matrix products"
    if any(k in low for k in ("flash", "fmha", "attention", "sdpa", "cudnn")):
        return "attention"
    if low.startswith("triton"):
        return "Triton fused"
    return "other"


def profile_report(prof, title: str, top: int = 25) -> str:
    """GPU kernel time by kind and the top kernels of a profiled span (kernels only: the operators that
    launch them would count their time twice)."""
    from torch.autograd import DeviceType

    events = [
        (e.key, getattr(e, "self_device_time_total", 0) or getattr(e, "self_cuda_time_total", 0), e.count)
        for e in prof.key_averages()
        if e.device_type == DeviceType.CUDA
    ]
    events = sorted((e for e in events if e[1] > 0), key=lambda e: -e[1])
    total = sum(t for _, t, _ in events) or 1
    kinds = {}
    for key, t, _ in events:
        kinds[kernel_kind(key)] = kinds.get(kernel_kind(key), 0) + t
    lines = [f"## {title}: {total / 1e3:.1f} ms of GPU kernel time"]
    lines += [
        f"{k:16s} {t / 1e3:8.1f} ms  {100 * t / total:5.1f}%"
        for k, t in sorted(kinds.items(), key=lambda x: -x[1])
    ]
    lines += [
        f"{t / 1e3:8.2f} ms {n:5d}x  {100 * t / total:5.1f}%  {key[:110]}" for key, t, n in events[:top]
    ]
    return "\n".join(lines)


def peak_bf16(device, n=8192, reps=10) -> float:
    """Measured bf16 TFLOP/s of an n^3 matrix product (mean of ``reps`` after 3 warm-ups)."""
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    for _ in range(3):
        a @ b
    sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e12


def run_setting(arch, batch, args, device):
    """Every variant at one (arch, batch): {variant: (s/step, warm-up s, graph breaks)} and profile texts."""
    from torch._dynamo.utils import counters

    images, tokens = synthetic(batch, 224, 77, device)
    results = {
        "a plain open_clip": (plain_open_clip(arch, images, tokens, args.steps, args.warmup, device), 0, 0)
    }
    modes = [None] + ([] if args.no_compile else args.compile_modes)
    profiles = []
    for i, mode in enumerate(modes):
        counters.clear()
        profile = args.profile if i == len(modes) - 1 else 0
        sec, prof, warm = studylib_trainer(
            arch, images, tokens, args.steps, args.warmup, device, mode, profile
        )
        variant = "b studylib" + (
            "" if mode is None else " +compile" + ("" if mode == "default" else f"[{mode}]")
        )
        results[variant] = (sec, warm, sum(counters["graph_break"].values()))
        if prof is not None:
            profiles.append(profile_report(prof, f"{arch} B{batch} {variant}, {profile} steps"))
        print(f"  {variant}: {batch / sec:.0f} img/s after {warm:.0f}s of build and warm-up", flush=True)
    del images, tokens
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return results, profiles


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archs", nargs="+", default=["RN50", "ViT-B-32"])
    ap.add_argument("--batches", nargs="+", type=int, default=[256, 512])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    ap.add_argument("--compile-modes", nargs="+", default=["default"], help="torch.compile modes to time")
    ap.add_argument(
        "--peak-tflops", type=float, default=989.0, help="datasheet dense bf16 TFLOP/s of the GPU"
    )
    ap.add_argument(
        "--measure-peak", action="store_true", help="also give MFU against a measured bf16 product"
    )
    ap.add_argument("--profile", type=int, default=0, help="profile this many steps of the last variant")
    ap.add_argument("--profile-out", default=str(Path(__file__).parent / "results" / "gpu_train_profile.txt"))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_train.txt"))
    args = ap.parse_args()
    device = bench_device(args.device)
    from studylib.models.openclip import flops_per_sample

    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    lines = [f"# gpu_train  {name}  torch {torch.__version__}  steps={args.steps} warmup={args.warmup}"]
    peaks = [("datasheet", args.peak_tflops)]
    if args.measure_peak:
        peaks.append(("measured", peak_bf16(device)))
        lines.append(
            f"# measured bf16 8192^3 product: {peaks[-1][1]:.0f} TFLOP/s (datasheet {args.peak_tflops:.0f})"
        )
        print(lines[-1], flush=True)
    ratios, profiles = [], []
    for arch in args.archs:
        flops = flops_per_sample(arch)
        for batch in args.batches:
            results, profs = run_setting(arch, batch, args, device)
            profiles += profs
            for variant, (sec, warm, breaks) in results.items():
                ips = batch / sec
                mfu = "  ".join(f"MFU {100 * ips * flops / (p * 1e12):5.1f}% of {k}" for k, p in peaks)
                extra = f"  warm-up {warm:5.0f}s  graph breaks {breaks}" if variant.startswith("b ") else ""
                lines.append(
                    f"{arch:9s} B{batch:<5d} {variant:44s} {ips:7.0f} img/s  {sec * 1e3:7.1f} ms/step  {mfu}{extra}"
                )
            best = min(v[0] for k, v in results.items() if k.startswith("b "))
            ratios.append((f"{arch} B{batch}", results["a plain open_clip"][0] / best))
            print("\n".join(lines[-len(results) :]), flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(
                "\n".join(lines) + "\n"
            )  # after each setting: a killed run keeps its part
    lines.append(
        "# FLOPs per training sample: "
        + ", ".join(f"{a} {flops_per_sample(a) / 1e9:.1f} GFLOP" for a in args.archs)
    )
    lines += [f"ratio b/a (best studylib variant / plain open_clip), {k}: {r:.2f}" for k, r in ratios]
    print("\n".join(lines[-len(ratios) - 1 :]))
    Path(args.out).write_text("\n".join(lines) + "\n")
    if profiles:
        Path(args.profile_out).write_text("\n\n".join(profiles) + "\n")
        print("\n\n".join(profiles))


if __name__ == "__main__":
    main()
