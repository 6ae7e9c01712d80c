"""The one training loop, for every objective, CPU or GPU.

It draws batches from a batch source (:class:`studylib.data.sources.BatchSource`), asks the
objective (studylib.objectives) for the loss and its named extras, steps the optimiser and calls
the objective's post-step hook, as the loop–objective contract of :mod:`studylib.objectives.base`
states. It never looks at the objective's name. :class:`LossWindow` averages the loss and the
extras between two rows of the history.

Follows open_clip's recipe where it applies: AdamW without weight decay on
norms, biases, other 1-d parameters and the logit scale; linear warm-up then
cosine decay (:func:`studylib.schedules.warmup_cosine`); every learnable ``*logit_scale`` clamped to ln 100 after each
step; fused AdamW; bf16 autocast (``amp="auto"``) and, for a convolutional image tower,
channels_last inputs on GPU; ``torch.compile`` as an option, and no host sync per step on
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

Long because the one training loop with its checkpoint/resume, RNG state and divergence checks.
"""

from __future__ import annotations

import io
import random
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from studylib.config import TrainConfig
from studylib.data.sources import BatchSource, dist_info
from studylib.fileio import atomic_write_bytes
from studylib.models.openclip import channels_last_ok
from studylib.models.tiny import clamp_logit_scales
from studylib.profiling import step as report_step
from studylib.schedules import warmup_cosine


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


class CheckpointMismatch(ValueError):
    """A checkpoint written for another run: resuming from it would mix two runs."""


def _rng_states() -> dict:
    """Every global generator's state, in types ``torch.load(weights_only=True)`` accepts."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    out = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_states(state: dict) -> None:
    """Restore :func:`_rng_states`. The checkpoint is loaded onto the training device, so on a GPU its state
    tensors arrive there: every generator takes its state as a CPU byte tensor."""
    if not state:
        return
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def _save_checkpoint(
    path: Path, model, opt, step: int, history: list, window: dict, extra: dict, run_key: str | None
) -> None:
    """Model, optimiser, step, history, the open loss window, the objective's state and every generator."""
    buf = io.BytesIO()
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "step": step,
            "history": history,
            "window": window,
            "objective": extra,
            "run_key": run_key,
            "rng": _rng_states(),
        },
        buf,
    )
    atomic_write_bytes(path, buf.getvalue())


def _load_checkpoint(path: Path, device, run_key: str | None) -> dict:
    try:
        state = torch.load(path, map_location=device, weights_only=True)  # never run code from a file
    except Exception as err:  # noqa: BLE001 (re-raised with the file)
        raise CheckpointMismatch(
            f"cannot resume from {path}: {type(err).__name__}: {err}; delete the file to "
            "train this run from the start"
        ) from None
    if not isinstance(state, dict) or state.get("run_key") != run_key:
        raise CheckpointMismatch(
            f"{path} was written for run {state.get('run_key') if isinstance(state, dict) else '?'}"
            f", not {run_key}: refusing to resume from it (delete it to start over)"
        )
    return state


# the history's own columns; every other column of a row is an objective's extra (Objective.loss)
LOOP_COLUMNS = ("step", "epoch", "loss", "lr", "logit_scale")


