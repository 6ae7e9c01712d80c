"""DDP on CPU (gloo, 2 processes) matches a single process on the same global batches."""

import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from studylib.config import train_config
from studylib.data.sources import InMemorySource, TrainData
from studylib.models.tiny import ClipModel, SLModel
from studylib.objectives.base import DataInfo
from studylib.objectives.clip import Clip, ClipConfig
from studylib.objectives.sl import SL, SLConfig
from studylib.spec import resolve
from studylib.train import train

VOCAB, N_CLASSES, N = 40, 6, 64


def _setup(objective):
    cfg = train_config(
        resolve("smoke"),
        objective=objective,
        batch_size=16,
        epochs=1,
        lr=1e-3,
        warmup_steps=1,
        width=4,
        embed_dim=8,
    )
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 3, 16, 16), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, N_CLASSES, (N,), generator=g)
    tokens = torch.randint(2, VOCAB, (N, 8), generator=g)
    data = TrainData(images, labels, tokens, torch.bincount(labels, minlength=N_CLASSES))
    info = DataInfo(
        "world",
        [f"c{i}" for i in range(N_CLASSES)],
        data.class_counts.numpy(),
        16,
        labels=labels.numpy(),
        captions=["x"] * N,
    )
    torch.manual_seed(cfg.seed)
    if objective == "clip":
        obj = Clip(ClipConfig(text_width=16, context_length=8), cfg, info)
        model = ClipModel(cfg.width, cfg.embed_dim, VOCAB, 8, 16, 1)
    else:
        obj = SL(SLConfig(vocab_k=3), cfg, info)
        model = SLModel(cfg.width, cfg.embed_dim, N_CLASSES)
    model.objective = obj
    # BatchNorm statistics are per process by design (no SyncBN on CPU); this test is about the
    # loss and its gradients, so take the normalisation out of the picture.
    for m in list(model.modules()):
        for name, child in list(m.named_children()):
            if isinstance(child, torch.nn.BatchNorm2d):
                setattr(m, name, torch.nn.Identity())
    return model, data, cfg


def _first_step(model, obj, data, cfg, rank, world):
    source = InMemorySource(data, cfg.batch_size, cfg.seed, rank, world)
    batch = next(source.batches(0, 0, torch.device("cpu")))
    obj.setup(
        torch.device("cpu"), rank, world, data.class_counts, total_steps=source.steps_per_epoch * cfg.epochs
    )
    loss, _ = obj.loss(model, batch, 0)
    loss.backward()
    return loss.detach()


def _train(model, data, cfg, rank=0, world=1):
    train(
        model,
        model.objective,
        InMemorySource(data, cfg.batch_size, cfg.seed, rank, world),
        cfg,
        progress=False,
    )


def _worker(rank, world, init_file, out_dir, objective):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model, data, cfg = _setup(objective)
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        loss = _first_step(ddp, model.objective, data, cfg, rank, world)
        dist.all_reduce(loss)
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        model, data, cfg = _setup(objective)
        _train(model, data, cfg, rank, world)
        if rank == 0:
            torch.save(
                {"loss": loss / world, "grads": grads, "state": model.state_dict()},
                os.path.join(out_dir, "ddp.pt"),
            )
    finally:
        dist.destroy_process_group()


@pytest.mark.parametrize("objective", ["clip", "sl"])
def test_two_process_ddp_matches_single_process(tmp_path, objective):
    torch.set_num_threads(1)
    model, data, cfg = _setup(objective)
    loss = _first_step(model, model.objective, data, cfg, 0, 1)
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model, data, cfg = _setup(objective)
    _train(model, data, cfg)
    single = model.state_dict()

    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path), objective), nprocs=2, join=True)
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=True)
    if objective == "clip":
        # ClipLoss(local_loss=True, gather_with_grad=True): each rank's rows against all
        # gathered columns; their mean is the single-process loss on the global batch.
        assert ddp["loss"].item() == pytest.approx(loss.item(), rel=1e-5)
    assert ddp["grads"].keys() == grads.keys()
    for name, g in grads.items():
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-4, atol=1e-6, msg=name)
    for name, p in single.items():
        q = ddp["state"][name]
        if name.endswith("in_proj_bias"):
            # The key bias has a mathematically zero gradient (softmax ignores a constant
            # shift per query), so its gradient is rounding noise that Adam turns into
            # +-lr steps in either run: compare the query and value parts only.
            d = p.shape[0] // 3
            p, q = torch.cat([p[:d], p[2 * d :]]), torch.cat([q[:d], q[2 * d :]])
        torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-5, msg=name)


def test_batch_must_split_evenly():
    model, data, cfg = _setup("clip")
    with pytest.raises(ValueError, match="divisible by the 3 processes"):
        InMemorySource(data, 16, 0, 0, 3)
