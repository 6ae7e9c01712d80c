"""Which settings make studylib's CLIP training step faster on a GPU (issue 30, item 5: ViT-B-32 MFU at B512).

Every variant runs studylib.train.train on the same synthetic on-device batch (bf16 autocast, fused AdamW;
bench/gpu_train.py's ``studylib_trainer``) and changes one thing against the base, studylib as it is:

  base                  NCHW images (train() hands channels_last only to convolutional towers) and the ViT's
                        patch embedding as one matrix product (studylib.models.patch_embed)
  NHWC images           channels_last images, what train() did for every 4-D GPU batch before
  cudnn.benchmark       cuDNN times its algorithms for each new shape
  SDPA <backends>       scaled_dot_product_attention limited to those backends (the default picks cuDNN's)
  patch embedding as Conv2d   open_clip's own patch convolution (same Parameters), what studylib ran before

Eager variants first (the kernels they change are the same under compile, and eager costs no compile
time), then the combination of every change that beat the base by more than 2% (the fastest SDPA choice),
eager and compiled, with a profile of the compiled combination; then the compiled base. Each line is
written as it comes, so a run cut short keeps what it measured.

    python bench/gpu_step_variants.py --out $OUT/variants.txt --profile-out $OUT/variants_profile.txt
    python bench/gpu_step_variants.py --device cpu --batch 4 --steps 2 --warmup 1 --no-compile   # script check
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).parent))
from gpu_train import bench_device, profile_report, studylib_trainer, synthetic  # noqa: E402

from studylib.models.openclip import flops_per_sample  # noqa: E402


def patch_conv(model) -> None:
    """Put the ViT's patch embedding back as the Conv2d open_clip builds (same Parameters)."""
    pm = model.visual.conv1
    out_ch, in_ch = pm.weight.shape[:2]
    conv = nn.Conv2d(
        in_ch, out_ch, pm.patch, stride=pm.patch, bias=pm.bias is not None, device=pm.weight.device
    )
    conv.weight, conv.bias = pm.weight, pm.bias
    model.visual.conv1 = conv


@contextlib.contextmanager
def settings(opts: dict):
    """cudnn.benchmark and the SDPA backends of a variant, restored afterwards."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = bool(opts.get("benchmark"))
    sdpa = opts.get("sdpa")
    ctx = sdpa_kernel([getattr(SDPBackend, b) for b in sdpa]) if sdpa else contextlib.nullcontext()
    try:
        with ctx:
            yield
    finally:
        torch.backends.cudnn.benchmark = before


EAGER = {
    "base": {},
    "NHWC images": {"nhwc": True},
    "cudnn.benchmark": {"benchmark": True},
    "SDPA flash+efficient": {"sdpa": ["FLASH_ATTENTION", "EFFICIENT_ATTENTION"]},
    "SDPA efficient": {"sdpa": ["EFFICIENT_ATTENTION"]},
    "SDPA math": {"sdpa": ["MATH"]},
    "patch embedding as Conv2d": {"conv": True},
}


def measure(opts, images, tokens, args, device, mode=None, profile=0):
    imgs = images.contiguous(memory_format=torch.channels_last) if opts.get("nhwc") else images
    with settings(opts):
        return studylib_trainer(
            args.arch,
            imgs,
            tokens,
            args.steps,
            args.warmup,
            device,
            mode,
            profile,
            prepare=patch_conv if opts.get("conv") else None,
        )


def combine(times: dict) -> dict:
    """Every option that beat the base by more than 2%, with the fastest SDPA choice."""
    wins = [n for n in EAGER if n != "base" and times[n] < times["base"] / 1.02]
    combo = {}
    for n in sorted(wins, key=times.get, reverse=True):  # slowest first: the fastest SDPA choice stays
        combo.update(EAGER[n])
    return combo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--arch", default="ViT-B-32")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=989.0, help="datasheet dense bf16 TFLOP/s")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "gpu_step_variants.txt"))
    ap.add_argument("--profile-out", default=str(Path(__file__).parent / "results" / "gpu_step_profile.txt"))
    args = ap.parse_args()
    device = bench_device(args.device)
    flops = flops_per_sample(args.arch)
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f"# gpu_step_variants  {name}  torch {torch.__version__}  {args.arch} B{args.batch}  "
        f"steps={args.steps} warmup={args.warmup}"
    ]

    def report(label, sec, warm):
        ips = args.batch / sec
        mfu = 100 * ips * flops / (args.peak_tflops * 1e12)
        lines.append(
            f"{label:60s} {ips:7.0f} img/s {sec * 1e3:7.1f} ms/step  MFU {mfu:5.1f}%  warm-up {warm:4.0f}s"
        )
        print(lines[-1], flush=True)
        out.write_text("\n".join(lines) + "\n")

    images, tokens = synthetic(args.batch, 224, 77, device)
    times = {}
    for label, opts in EAGER.items():
        try:
            sec, _, warm = measure(opts, images, tokens, args, device)
        except RuntimeError as err:  # a backend that cannot run here (SDPA efficient on CPU)
            times[label] = float("inf")
            lines.append(f"eager    {label:51s} failed: {str(err).splitlines()[0][:100]}")
            print(lines[-1], flush=True)
            continue
        times[label] = sec
        report(f"eager    {label}", sec, warm)
    combo = combine(times)
    sec, _, warm = measure(combo, images, tokens, args, device)
    report(f"eager    combination {combo}", sec, warm)
    if args.no_compile:
        return
    sec, prof, warm = measure(combo, images, tokens, args, device, "default", profile=3)
    report(f"compiled combination {combo}", sec, warm)
    Path(args.profile_out).write_text(
        profile_report(prof, f"{args.arch} B{args.batch} compiled {combo}") + "\n"
    )
    print(Path(args.profile_out).read_text(), flush=True)
    sec, _, warm = measure({}, images, tokens, args, device, "default")
    report("compiled base", sec, warm)


if __name__ == "__main__":
    main()