class LossWindow:
    """The mean loss and extras of the steps since the last history row.

    The loss is summed on the device (no host sync per step) and read back, :meth:`flush`, when a row is
    written and before a checkpoint (which saves :meth:`state`, the window so far). It also keeps the first
    step whose loss was NaN or infinite (:meth:`first_bad`), and leaves that loss out of the sum."""

    def __init__(self, device: torch.device, saved: dict | None = None):
        saved = saved or {}
        self.loss, self.n, self.extras = (
            saved.get("loss", 0.0),
            saved.get("n", 0),
            dict(saved.get("extras", {})),
        )
        self._sum = torch.zeros((), device=device)
        self._first_bad = torch.full((), -1, device=device, dtype=torch.long)

    def add(self, step: int, loss: torch.Tensor, extras: dict) -> None:
        """One training step (1-based ``step``): its loss tensor and the objective's extras."""
        loss = loss.detach().float()
        bad = ~torch.isfinite(loss)
        self._first_bad = torch.where(
            bad & (self._first_bad < 0), torch.full_like(self._first_bad, step), self._first_bad
        )
        self._sum += torch.where(bad, torch.zeros_like(loss), loss)
        for name, value in extras.items():
            self.extras[name] = self.extras.get(name, 0.0) + value
        self.n += 1

    def first_bad(self) -> int | None:
        """The first step whose loss was not finite, None if none (reads the device)."""
        bad = int(self._first_bad)
        return bad if bad >= 0 else None

    def flush(self) -> None:
        """Move the device's loss sum into the window."""
        self.loss += float(self._sum)
        self._sum.zero_()

    def close(self) -> dict:
        """The window's means (``loss`` then each extra), and a new empty window."""
        self.flush()
        n = max(1, self.n)
        row = {"loss": self.loss / n, **{name: total / n for name, total in self.extras.items()}}
        self.loss, self.n, self.extras = 0.0, 0, dict.fromkeys(self.extras, 0.0)
        return row

    def state(self) -> dict:
        return {"loss": self.loss, "n": self.n, "extras": dict(self.extras)}


def _resume(ckpt: Path | None, model, opt, objective, device, run_key: str | None) -> tuple[int, list, dict]:
    """Restore a checkpoint left by an interrupted run, if there is one: (step, history, loss window)."""
    if ckpt is None or not ckpt.exists():
        return 0, [], {}
    state = _load_checkpoint(ckpt, device, run_key)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    objective.load_state(state.get("objective") or {})
    _set_rng_states(state.get("rng"))
    return state["step"], state["history"], state["window"]


def _wrapped(model, cfg: TrainConfig, world: int, device: torch.device):
    """What the steps call: the model, compiled if asked, in DDP under torchrun."""
    net = torch.compile(model) if getattr(cfg, "compile", False) else model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return net


def _optimise(
    net, model, objective, batch: dict, step: int, opt, autocast, scales: list, nhwc: bool
) -> tuple:
    """One optimiser step on ``batch`` at 0-based ``step``; (loss tensor, extras). ``nhwc``: hand the
    images over in channels_last (a convolutional image tower on a GPU; a ViT gained nothing from it,
    bench/results/gpu_step_variants.txt)."""
    if nhwc and batch["images"].dim() == 4:
        batch["images"] = batch["images"].contiguous(memory_format=torch.channels_last)
    with autocast:
        loss, extras = objective.loss(net, batch, step)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    clamp_logit_scales(scales)
    objective.after_step(model, step)
    return loss, extras


def _stop_if_diverged(window: LossWindow, name: str, per_epoch: int, lr: float) -> None:
    bad = window.first_bad()
    if bad is not None:
        raise TrainingDiverged(
            f"run {name}: the loss became NaN or infinite at step {bad} (epoch "
            f"{(bad - 1) // per_epoch}); lower lr={lr} or check the data"
        )


def _history_row(step: int, epoch: int, window: LossWindow, lr: float, model) -> dict:
    """A history row, closing the loss window: its means, the learning rate and the logit scale (CLIP)."""
    row = {"step": step, "epoch": epoch, **window.close(), "lr": lr}
    if hasattr(model, "logit_scale"):
        row["logit_scale"] = float(model.logit_scale.detach().exp())
    return row


