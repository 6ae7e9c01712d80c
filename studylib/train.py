"""One training loop for every objective (CLIP and SL), CPU or GPU.

Follows open_clip's recipe where it applies: AdamW without weight decay on
norms, biases, embeddings-free scalars and the logit scale; linear warm-up
then cosine decay; the learnable logit scale clamped to ln 100 after every
step; bf16 autocast on GPU (``amp="auto"``).

Reproducible and resumable: the data order of epoch ``e`` is a pure function
of ``(seed, e)`` and the vocabulary draw of step ``t`` of ``(seed, t)``, so a
run restarted from its last checkpoint (model, optimizer, step) continues
exactly as if it had never stopped. A NaN or infinite loss stops the run with
:class:`TrainingDiverged` naming the step and the run.

Usage::

    data = TrainData(images_uint8, labels, tokens, class_counts)
    model = build_model(cfg, n_classes, vocab_size)
    history = train(model, data, cfg, checkpoint="runs/x/checkpoint.pt", name="x")
"""
from __future__ import annotations

import io
import math
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from studylib.config import TrainConfig
from studylib.io import atomic_write_bytes
from studylib.models import ClipModel, SLModel, clamp_logit_scales, normalize_images
from studylib.objectives import clip_loss, make_clip_loss, sl_loss


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclass
class TrainData:
    images: torch.Tensor                   # uint8 (N, 3, H, W)
    labels: torch.Tensor                   # int64 (N,)
    tokens: torch.Tensor | None            # int64 (N, L) for CLIP
    class_counts: torch.Tensor             # int64 (n_classes,)

    def __post_init__(self):
        n = len(self.labels)
        if len(self.images) != n or (self.tokens is not None and len(self.tokens) != n):
            raise ValueError(f"TrainData: {len(self.images)} images, {n} labels, "
                             f"{None if self.tokens is None else len(self.tokens)} token rows differ")


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("parameter 'device' is 'cuda' but no CUDA GPU is available")
    return torch.device(name)


def autocast_for(amp: str, device: torch.device):
    use = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use else nullcontext()


def build_model(cfg: TrainConfig, n_classes: int, vocab_size: int | None = None, prototypes=None):
    torch.manual_seed(cfg.seed)
    if cfg.objective == "clip":
        if vocab_size is None:
            raise ValueError("a CLIP model needs the text vocabulary size")
        return ClipModel(cfg, vocab_size)
    return SLModel(cfg, n_classes, prototypes)


def param_groups(model: torch.nn.Module, weight_decay: float):
    """open_clip's split: no decay for 1-d tensors (norms, biases), gains and the logit scale."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in name or "norm" in name or "bias" in name or "logit_scale" in name
        (no_decay if exclude else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


def lr_at(step: int, cfg: TrainConfig, total: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)
    return 0.5 * cfg.lr * (1 + math.cos(math.pi * min(1.0, t)))


def epoch_order(n: int, seed: int, epoch: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))


def _save_checkpoint(path: Path, model, opt, step: int, history: list, window: dict) -> None:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "history": history, "window": window}, buf)
    atomic_write_bytes(path, buf.getvalue())


def train(model: torch.nn.Module, data: TrainData, cfg: TrainConfig, *, checkpoint: str | Path | None = None,
          name: str = "run", progress: bool = True, on_step=None, log_every: int = 25) -> list[dict]:
    """Train ``model`` in place; return the logged history (one dict per ``log_every`` steps).

    ``checkpoint``: file to save every ``cfg.checkpoint_every`` steps and to
    resume from if it exists. ``on_step(step)`` is called after each step
    (tests use it to interrupt a run).
    """
    device = pick_device(cfg.device)
    model.to(device).train()
    n = len(data.labels)
    steps_per_epoch = n // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"run {name}: batch_size={cfg.batch_size} exceeds the {n} training samples")
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6,
                            fused=device.type == "cuda")
    step, history = 0, []
    window = {"loss": 0.0, "vocab": 0.0, "n": 0}
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history, window = state["step"], state["history"], state["window"]
    loss_fn = make_clip_loss() if cfg.objective == "clip" else None
    counts = data.class_counts.to(device)
    autocast = autocast_for(cfg.amp, device)
    bar = tqdm(total=total, initial=step, desc=name, disable=not progress, leave=False,
               unit="step", dynamic_ncols=True)
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        order = epoch_order(n, cfg.seed, epoch)
        for b in range(offset, steps_per_epoch):
            idx = order[b * cfg.batch_size:(b + 1) * cfg.batch_size]
            images = normalize_images(data.images[idx].to(device, non_blocking=True))
            for group in opt.param_groups:
                group["lr"] = lr_at(step, cfg, total)
            with autocast:
                if cfg.objective == "clip":
                    loss = clip_loss(model, images, data.tokens[idx].to(device, non_blocking=True), loss_fn)
                    vocab = len(idx)
                else:
                    gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step)
                    loss, vocab = sl_loss(model, images, data.labels[idx].to(device), cfg, counts, gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            clamp_logit_scales(model)
            step += 1
            value = float(loss.detach())
            if not math.isfinite(value):
                raise TrainingDiverged(f"run {name}: loss is {value} at step {step} "
                                       f"(epoch {epoch}); lower lr={cfg.lr} or check the data")
            window["loss"] += value
            window["vocab"] += vocab
            window["n"] += 1
            if step % log_every == 0 or step == total:
                row = {"step": step, "epoch": epoch, "loss": window["loss"] / window["n"],
                       "vocab": window["vocab"] / window["n"], "lr": lr_at(step - 1, cfg, total)}
                if hasattr(model, "logit_scale"):
                    row["logit_scale"] = float(model.logit_scale.detach().exp())
                history.append(row)
                window = {"loss": 0.0, "vocab": 0.0, "n": 0}
                bar.set_postfix(loss=f"{row['loss']:.3f}")
            bar.update(1)
            if ckpt is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total:
                _save_checkpoint(ckpt, model, opt, step, history, window)
            if on_step is not None:
                on_step(step)
            if step >= total:
                break
    bar.close()
    model.eval()
    return history
