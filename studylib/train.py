"""One training loop for every objective (CLIP and SL), CPU or GPU.

Follows open_clip's recipe where it applies: AdamW without weight decay on
norms, biases, other 1-d parameters and the logit scale; linear warm-up then
cosine decay; the learnable logit scale clamped to ln 100 after every step;
bf16 autocast, fused AdamW and channels_last inputs on GPU (``amp="auto"``),
``torch.compile`` as an option, and no host sync per step on GPU.

Data comes from a batch source: :class:`InMemorySource` (the concept world's
tensors) or :class:`LoaderSource` (real datasets through studylib.data).
Under torchrun the model is wrapped in DDP, each rank takes its share of
every global batch, and CLIP's loss gathers negatives from all ranks.

Reproducible and resumable: the data order of epoch ``e`` is a pure function
of ``(seed, e)`` and the vocabulary draw of step ``t`` of ``(seed, t)``, so a
run restarted from its last checkpoint (model, optimizer, step) continues
exactly as if it had never stopped. A NaN or infinite loss stops the run with
:class:`TrainingDiverged` naming the step and the run.

Usage::

    data = TrainData(images_uint8, labels, tokens, class_counts)
    model = build_model(cfg, n_classes, vocab_size)
    history = train(model, data, cfg, checkpoint="runs/x/checkpoint.pt", name="x")
    # real data: train(model, LoaderSource(dataset, 256, seed=0, tokenizer=tok), cfg)
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


def dist_info() -> tuple[int, int]:
    """(rank, world size) of the torch.distributed group, (0, 1) without one."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class InMemorySource:
    """Batches from in-memory :class:`TrainData`.

    The global batch of step ``b`` in epoch ``e`` is ``epoch_order(n, seed, e)[b*B:(b+1)*B]``;
    with several processes rank ``r`` takes its contiguous share of it, so the
    union over ranks is exactly the single-process batch.
    """

    def __init__(self, data: TrainData, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        if batch_size % world_size:
            raise ValueError(f"batch_size={batch_size} must be divisible by the {world_size} processes")
        self.data, self.batch_size, self.seed, self.rank, self.world = data, batch_size, seed, rank, world_size
        self.steps_per_epoch = len(data.labels) // batch_size
        self.class_counts = data.class_counts

    def batches(self, epoch: int, start: int, device):
        order = epoch_order(len(self.data.labels), self.seed, epoch)
        local = self.batch_size // self.world
        for b in range(start, self.steps_per_epoch):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size][self.rank * local:(self.rank + 1) * local]
            yield {"images": normalize_images(self.data.images[idx].to(device, non_blocking=True)),
                   "labels": self.data.labels[idx].to(device, non_blocking=True),
                   "tokens": None if self.data.tokens is None else self.data.tokens[idx].to(device, non_blocking=True)}

    def end_epoch(self):
        return None


class LoaderSource:
    """Batches from a real dataset (studylib.data) through a seeded, per-rank DataLoader.

    Images arrive already transformed (float, normalised); captions are
    tokenised per batch with ``tokenizer`` (CLIP). A batch whose images all
    failed to load is skipped; unreadable images are counted and reported at
    the end of each epoch.
    """

    def __init__(self, dataset, batch_size: int, seed: int, *, tokenizer=None, workers: int = 0,
                 class_counts: torch.Tensor | None = None, steps_per_epoch: int | None = None,
                 rank: int = 0, world_size: int = 1, require_labels: bool = False):
        from studylib.data import SkipCounter

        if batch_size % world_size:
            raise ValueError(f"batch_size={batch_size} must be divisible by the {world_size} processes")
        self.dataset, self.batch_size, self.seed, self.tokenizer = dataset, batch_size, seed, tokenizer
        self.workers, self.rank, self.world = workers, rank, world_size
        self.require_labels = require_labels
        self.steps_per_epoch = steps_per_epoch or len(dataset) // batch_size
        self.class_counts = class_counts if class_counts is not None else torch.as_tensor(dataset.class_counts())
        self.skipped = SkipCounter()

    def _stream(self, epoch: int):
        """Exactly ``steps_per_epoch`` batches: a stream (shards) that runs dry is restarted."""
        from studylib.data import make_loader

        done, passes = 0, 0
        while done < self.steps_per_epoch:
            loader = make_loader(self.dataset, self.batch_size // self.world, shuffle=True, seed=self.seed,
                                 epoch=epoch if passes == 0 else epoch * 1000 + passes, workers=self.workers, rank=self.rank,
                                 world_size=self.world)
            before = done
            for batch in loader:
                yield batch
                done += 1
                if done == self.steps_per_epoch:
                    return
            passes += 1
            if done == before:
                raise ValueError("train_data gave no batch at all: check the files and that batch_size="
                                 f"{self.batch_size} is not larger than the data")

    def batches(self, epoch: int, start: int, device):
        import itertools

        for batch in itertools.islice(self._stream(epoch), start, None):
            self.skipped.update(batch)
            keep = batch["labels"] >= 0 if self.require_labels else None
            if keep is not None and not keep.all():
                for i in torch.nonzero(~keep).flatten().tolist():
                    self.skipped.add(f"batch sample {i}", "no class label (objective=sl needs one)")
                batch = {**batch, "images": batch["images"][keep], "labels": batch["labels"][keep],
                         "captions": [c for c, k in zip(batch["captions"], keep.tolist()) if k]}
            n = len(batch["labels"])
            if self.world > 1:
                # every process must take the same step with the same local batch size
                import torch.distributed as dist

                size = torch.tensor([n], device=device)
                dist.all_reduce(size, op=dist.ReduceOp.MIN)
                n = int(size)
            if n == 0:
                yield None
                continue
            tokens = self.tokenizer(batch["captions"][:n]) if self.tokenizer is not None else None
            yield {"images": batch["images"][:n].to(device, non_blocking=True),
                   "labels": batch["labels"][:n].to(device, non_blocking=True),
                   "tokens": None if tokens is None else tokens.to(device, non_blocking=True)}

    def end_epoch(self):
        report = self.skipped.report() if self.skipped.count else None
        self.skipped.reset()
        return report


