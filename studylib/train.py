"""The one training loop, for every objective, CPU or GPU.

It draws batches from a batch source (studylib.data.sources), asks the
objective (studylib.objectives) for the loss, steps the optimiser and calls the
objective's post-step hook. It never looks at the objective's name.

Follows open_clip's recipe where it applies: AdamW without weight decay on
norms, biases, other 1-d parameters and the logit scale; linear warm-up then
cosine decay; every learnable ``*logit_scale`` clamped to ln 100 after each
step; bf16 autocast, fused AdamW and channels_last inputs on GPU
(``amp="auto"``), ``torch.compile`` as an option, and no host sync per step on
GPU. Under torchrun the model is wrapped in DDP.

Reproducible and resumable: the data order of epoch ``e`` is a pure function
of ``(seed, e)`` and any per-step draw of the objective of ``(seed, step)``,
so a run restarted from its last checkpoint (model, optimizer, step) continues
exactly as if it had never stopped. A NaN or infinite loss stops the run with
:class:`TrainingDiverged` naming the step and the run.

Usage::

    objective = get_objective("sl")(sl_cfg, train_cfg, data_info)
    model, _ = objective.build_model()
    history = train(model, objective, InMemorySource(data, 128, seed=0), train_cfg,
                    checkpoint="runs/x/checkpoint.pt", name="x")
"""
from __future__ import annotations

import io
import math
import random
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from studylib.config import TrainConfig
from studylib.data.sources import dist_info
from studylib.io import atomic_write_bytes
from studylib.models.tiny import clamp_logit_scales
from studylib.profiling import step as report_step


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("parameter 'device' is 'cuda' but no CUDA GPU is available")
    return torch.device(name)


def autocast_for(amp: str, device: torch.device):
    use = amp == "bf16" or (amp == "auto" and device.type == "cuda")
    return torch.autocast(device.type, dtype=torch.bfloat16) if use else nullcontext()


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


class CheckpointMismatch(ValueError):
    """A checkpoint written for another run: resuming from it would mix two runs."""


