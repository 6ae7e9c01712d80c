"""The DINO objective: EMA teacher, centring, the loss by hand, prototype subsampling, and a real run."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from studylib.objectives.dino import DinoConfig, dino_loss, ema_update, sample_prototypes, updated_center
from studylib.pipeline import run
from studylib.spec import RunSpec

DINO = {"objective": "dino", "dino_prototypes": 64, "dino_hidden": 32, "dino_bottleneck": 16}


def test_ema_update_moves_the_teacher_toward_the_student():
    student, teacher = nn.Linear(3, 2), nn.Linear(3, 2)
    s0, t0 = student.weight.detach().clone(), teacher.weight.detach().clone()
    ema_update(teacher, student, 0.9)
    assert torch.allclose(teacher.weight, 0.9 * t0 + 0.1 * s0)
    assert torch.allclose(student.weight, s0)  # the student is untouched
    ema_update(teacher, student, 1.0)
    assert torch.allclose(teacher.weight, 0.9 * t0 + 0.1 * s0)  # momentum 1: frozen


def test_centre_is_an_ema_of_the_teacher_batch_mean():
    c = torch.tensor([1.0, 0.0])
    out = [torch.tensor([[0.0, 2.0], [2.0, 2.0]]), torch.tensor([[4.0, 0.0], [2.0, 0.0]])]  # mean (2, 1)
    assert torch.allclose(updated_center(c, out, 0.9), torch.tensor([0.9 * 1 + 0.1 * 2, 0.1 * 1]))


def test_loss_by_hand():
    """One sample, two prototypes; teacher sees views 0 and 1, the student views 0, 1 and 2."""
    t = [torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])]
    s = [torch.tensor([[0.5, 0.0]]), torch.tensor([[0.0, 0.5]]), torch.tensor([[0.2, 0.1]])]
    c, tt, ts = torch.tensor([0.5, 0.5]), 0.5, 0.25

    def softmax(x):
        e = np.exp(x - x.max())
        return e / e.sum()

    def ce(tv, sv):
        p = softmax((np.array(tv) - 0.5) / tt)
        return -(p * np.log(softmax(np.array(sv) / ts))).sum()

    pairs = [(0, 1), (0, 2), (1, 0), (1, 2)]  # every (teacher view, other student view)
    expected = np.mean([ce(t[i][0].tolist(), s[v][0].tolist()) for i, v in pairs])
    assert float(dino_loss(s, t, c, ts, tt)) == pytest.approx(expected, rel=1e-6)


def test_prototype_subsampling_draws_exactly_k_seeded():
    def draw(seed):
        return sample_prototypes(1000, 37, torch.Generator().manual_seed(seed))

    a = draw(3)
    assert len(a) == 37 == len(torch.unique(a)) and (a.diff() > 0).all() and a.max() < 1000
    assert torch.equal(a, draw(3)) and not torch.equal(a, draw(4))
    assert sample_prototypes(1000, 0, torch.Generator()) is None
    assert sample_prototypes(1000, 1000, torch.Generator()) is None


def test_a_dino_run_trains_evaluates_and_counts_its_prototypes(tiny_params):
    from studylib.config import ConfigError

    r = run(RunSpec({**tiny_params, **DINO, "dino_proto_k": 16}, label="dino"), progress=False)
    assert r.metrics["mean_vocab"] == 16  # the loss scored 16 prototypes a step
    assert 1 <= r.metrics["unique_prototypes"] <= 64
    assert r.metrics["prototype_drift"] > 0  # training moved the teacher's prototypes
    assert 1 <= r.metrics["prototype_usage"] <= 64  # perplexity of its assignments
    weights = r.array("classifier_weights")  # the nearest-class-mean probe
    assert weights.shape == (tiny_params["n_classes"], tiny_params["embed_dim"])
    assert np.allclose(np.linalg.norm(weights, axis=1), 1, atol=1e-5)
    assert 0 <= r.metrics["top1"] <= 1
    with pytest.raises(ConfigError, match="dino_proto_k"):
        run(RunSpec({**tiny_params, **DINO, "dino_proto_k": 65}), progress=False)


def test_the_teacher_follows_the_momentum_schedule(tiny_params):
    from studylib.config import train_config
    from studylib.objectives.base import DataInfo
    from studylib.objectives.dino import Dino

    cfg = DinoConfig(dino_momentum=0.9)
    info = DataInfo("world", ["a", "b"], np.array([64, 64]), 16)
    obj = Dino(cfg, train_config({**tiny_params, "objective": "dino", "batch_size": 32, "epochs": 2}), info)
    obj.setup("cpu", 0, 1, torch.tensor([64, 64]), total_steps=8)  # the loop's steps (2 epochs of 4)
    assert obj.total_steps == 8
    assert obj.momentum(0) == pytest.approx(0.9) and obj.momentum(8) == pytest.approx(1.0)
    assert obj.momentum(4) == pytest.approx(1 - 0.1 * (math.cos(math.pi / 2) + 1) / 2)


def test_prototype_usage_is_the_perplexity_of_the_assignments():
    from studylib.metrics import assignment_perplexity

    assert assignment_perplexity([0, 10, 0, 0]) == pytest.approx(1.0)  # one-hot: one prototype used
    assert assignment_perplexity([5, 5, 5, 5]) == pytest.approx(4.0)  # even over four
    assert assignment_perplexity([3, 1, 0]) == pytest.approx(
        np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25)))
    )
    assert np.isnan(assignment_perplexity([0, 0]))


def test_an_untrained_dino_model_has_no_prototype_drift():
    from studylib.objectives.dino import DinoConfig, DinoModel

    m = DinoModel(8, 16, DinoConfig(dino_prototypes=32), n_classes=4)
    w = m.teacher["head"].prototypes().detach()
    assert torch.equal(m.initial_prototypes, w)


def test_the_batched_loss_equals_the_papers_loop_on_a_constructed_batch():
    """Caron et al.'s formula, written as their loop: for every global view i of the teacher and every other
    view v of the student, the batch mean of −Σ_k P_t(i)_k log P_s(v)_k; then the mean over those pairs."""
    g = torch.Generator().manual_seed(0)
    teacher = [torch.randn(5, 7, generator=g) for _ in range(2)]
    student = [torch.randn(5, 7, generator=g) for _ in range(4)]  # two global views, then two local ones
    center, ts, tt = torch.randn(7, generator=g), 0.1, 0.04
    total, terms = 0.0, 0
    for i, t in enumerate(teacher):
        p = torch.softmax((t - center) / tt, dim=-1)
        for v, s in enumerate(student):
            if v != i:
                total += float((-(p * torch.log_softmax(s / ts, dim=-1)).sum(-1)).mean())
                terms += 1
    assert terms == 6
    assert float(dino_loss(student, teacher, center, ts, tt)) == pytest.approx(total / terms, rel=1e-6)


def test_prototype_usage_of_a_one_hot_assignment_is_exact():
    from studylib.metrics import assignment_perplexity

    counts = np.zeros(2048)
    counts[17] = 500  # every image assigned to one prototype
    assert assignment_perplexity(counts) == 1.0
    counts[[3, 900, 2000]] = 500  # four prototypes, equally
    assert assignment_perplexity(counts) == pytest.approx(4.0, abs=1e-12)


def _ddp_dino_step(rank, world, init_file, out_dir):
    """One DINO step of a DDP-wrapped model on this rank's half of a constructed batch."""
    import os

    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        model, out = _step(rank, world, ddp=True)
        # each process draws its views from its own stream; the prototype subset is rank 0's on every process
        out["subset"] = sample_prototypes(1000, 37, torch.Generator().manual_seed(100 + rank))
        if rank == 0:
            torch.save(out, os.path.join(out_dir, "ddp.pt"))
        else:
            torch.save(out, os.path.join(out_dir, "ddp1.pt"))
    finally:
        dist.destroy_process_group()