def compute_loss(model, batch: dict, cfg: TrainConfig, loss_fn, class_counts, step: int):
    """The objective's loss on one (local) batch, and the number of classes it scored."""
    if cfg.objective == "clip":
        return clip_loss(model, batch["images"], batch["tokens"], loss_fn), len(batch["images"])
    if cfg.vocab_k <= 0 or cfg.vocab_k >= len(class_counts):
        return sl_loss(model, batch["images"], batch["labels"], cfg, class_counts, None)
    gen = torch.Generator().manual_seed(cfg.seed * 7_919 + step)      # the same draw on every rank
    global_labels = None
    rank, world = dist_info()
    if world > 1:
        import torch.distributed as dist

        parts = [torch.empty_like(batch["labels"]) for _ in range(world)]
        dist.all_gather(parts, batch["labels"])
        global_labels = torch.cat(parts)
    return sl_loss(model, batch["images"], batch["labels"], cfg, class_counts, gen, global_labels)


def train(model: torch.nn.Module, data, cfg: TrainConfig, *, checkpoint: str | Path | None = None,
          name: str = "run", progress: bool = True, on_step=None, log_every: int = 25) -> list[dict]:
    """Train ``model`` in place; return the logged history (one dict per ``log_every`` steps).

    ``data``: :class:`TrainData` (in memory) or a batch source such as
    :class:`LoaderSource`. Under ``torch.distributed`` (torchrun) the model is
    wrapped in DDP, each rank trains on its share of every global batch,
    CLIP's loss gathers global negatives, and only rank 0 writes checkpoints.
    ``checkpoint``: file to save every ``cfg.checkpoint_every`` steps and to
    resume from if it exists. ``on_step(step)`` is called after each step
    (tests use it to interrupt a run). On GPU the loss is read back only every
    ``log_every`` steps (no host sync per step); a NaN/inf loss is still
    reported with the step where it first appeared.
    """
    device = pick_device(cfg.device)
    rank, world = dist_info()
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", torch.cuda.current_device())
    source = data if hasattr(data, "batches") else InMemorySource(data, cfg.batch_size, cfg.seed, rank, world)
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
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, history, window = state["step"], state["history"], state["window"]
    net = model
    if getattr(cfg, "compile", False):
        net = torch.compile(net)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    loss_fn = make_clip_loss(rank, world) if cfg.objective == "clip" else None
    counts = source.class_counts.to(device)
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
                    loss, vocab = compute_loss(net, batch, cfg, loss_fn, counts, step - 1)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                clamp_logit_scales(scales)
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
                    _save_checkpoint(ckpt, model, opt, step, history, window)
            if on_step is not None:
                on_step(step)
            if step >= total:
                break
        report = source.end_epoch()
        if report and rank == 0:
            tqdm.write(f"run {name}, epoch {epoch}: {report}")
    bar.close()
    model.eval()
    return history