def _rng_states() -> dict:
    """Every global generator's state, in types ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    out = {"torch": torch.get_rng_state(),
           "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                     "has_gauss": int(has_gauss), "cached": float(cached)},
           "python": {"version": version, "internal": list(internal), "gauss": gauss}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_states(state: dict) -> None:
    if not state:
        return
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _save_checkpoint(path: Path, model, opt, step: int, history: list, window: dict, extra: dict,
                     run_key: str | None) -> None:
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step,
                "history": history, "window": window, "objective": extra, "run_key": run_key,
                "rng": _rng_states()}, buf)
    atomic_write_bytes(path, buf.getvalue())


def _load_checkpoint(path: Path, device, run_key: str | None) -> dict:
    try:
        state = torch.load(path, map_location=device, weights_only=True)   # never run code from a file
    except Exception as err:                                              # noqa: BLE001 (re-raised with the file)
        raise CheckpointMismatch(f"cannot resume from {path}: {type(err).__name__}: {err}; delete the file to "
                                 "train this run from the start") from None
    if not isinstance(state, dict) or state.get("run_key") != run_key:
        raise CheckpointMismatch(f"{path} was written for run {state.get('run_key') if isinstance(state, dict) else '?'}"
                                 f", not {run_key}: refusing to resume from it (delete it to start over)")
    return state


def train(model: torch.nn.Module, objective, source, cfg: TrainConfig, *, checkpoint: str | Path | None = None,
          name: str = "run", progress: bool = True, on_step=None, log_every: int = 25,
          run_key: str | None = None) -> list[dict]:
    """Train ``model`` in place with ``objective``; return the logged history (one dict per ``log_every`` steps).

    ``source``: a batch source (studylib.data.sources). Under ``torch.distributed`` (torchrun) the model is
    wrapped in DDP, each rank trains on its share of every global batch,
    CLIP's loss gathers global negatives, and only rank 0 writes checkpoints.
    ``checkpoint``: file to save every ``cfg.checkpoint_every`` steps and to
    resume from if it exists; it records ``run_key`` and every global random generator's state, and one
    written for another key is refused (:class:`CheckpointMismatch`). ``on_step(step)`` is called after each step
    (tests use it to interrupt a run). On GPU the loss is read back only every
    ``log_every`` steps (no host sync per step); a NaN/inf loss is still
    reported with the step where it first appeared.
    """
    device = pick_device(cfg.device)
    rank, world = dist_info()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    model.to(device).train()
    steps_per_epoch = source.steps_per_epoch
    if steps_per_epoch == 0:
        raise ValueError(f"run {name}: batch_size={cfg.batch_size} exceeds the number of training samples")
    total = steps_per_epoch * cfg.epochs
    opt = torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6,
                            fused=device.type == "cuda")
    step, history = 0, []
    window = {"loss": 0.0, "vocab": 0.0, "n": 0}
    ckpt = Path(checkpoint) if checkpoint else None
    if ckpt is not None and ckpt.exists():
        state = _load_checkpoint(ckpt, device, run_key)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history, window = state["step"], state["history"], state["window"]
        objective.load_state(state.get("objective") or {})
        _set_rng_states(state.get("rng"))
    net = model
    if getattr(cfg, "compile", False):
        net = torch.compile(net)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    objective.setup(device, rank, world, source.class_counts)
    autocast = autocast_for(cfg.amp, device)
    check_every = 1 if device.type == "cpu" else log_every
    bar = tqdm(total=total, initial=step, desc=name, disable=not progress or rank != 0, leave=False,
               unit="step", dynamic_ncols=True)
    scales = [p for n, p in model.named_parameters() if n.endswith("logit_scale")]
    loss_sum = torch.zeros((), device=device)
    first_bad = torch.full((), -1, device=device, dtype=torch.long)
    while step < total:
        epoch, offset = divmod(step, steps_per_epoch)
        for batch in source.batches(epoch, offset, device):
            lr = lr_at(step, cfg, total)
            for group in opt.param_groups:
                group["lr"] = lr
            step += 1
            if batch is not None:
                if device.type == "cuda":
                    batch["images"] = batch["images"].contiguous(memory_format=torch.channels_last)
                with autocast:
                    loss, vocab = objective.loss(net, batch, step - 1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                clamp_logit_scales(scales)
                objective.after_step(model, step - 1)
                loss = loss.detach().float()
                bad = ~torch.isfinite(loss)
                first_bad = torch.where(bad & (first_bad < 0), torch.full_like(first_bad, step), first_bad)
                loss_sum += torch.where(bad, torch.zeros_like(loss), loss)
                window["vocab"] += vocab
                window["n"] += 1
            saving = ckpt is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total
            if step % check_every == 0 or step == total or saving:   # never checkpoint a diverged model
                bad_step = int(first_bad)
                if bad_step >= 0:
                    raise TrainingDiverged(f"run {name}: the loss became NaN or infinite at step {bad_step} "
                                           f"(epoch {(bad_step - 1) // steps_per_epoch}); lower lr={cfg.lr} "
                                           "or check the data")
            if step % log_every == 0 or step == total:
                window["loss"] += float(loss_sum)
                loss_sum.zero_()
                n_done = max(1, window["n"])
                row = {"step": step, "epoch": epoch, "loss": window["loss"] / n_done,
                       "vocab": window["vocab"] / n_done, "lr": lr}
                if hasattr(model, "logit_scale"):
                    row["logit_scale"] = float(model.logit_scale.detach().exp())
                history.append(row)
                window = {"loss": 0.0, "vocab": 0.0, "n": 0}
                bar.set_postfix(loss=f"{row['loss']:.3f}")
            bar.update(1)
            if saving:
                if step % log_every:
                    window["loss"] += float(loss_sum)
                    loss_sum.zero_()
                if rank == 0:
                    _save_checkpoint(ckpt, model, opt, step, history, window, objective.state(), run_key)
            if on_step is not None:
                on_step(step)
            report_step(step, total, epoch, cfg.epochs)
            if step >= total:
                break
        report = source.end_epoch()
        if report and rank == 0:
            tqdm.write(f"run {name}, epoch {epoch}: {report}")
    bar.close()
    model.eval()
    return history
