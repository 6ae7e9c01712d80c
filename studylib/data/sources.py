"""Batch sources: what the training loop draws its batches from.

* :class:`InMemorySource` over :class:`TrainData` (the concept world's uint8
  tensors): the global batch of step ``b`` in epoch ``e`` is
  ``epoch_order(n, seed, e)[b*B:(b+1)*B]``, so a resumed run continues exactly;
  with several processes each rank takes its contiguous share.
* :class:`LoaderSource` over a real dataset (studylib.data.adapters) through a
  seeded, per-rank DataLoader; captions are tokenised per batch.

Both follow :class:`BatchSource`, the protocol the training loop is written against.

A batch is a dict with ``images`` (float, normalised), ``labels`` and
``tokens`` (``None`` when the objective does not need them) and, from the
concept world, ``index`` (each sample's row in the training split); a source may
yield ``None`` for a step whose samples all failed to load.

    source = InMemorySource(TrainData(images, labels, tokens, class_counts), batch_size=128, seed=0)
    for batch in source.batches(epoch=0, start=0, device="cpu"): ...
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from studylib.data.adapters import SkipCounter, epoch_order, make_loader
from studylib.models.tiny import normalize_images


@dataclass
class TrainData:
    images: torch.Tensor  # uint8 (N, 3, H, W)
    labels: torch.Tensor  # int64 (N,)
    tokens: torch.Tensor | None  # int64 (N, L) for CLIP
    class_counts: torch.Tensor  # int64 (n_classes,)
    # int64 (N,): each sample's row in the world's training split (None: rows 0..N-1)
    rows: torch.Tensor | None = None

    def __post_init__(self):
        n = len(self.labels)
        if len(self.images) != n or (self.tokens is not None and len(self.tokens) != n):
            raise ValueError(
                f"TrainData: {len(self.images)} images, {n} labels, "
                f"{None if self.tokens is None else len(self.tokens)} token rows differ"
            )


@runtime_checkable
class BatchSource(Protocol):
    """What the training loop (:func:`studylib.train.train`) draws its batches from."""

    steps_per_epoch: int  # optimiser steps of one epoch
    class_counts: torch.Tensor  # training samples per class of the labels it serves

    def batches(self, epoch: int, start: int, device) -> Iterator[dict | None]:
        """The batches of ``epoch`` from step ``start`` on (a resumed run starts mid-epoch): a dict of
        ``images``, ``labels`` and ``tokens`` per step, or None for a step whose samples all failed to load."""

    def end_epoch(self) -> str | None:
        """Called after each epoch: a report for the log (unreadable images), or None."""


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
        self.data, self.batch_size, self.seed, self.rank, self.world = (
            data,
            batch_size,
            seed,
            rank,
            world_size,
        )
        self.steps_per_epoch = len(data.labels) // batch_size
        self.class_counts = data.class_counts

    def batches(self, epoch: int, start: int, device):
        order = epoch_order(len(self.data.labels), self.seed, epoch)
        local = self.batch_size // self.world
        for b in range(start, self.steps_per_epoch):
            idx = order[b * self.batch_size : (b + 1) * self.batch_size][
                self.rank * local : (self.rank + 1) * local
            ]
            yield {
                "images": normalize_images(self.data.images[idx].to(device, non_blocking=True)),
                "labels": self.data.labels[idx].to(device, non_blocking=True),
                "tokens": None
                if self.data.tokens is None
                else self.data.tokens[idx].to(device, non_blocking=True),
                "index": idx if self.data.rows is None else self.data.rows[idx],  # rows in the world's split
            }

    def end_epoch(self):
        return None


class LoaderSource:
    """Batches from a real dataset (studylib.data.adapters) through a seeded, per-rank DataLoader.

    Images arrive already transformed (float, normalised); captions are
    tokenised per batch with ``tokenizer`` (CLIP). A batch whose images all
    failed to load is skipped; unreadable images are counted and reported at
    the end of each epoch.
    """

    def __init__(
        self,
        dataset,
        batch_size: int,
        seed: int,
        *,
        tokenizer=None,
        workers: int = 0,
        class_counts: torch.Tensor | None = None,
        steps_per_epoch: int | None = None,
        rank: int = 0,
        world_size: int = 1,
        require_labels: bool = False,
    ):
        if batch_size % world_size:
            raise ValueError(f"batch_size={batch_size} must be divisible by the {world_size} processes")
        self.dataset, self.batch_size, self.seed, self.tokenizer = dataset, batch_size, seed, tokenizer
        self.workers, self.rank, self.world = workers, rank, world_size
        self.require_labels = require_labels
        self.steps_per_epoch = steps_per_epoch or len(dataset) // batch_size
        self.class_counts = (
            class_counts if class_counts is not None else torch.as_tensor(dataset.class_counts())
        )
        self.skipped = SkipCounter()

    def _stream(self, epoch: int, start: int = 0):
        """Exactly ``steps_per_epoch`` batches from batch ``start`` on: a stream (shards) that runs dry is
        restarted; a map-style dataset skips the first ``start`` batches by index, a stream by reading them."""
        from torch.utils.data import IterableDataset

        local = self.batch_size // self.world
        by_index = not isinstance(self.dataset, IterableDataset)
        done, passes, skip = 0, 0, 0
        if by_index and start:
            per_pass = len(self.dataset) // self.world // local  # batches of one pass (drop_last)
            if per_pass:
                passes, skip = divmod(start, per_pass)
                done = start
        while done < self.steps_per_epoch:
            loader = make_loader(
                self.dataset,
                local,
                shuffle=True,
                seed=self.seed,
                epoch=epoch,
                restart=passes,
                workers=self.workers,
                rank=self.rank,
                world_size=self.world,
                skip_batches=skip,
            )
            skip = 0
            before = done
            for batch in loader:
                yield batch
                done += 1
                if done == self.steps_per_epoch:
                    return
            passes += 1
            if done == before:
                raise ValueError(
                    "train_data gave no batch at all: check the files and that batch_size="
                    f"{self.batch_size} is not larger than the data"
                )

    def batches(self, epoch: int, start: int, device):
        import itertools

        from torch.utils.data import IterableDataset

        stream = self._stream(epoch, start)
        if isinstance(self.dataset, IterableDataset):
            stream = itertools.islice(stream, start, None)
        for batch in stream:
            self.skipped.update(batch)
            keep = batch["labels"] >= 0 if self.require_labels else None
            if keep is not None and not keep.all():
                for i in torch.nonzero(~keep).flatten().tolist():
                    self.skipped.add(f"batch sample {i}", "no class label (the objective trains on labels)")
                batch = {
                    **batch,
                    "images": batch["images"][keep],
                    "labels": batch["labels"][keep],
                    "captions": [c for c, k in zip(batch["captions"], keep.tolist()) if k],
                }
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
            yield {
                "images": batch["images"][:n].to(device, non_blocking=True),
                "labels": batch["labels"][:n].to(device, non_blocking=True),
                "tokens": None if tokens is None else tokens.to(device, non_blocking=True),
            }

    def end_epoch(self):
        report = self.skipped.report() if self.skipped.count else None
        self.skipped.reset()
        return report
