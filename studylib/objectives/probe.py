"""A probe of a frozen backbone on another task: the downstream evaluation of a pretrained run.

The ``backbone`` run dependency is any stored run with a model (a DINO, CLIP or SL run);
this objective trains nothing. After "training" (no steps), it fits a **nearest-class-mean
probe** (``probe="ncm"``) on the frozen backbone's features of its own training split: the
class means of the L2-normalised features, cosine-scored. That is a one-centroid kNN, a
single pass over the data, far cheaper than a linear probe, and what chapter 3 uses to ask
how well DINO features pretrained on one concept pool transfer to disjoint pools (coarse,
fine-grained, shifted)::

    probe = s.spec("probe: dogs", objective="probe", subset="subtree:dogs", deps={"backbone": dino_spec})
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from studylib.config import ConfigError
from studylib.evaluate import Classifier, class_means
from studylib.objectives.base import Objective, register


@dataclass(frozen=True)
class ProbeConfig:
    probe: str = "ncm"  # ncm: nearest class mean of the frozen backbone's features

    choices: ClassVar = {"probe": ("ncm",)}


class ProbeModel(nn.Module):
    def __init__(self, backbone: nn.Module, dim: int, n_classes: int):
        super().__init__()
        self.backbone = backbone.requires_grad_(False)
        self.register_buffer("class_means", torch.zeros(n_classes, dim))


@register
class Probe(Objective):
    name = "probe"
    Config = ProbeConfig
    needs = frozenset({"images", "labels"})
    dependencies = frozenset({"backbone"})
    trains = False

    def check(self):
        dep = self.deps.get("backbone")
        if dep is None:
            raise ConfigError(
                "objective 'probe' needs a 'backbone' run dependency (the pretrained run it probes)"
            )
        world = dep.run.config.get("world", {})
        if world.get("render", "pixels") != ("features" if self.data.feature_dim else "pixels"):
            raise ConfigError(
                f"the backbone run {dep.run.key} saw render={world.get('render', 'pixels')!r} images; give "
                "the probe's data the same render"
            )
        size = world.get("image_size", dep.run.config.get("image_size"))
        if size is not None and size != self.data.image_size:
            raise ConfigError(
                f"the backbone run {dep.run.key} saw {size} px images; this probe's data has "
                f"{self.data.image_size} px: give both the same image_size"
            )

    def build_model(self):
        dep = self.deps["backbone"]
        backbone = copy.deepcopy(dep.model).cpu().eval()
        with torch.no_grad():
            shape = (
                (self.data.feature_dim,)
                if self.data.feature_dim
                else (3, self.data.image_size, self.data.image_size)
            )
            dim = dep.objective.features(backbone, torch.zeros(1, *shape)).shape[-1]
        return ProbeModel(backbone, dim, self.data.n_classes), None

    def loss(self, model, batch, step):
        raise RuntimeError("objective 'probe' trains nothing; the pipeline skips its training loop")

    def run_metrics(self, model) -> dict:
        """No training step scored any class (the loop never ran): ``mean_vocab`` NaN, as in every results table."""
        return {"mean_vocab": float("nan")}

    def fit_probe(self, model, source, device) -> None:
        model.eval()
        model.class_means.copy_(
            class_means(
                lambda x: self.features(model, x),
                source.batches(0, 0, device),
                self.data.n_classes,
                model.class_means.shape[1],
            )
        )

    def features(self, model, images):
        return self.deps["backbone"].objective.features(model.backbone, images)

    def classifier(self, model):
        return Classifier(model.class_means, None, 1.0, True)
