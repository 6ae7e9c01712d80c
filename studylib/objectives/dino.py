"""DINO (Caron et al. 2021): self-distillation with no labels, sized for the concept world.

The structure of the original, on either render of the concept world:

* a student and a teacher of the same architecture (the tiny CNN, or the MLP on retina
  features, and a projection head
  whose last layer is weight-normalised prototypes, ``dino_prototypes`` of them); the
  teacher is an exponential moving average of the student (momentum ``dino_momentum``
  rising to 1 along a cosine over training) and is never trained by gradients;
* multi-crop views of each image, drawn from a seeded generator per step (and rank):
  - pixels: two global crops (random resized crops, flips, brightness and contrast jitter,
    at full size) and ``dino_local_crops`` local ones (small crops at half size);
  - features: the image's *scene* seen again (:func:`studylib.retina.render_views`): two
    global views with fresh pose, colour gain, background and sensor noise (what a crop,
    a flip and a colour jitter change in a photo), and ``dino_local_crops`` local views
    that also hide about half of the object's shape and colour code (a part of the object,
    as a small crop sees). A crop of the 128 retina numbers would mean nothing: they are a
    random mix of the whole scene;
* the teacher sees the global views, the student every view; the loss is the cross-entropy
  between the teacher's centred, sharpened distribution (temperature ``dino_teacher_temp``
  after a linear warm-up from ``dino_warmup_teacher_temp``) and the student's
  (``dino_student_temp``), over every pair of different views, as one batched product
  (:func:`dino_loss`);
* the centre is an EMA (``dino_center_momentum``) of the teacher's mean output over the
  global batch: under DDP the batch sum and count are all-reduced, so every process keeps
  the centre one process would (:func:`updated_center`).

**Prototype subsampling** (``dino_proto_k`` > 0): each step, the loss uses a random subset
of ``dino_proto_k`` prototypes, the same for student, teacher and centre, as SL's
vocabulary subsampling scores a subset of classes.

The teacher's unique prototypes are counted at :data:`TRAJECTORY_POINTS` evenly spaced steps
(a model buffer, so a resumed run keeps the points it had): C10 through training.

DINO trains without labels. Its evaluation here is a **nearest-class-mean probe** on the
teacher's backbone features: after training, the class means of the training images'
features (labels used by the probe only) become the classifier, cosine-scored. It is a
one-centroid kNN, far cheaper than a linear probe on these sizes.

    python -m studylib run ... -p objective=dino -p dino_proto_k=256

Long because DINO is one objective with two kinds of views (pixel crops, re-rendered scenes), its head, loss,
centre, EMA teacher, probe and the prototype counts C10 reads.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studylib.config import ConfigError
from studylib.evaluate import Classifier, class_means
from studylib.objectives.base import Objective, register
from studylib.schedules import cosine_to, warmup_constant
from studylib.seeds import step_seed


@dataclass(frozen=True)
class DinoConfig:
    dino_prototypes: int = 1024  # prototypes in the head's last layer (the world's scale, not 65,536)
    dino_proto_k: int = 0  # prototypes scored per step (prototype subsampling); 0 = all
    dino_hidden: int = 256  # head MLP width
    dino_bottleneck: int = 64  # head output dimension before the prototypes
    dino_local_crops: int = 2  # small crops per image besides the two global ones
    dino_student_temp: float = 0.1
    dino_teacher_temp: float = 0.04
    dino_warmup_teacher_temp: float = 0.04
    dino_warmup_steps: int = 0  # steps of linear teacher-temperature warm-up
    dino_center_momentum: float = 0.9
    dino_momentum: float = 0.996  # teacher EMA momentum at the start (cosine to 1 at the end)

    positive: ClassVar = {
        "dino_prototypes",
        "dino_hidden",
        "dino_bottleneck",
        "dino_student_temp",
        "dino_teacher_temp",
        "dino_warmup_teacher_temp",
    }
    non_negative: ClassVar = {"dino_proto_k", "dino_local_crops", "dino_warmup_steps"}
    unit_interval: ClassVar = {"dino_center_momentum", "dino_momentum"}


class DinoHead(nn.Module):
    """MLP to a bottleneck, L2-normalised, then weight-normalised prototypes (their norms fixed at 1)."""

    def __init__(self, in_dim: int, hidden: int, bottleneck: int, n_prototypes: int):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, bottleneck),
        )
        self.last_layer = nn.utils.parametrizations.weight_norm(
            nn.Linear(bottleneck, n_prototypes, bias=False)
        )
        self.last_layer.parametrizations.weight.original0.data.fill_(1.0)
        self.last_layer.parametrizations.weight.original0.requires_grad_(False)

    def prototypes(self) -> torch.Tensor:
        """The (n_prototypes, bottleneck) directions (``weight_v``), for counting unique prototypes."""
        return self.last_layer.parametrizations.weight.original1

    def forward(self, x, subset=None):
        z = F.normalize(self.mlp(x), dim=-1)
        w = self.last_layer.weight if subset is None else self.last_layer.weight[subset]
        return z @ w.t()


TRAJECTORY_POINTS = 8  # steps at which the teacher's unique prototypes are counted during training


class DinoModel(nn.Module):
    def __init__(self, width: int, embed_dim: int, cfg: DinoConfig, n_classes: int, feature_dim: int = 0):
        super().__init__()
        from studylib.models.tiny import image_tower

        self.student = nn.ModuleDict(
            {
                "backbone": image_tower(width, embed_dim, feature_dim),
                "head": DinoHead(embed_dim, cfg.dino_hidden, cfg.dino_bottleneck, cfg.dino_prototypes),
            }
        )
        self.teacher = copy.deepcopy(self.student).requires_grad_(False)
        self.register_buffer("center", torch.zeros(cfg.dino_prototypes))
        # the prototypes as initialised, to measure how far training moved them (a manipulation check of C10)
        self.register_buffer("initial_prototypes", self.teacher["head"].prototypes().detach().clone())
        self.register_buffer(
            "class_means", torch.zeros(n_classes, embed_dim)
        )  # the probe, set after training
        # (step, unique prototypes) at TRAJECTORY_POINTS steps of training; step -1: not reached yet
        self.register_buffer("unique_trajectory", torch.full((TRAJECTORY_POINTS, 2), -1.0))

    def features(self, images):
        return self.teacher["backbone"](images)

    def forward(self, global_views: list, local_views: list, subset=None) -> list:
        """The student's outputs on every view, global first: one pass per view size (DINO's multi-crop
        wrapper). Training calls it through the (DDP-wrapped) model so that DDP syncs the gradients."""
        return heads(self.student, global_views, subset) + heads(self.student, local_views, subset)


def heads(part: nn.ModuleDict, views: list, subset=None) -> list:
    """``part``'s (student's or teacher's) prototype scores on each view; the views of one size in one pass."""
    if not views:
        return []
    return list(part["head"](part["backbone"](torch.cat(views)), subset).split(len(views[0])))