def _run_device(cfg: TrainConfig, world: int) -> torch.device:
    """The device this process trains on, kept apart so train() reads as the loop: under torchrun, its GPU."""
    device = pick_device(cfg.device)
    if device.type == "cuda" and world > 1:  # torchrun: this process's GPU
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def _optimizer(model, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """The AdamW optimiser (CLIP's betas and eps; fused, one kernel for every parameter: on CPU a quarter
    faster per step for the features world's small models), built in one place for train()."""
    return torch.optim.AdamW(
        param_groups(model, cfg.weight_decay),
        lr=cfg.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
        fused=device.type in ("cuda", "cpu"),
    )


def _progress_bar(total: int, step: int, name: str, progress: bool, rank: int):
    """The run's tqdm bar, resumed at ``step``, shown on rank 0 only; split out to keep train() short."""
    return tqdm(
        total=total,
        initial=step,
        desc=name,
        disable=not progress or rank != 0,
        leave=False,
        unit="step",
        dynamic_ncols=True,
    )


def _saving_due(ckpt: Path | None, cfg: TrainConfig, step: int, total: int):
    """Whether a checkpoint is due after ``step`` (never at the last step), kept apart to keep train() short."""
    return ckpt is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < total


def train(
    model: torch.nn.Module,
    objective,
    source: BatchSource,
    cfg: TrainConfig,
    *,
    checkpoint: str | Path | None = None,
    name: str = "run",
    progress: bool = True,
    on_step=None,
    log_every: int = 25,
    run_key: str | None = None,
) -> list[dict]:
    """Train ``model`` in place with ``objective``; return the history (a row per ``log_every`` steps: ``step``,
    ``epoch``, mean ``loss`` and mean extras of the objective since the last row, ``lr``, ``logit_scale``).

    Under torchrun the model is wrapped in DDP, each rank trains on its share of every global batch, CLIP's
    loss gathers global negatives, and only rank 0 writes checkpoints. ``checkpoint``: file to save every
    ``cfg.checkpoint_every`` steps and to resume from if it exists; it records ``run_key`` and every global
    random generator's state, and one written for another key is refused (:class:`CheckpointMismatch`).
    ``on_step(step)`` is called after each step (tests use it to interrupt a run). On GPU the loss is read
    back only every ``log_every`` steps (no host sync per step); a NaN/inf loss is still reported with the
    step where it first appeared.
    """
    rank, world = dist_info()
    device = _run_device(cfg, world)
    model.to(device).train()
    per_epoch = source.steps_per_epoch
    if per_epoch == 0:
        raise ValueError(f"run {name}: batch_size={cfg.batch_size} exceeds the number of training samples")
    total = per_epoch * cfg.epochs
    opt = _optimizer(model, cfg, device)
    ckpt = Path(checkpoint) if checkpoint else None
    step, history, saved = _resume(ckpt, model, opt, objective, device, run_key)
    window = LossWindow(device, saved)
    net = _wrapped(model, cfg, world, device)
    objective.setup(device, rank, world, source.class_counts, total_steps=total)
    autocast = autocast_for(cfg.amp, device)
    check_every = 1 if device.type == "cpu" else log_every
    bar = _progress_bar(total, step, name, progress, rank)
    scales = [p for n, p in model.named_parameters() if n.endswith("logit_scale")]
    nhwc = device.type == "cuda" and channels_last_ok(model)
    while step < total:
        epoch, offset = divmod(step, per_epoch)
        for batch in source.batches(epoch, offset, device):
            lr = warmup_cosine(step, total, cfg.lr, cfg.warmup_steps)
            for group in opt.param_groups:
                group["lr"] = lr
            step += 1
            if batch is not None:
                window.add(
                    step, *_optimise(net, model, objective, batch, step - 1, opt, autocast, scales, nhwc)
                )
            saving = _saving_due(ckpt, cfg, step, total)
            if step % check_every == 0 or step == total or saving:  # never checkpoint a diverged model
                _stop_if_diverged(window, name, per_epoch, cfg.lr)
            if step % log_every == 0 or step == total:
                history.append(_history_row(step, epoch, window, lr, model))
                bar.set_postfix(loss=f"{history[-1]['loss']:.3f}")
            bar.update(1)
            if saving:
                window.flush()
                if rank == 0:
                    _save_checkpoint(
                        ckpt, model, opt, step, history, window.state(), objective.state(), run_key
                    )
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