def _step(rank=0, world=1, ddp=False):
    """A DINO model on a constructed batch of 8 pixel images: the centre after one update from the teacher's
    outputs on the global views, and the student's gradients after one loss (this rank's share of the batch)."""
    from studylib.objectives.dino import DinoModel, heads

    torch.manual_seed(0)
    cfg = DinoConfig(dino_prototypes=32, dino_hidden=16, dino_bottleneck=8)
    model = DinoModel(4, 8, cfg, n_classes=2)
    for m in list(model.modules()):  # BatchNorm statistics are per process by design: take them out
        for name, child in list(m.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, name, nn.Identity())
    g = torch.Generator().manual_seed(1)
    views = [torch.rand(8, 3, 16, 16, generator=g) * 2 - 1 for _ in range(2)]
    local = slice(rank * 8 // world, (rank + 1) * 8 // world)
    mine = [v[local] for v in views]
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp else model
    with torch.no_grad():
        teacher = heads(model.teacher, mine)
    center = updated_center(model.center, teacher, 0.9)
    loss = dino_loss(net(mine, []), teacher, center, 0.1, 0.04)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return model, {"center": center, "grads": grads}


def test_centre_gradients_and_prototype_subset_are_the_same_on_one_and_on_two_ddp_processes(tmp_path):
    import torch.multiprocessing as mp

    torch.set_num_threads(1)
    _, single = _step()
    mp.spawn(_ddp_dino_step, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    subset = sample_prototypes(1000, 37, torch.Generator().manual_seed(100))
    for name in ("ddp.pt", "ddp1.pt"):
        ddp = torch.load(tmp_path / name, weights_only=True)
        assert torch.equal(ddp["subset"], subset)  # one subset on every process
        torch.testing.assert_close(ddp["center"], single["center"], rtol=1e-6, atol=1e-7)
        # the loss is a mean over the local batch and DDP averages the gradients: the global batch's gradient
        assert ddp["grads"].keys() == single["grads"].keys()
        for n, grad in single["grads"].items():
            torch.testing.assert_close(ddp["grads"][n], grad, rtol=1e-4, atol=1e-6, msg=n)