def dino_loss(
    student_out: list, teacher_out: list, center: torch.Tensor, student_temp: float, teacher_temp: float
) -> torch.Tensor:
    """Mean over (global view i, any other view v ≠ i) of the batch mean of
    −Σ_k softmax((t_i − c)/τ_t)_k · log_softmax(s_v/τ_s)_k: one batched product over every pair of views
    (global views first in ``student_out``, in ``teacher_out``'s order)."""
    t = F.softmax((torch.stack(teacher_out) - center) / teacher_temp, dim=-1)  # (G, B, K)
    ls = F.log_softmax(torch.stack(student_out) / student_temp, dim=-1)  # (V, B, K)
    ce = -torch.einsum("gbk,vbk->gv", t, ls) / t.shape[1]  # (G, V): batch-mean cross-entropies
    other = ~torch.eye(*ce.shape, dtype=torch.bool, device=ce.device)
    return ce[other].mean()


def prototype_drift(prototypes: torch.Tensor, initial: torch.Tensor) -> float:
    """Mean cosine distance of each prototype (rows) from its initialisation: C10's manipulation check."""
    return float((1 - F.cosine_similarity(prototypes.float(), initial.float(), dim=-1)).mean())


def ema_update(teacher: nn.Module, student: nn.Module, momentum: float) -> None:
    """teacher ← m · teacher + (1 − m) · student, parameter by parameter (buffers copied)."""
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters()):
            t.mul_(momentum).add_(s.detach(), alpha=1 - momentum)
        for t, s in zip(teacher.buffers(), student.buffers()):
            t.copy_(s)


def updated_center(center: torch.Tensor, teacher_out: list, momentum: float) -> torch.Tensor:
    """The centre's EMA step toward the mean teacher output over every global view of the *global* batch:
    under DDP the sum and the count are all-reduced, so each process's centre is the one-process centre."""
    import torch.distributed as dist

    out = torch.cat(teacher_out)
    total = torch.cat([out.sum(0), out.new_tensor([len(out)])])
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(total)
    return center * momentum + total[:-1] / total[-1] * (1 - momentum)


def sample_prototypes(n: int, k: int, generator: torch.Generator) -> torch.Tensor | None:
    """Sorted indices of ``k`` of ``n`` prototypes drawn without replacement (None: all). Under DDP every
    process takes rank 0's draw: the loss, the centre's all-reduce and the gradients need one subset."""
    import torch.distributed as dist

    if k <= 0 or k >= n:
        return None
    subset = torch.sort(torch.randperm(n, generator=generator)[:k]).values
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.broadcast(subset, src=0)
    return subset


def crops(images: torch.Tensor, n: int, scale: tuple, size: int, generator: torch.Generator) -> list:
    """``n`` views of a batch: square random-resized crops of area ``scale`` of the image, resized to
    ``size``, random horizontal flips, brightness and contrast jitter; all draws from ``generator``."""
    b = images.shape[0]
    views = []
    for _ in range(n):
        area = torch.empty(b).uniform_(*scale, generator=generator)
        side = area.sqrt()
        tx = (torch.rand(b, generator=generator) * 2 - 1) * (1 - side)
        ty = (torch.rand(b, generator=generator) * 2 - 1) * (1 - side)
        flip = torch.where(torch.rand(b, generator=generator) < 0.5, -1.0, 1.0)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0], theta[:, 1, 1] = side * flip, side
        theta[:, 0, 2], theta[:, 1, 2] = tx, ty
        grid = F.affine_grid(theta.to(images), (b, images.shape[1], size, size), align_corners=False)
        v = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        bright = (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * 0.4
        contrast = 1 + (torch.rand(b, 1, 1, 1, generator=generator) - 0.5) * 0.4
        mean = v.mean((1, 2, 3), keepdim=True)
        views.append(((v - mean) * contrast.to(v) + mean + bright.to(v)).clamp(-1, 1))
    return views


LOCAL_PART = 0.5  # share of the object's shape and colour code a local view of a features scene keeps


@register
class Dino(Objective):
    name = "dino"
    Config = DinoConfig
    needs = frozenset({"images"})

    def check(self):
        if self.train.arch != "tiny":
            raise ConfigError("objective 'dino' is built for arch='tiny' (the concept world's CNN)")
        if self.data.feature_dim and self.data.scenes is None:
            raise ConfigError(
                "objective 'dino' on feature vectors needs the concept world's scenes to draw its views "
                "(render='features' of the concept world), or use pixel images"
            )
        if self.cfg.dino_proto_k > self.cfg.dino_prototypes:
            raise ConfigError(
                f"parameter 'dino_proto_k'={self.cfg.dino_proto_k} exceeds 'dino_prototypes'="
                f"{self.cfg.dino_prototypes}"
            )

    def build_model(self):
        torch.manual_seed(self.train.seed)
        model = DinoModel(
            self.train.width, self.train.embed_dim, self.cfg, self.data.n_classes, self.data.feature_dim
        )
        return model, None

    def setup(self, device, rank, world_size, class_counts=None, *, total_steps):
        super().setup(device, rank, world_size, class_counts, total_steps=total_steps)
        self.rank = rank
        self.scenes = self.data.scenes() if self.data.feature_dim else None
        # the steps (0-based, after which) the unique prototypes are counted: evenly spaced, the last one last
        points = range(1, TRAJECTORY_POINTS + 1)
        self.trajectory_steps = sorted(
            {max(1, round(total_steps * i / TRAJECTORY_POINTS)) - 1 for i in points}
        )

    def teacher_temp(self, step: int) -> float:
        """``dino_warmup_teacher_temp`` rising linearly to ``dino_teacher_temp`` over ``dino_warmup_steps``."""
        c = self.cfg
        return warmup_constant(step, c.dino_warmup_steps, c.dino_warmup_teacher_temp, c.dino_teacher_temp)

    def momentum(self, step: int) -> float:
        """Cosine from ``dino_momentum`` at step 0 to 1 at the last step (``total_steps`` of :meth:`setup`)."""
        return cosine_to(step, self.total_steps, self.cfg.dino_momentum, 1.0)

    def views(self, batch, gen: torch.Generator) -> tuple[list, list]:
        """(global views, local views) of the batch: crops of pixels, or the scenes seen again."""
        images = batch["images"]
        n_local = self.cfg.dino_local_crops
        if self.scenes is None:
            size = images.shape[-1]
            return crops(images, 2, (0.4, 1.0), size, gen), crops(
                images, n_local, (0.1, 0.4), max(8, size // 2), gen
            )
        from studylib.models.tiny import normalize_images
        from studylib.retina import render_views

        rows = batch["index"].cpu().numpy()

        def views(n, part_keep):  # n views of every sample in one call (one pass per domain)
            if not n:
                return []
            out = render_views(self.scenes, np.tile(rows, n), gen, part_keep)
            return list(normalize_images(out).to(images.device).split(len(rows)))

        return views(2, 1.0), views(n_local, LOCAL_PART)

    def loss(self, model, batch, step):
        net = model.module if hasattr(model, "module") else model
        # one stream per step and rank: a resumed run draws what the uninterrupted one drew, and two processes
        # draw different views for their different samples
        gen = torch.Generator().manual_seed(step_seed(self.train.seed, step) * 64 + self.rank)
        global_views, local_views = self.views(batch, gen)
        subset = sample_prototypes(self.cfg.dino_prototypes, self.cfg.dino_proto_k, gen)
        if subset is not None:
            subset = subset.to(batch["images"].device)
        student = model(global_views, local_views, subset)
        with torch.no_grad():
            teacher = heads(net.teacher, global_views, subset)
        center = net.center if subset is None else net.center[subset]
        loss = dino_loss(student, teacher, center, self.cfg.dino_student_temp, self.teacher_temp(step))
        with torch.no_grad():
            new = updated_center(center, teacher, self.cfg.dino_center_momentum)
            if subset is None:
                net.center.copy_(new)
            else:
                net.center[subset] = new
        return loss, {"vocab": len(center)}  # vocab: the prototypes scored this step

    def after_step(self, model, step):
        net = model.module if hasattr(model, "module") else model
        ema_update(net.teacher, net.student, self.momentum(step))
        if step in self.trajectory_steps:
            from studylib.metrics import unique_prototypes

            i = self.trajectory_steps.index(step)
            w = net.teacher["head"].prototypes().detach().float().cpu().numpy()
            net.unique_trajectory[i] = torch.tensor([step + 1.0, unique_prototypes(w)])

    def fit_probe(self, model, source, device) -> None:
        """Nearest-class-mean probe: the class means of the teacher's features of the training images. The same
        pass counts the teacher's prototype assignments (its centred argmax per image) for ``prototype_usage``."""
        model.eval()
        counts = torch.zeros(self.cfg.dino_prototypes)

        def features(images):
            f = model.features(images)
            with torch.no_grad():
                t = model.teacher["head"](f) - model.center
                counts.index_add_(0, t.argmax(-1).cpu(), torch.ones(len(t)))
            return f

        model.class_means.copy_(
            class_means(
                features, source.batches(0, 0, device), self.data.n_classes, model.class_means.shape[1]
            )
        )
        self.assignment_counts = counts.numpy()

    def run_metrics(self, model) -> dict:
        """The teacher's unique prototypes (:func:`studylib.metrics.unique_prototypes`, eps 0.025), how far its
        prototypes moved from their initialisation (mean cosine distance, ``prototype_drift``) and how many it
        uses (perplexity of its assignments over the probe's images, ``prototype_usage``): a prototype count
        means something only once the prototypes have moved."""
        from studylib.metrics import assignment_perplexity, unique_prototypes

        w = model.teacher["head"].prototypes().detach().float()
        w0 = model.initial_prototypes.float()
        drift = prototype_drift(w, w0)
        usage = getattr(self, "assignment_counts", None)
        trajectory = {
            f"unique_at_step_{int(step)}": float(count)
            for step, count in model.unique_trajectory.tolist()
            if step >= 0
        }
        return {
            "unique_prototypes": unique_prototypes(w.cpu().numpy()),
            "n_prototypes": int(w.shape[0]),
            "prototype_drift": drift,
            "prototype_usage": assignment_perplexity(usage) if usage is not None else float("nan"),
            **trajectory,
        }

    def features(self, model, images):
        return model.features(images)

    def classifier(self, model):
        return Classifier(model.class_means, None, 1.0, True)
