"""The Objective protocol and the registry of objectives by name.

An objective owns everything that differs between CLIP, SL, DINO, ...:

* ``Config``: a frozen dataclass of its own parameters (flat names, distinct
  from every other config's, checked with the rules it states as data);
* ``needs``: which batch fields it trains on (``images``, ``labels``, ``tokens``);
* ``dependencies``: the names of run outputs it can use (``prototypes`` = the
  class-prompt embeddings of a CLIP run, ``text_init`` = its text tower);
* ``check()``: refuses parameters it would otherwise ignore on this data;
* ``build_model()``: the model for a :class:`DataInfo`;
* ``tokenizer``: captions -> token ids, when it needs tokens;
* ``training_labels()``: the labels it trains on (true or mined from captions);
* ``setup()`` / ``loss()`` / ``after_step()``: what the training loop calls (the contract below);
* ``fit_probe()`` / ``run_metrics()``: after training (a probe for a label-free objective; extra numbers);
* ``features()`` / ``classifier()``: the evaluation forward pass.

The training loop, the run pipeline and the CLI only call these; none of them
knows an objective's name.

**The loop–objective contract** (:func:`studylib.train.train`):

1. ``setup(device, rank, world_size, class_counts, total_steps=N)`` once, before the first step and
   after a resume: ``total_steps`` is the run's number of optimiser steps (every schedule of the objective
   runs over it), ``class_counts`` the training samples per class of the labels the batch source serves.
2. Per step ``s`` (0-based, counted over the whole run, also across a resume):
   ``loss, extras = loss(model, batch, s)`` under autocast, where ``model`` may be wrapped (DDP,
   ``torch.compile``): a scalar tensor and a dict of named plain numbers (no tensors: reading one back
   would stall the GPU every step). The loop averages each extra over the steps between two history rows
   and logs it under its own name beside ``loss`` and ``lr``; the pipeline stores the mean of each over the
   run as ``mean_<name>``. Every built-in objective logs ``vocab``, the classes or items scored per step.
   Any draw of the objective's own comes from ``studylib.seeds.step_seed(seed, s)``, so that a resumed run
   draws what the uninterrupted one drew.
3. After the optimiser step: ``after_step(unwrapped model, s)`` (DINO's EMA teacher).
4. ``state()`` is saved with every checkpoint and given back to ``load_state()`` on resume.

A new objective is one file that subclasses :class:`Objective` and calls :func:`register`::

    @register
    class Smoothed(SL):                     # SL with label smoothing
        name = "sl_smooth"
        ...
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import torch

from studylib.config import ConfigError, DataConfig, TrainConfig, WorldConfig, build


@dataclass
class DataInfo:
    """What an objective may know about the data when it builds its model."""

    kind: str  # "world" or "real"
    class_names: list[str]
    class_counts: np.ndarray  # training pairs per class (true labels)
    image_size: int
    feature_dim: int = 0  # > 0: images are retina feature vectors of this length (render="features")
    labels: np.ndarray | None = None  # true training labels, when known up front
    captions: Sequence[str] | None = None  # training captions, when known up front
    corpus_key: str = ""  # identifies ``captions`` (memoises vocabularies)
    semantic: Callable[[], np.ndarray] | None = None  # MiniLM class vectors (oracle control)
    caption_labels: Callable[[], np.ndarray] | None = None  # labels mined from the captions (-1: none)
    scenes: Callable | None = None  # features world: its training scenes (studylib.world.train_scenes)
    extra: dict = field(default_factory=dict)
    n_label_classes: int = 0  # the training label space (0: the evaluated classes only);
    # more when training also names open-world concepts

    @property
    def n_classes(self) -> int:
        """The evaluated classes: what classifiers score at test time."""
        return len(self.class_names)

    @property
    def n_train_classes(self) -> int:
        return max(self.n_label_classes, self.n_classes)


class Objective(ABC):
    """Base class: subclasses set ``name``, ``Config`` and implement the four abstract methods."""

    name: ClassVar[str] = ""
    Config: ClassVar[type]
    needs: ClassVar[frozenset] = frozenset({"images", "labels"})
    dependencies: ClassVar[frozenset] = frozenset()
    trains: ClassVar[bool] = True  # False: no training loop (a probe of a frozen dependency)

    def __init__(self, cfg, train: TrainConfig, data: DataInfo, deps: dict | None = None):
        self.cfg, self.train, self.data = cfg, train, data
        self.deps = dict(deps or {})
        unknown = set(self.deps) - set(self.dependencies)
        if unknown:
            raise ConfigError(
                f"objective {self.name!r} cannot use run dependencies {sorted(unknown)}; "
                f"it accepts {sorted(self.dependencies) or 'none'}"
            )
        self.tokenizer = None
        self.check()

    def require_text_tower(self, name: str) -> None:
        """A run dependency ``name`` must be a CLIP-like run: a model with a text tower and its tokenizer."""
        dep = self.deps.get(name)
        if dep is not None and not (
            hasattr(dep.model, "encode_text") and dep.objective.tokenizer is not None
        ):
            raise ConfigError(
                f"run dependency {name!r} must be a CLIP run (a model with a text tower), got "
                f"objective {dep.run.config.get('train', {}).get('objective')!r}"
            )

    # ---- configuration
    def check(self) -> None:
        """Raise ConfigError for a parameter this objective would ignore on ``self.data``."""

    # ---- model and data
    @abstractmethod
    def build_model(self):
        """``(model, transforms or None)``; transforms = (train, eval) for real images, from the architecture."""

    def training_labels(self) -> np.ndarray | None:
        """Training labels (``-1`` drops a sample); default: the true labels."""
        return self.data.labels

    # ---- training
    def setup(self, device, rank: int, world_size: int, class_counts=None, *, total_steps: int) -> None:
        """Called once before the first step (build losses, move buffers); subclasses call it too.

        ``class_counts``: training samples per class of the labels the source serves; ``total_steps``: the
        optimiser steps of the whole run, kept as ``self.total_steps``."""
        self.total_steps = total_steps

    @abstractmethod
    def loss(self, model, batch: dict, step: int) -> tuple[torch.Tensor, dict[str, float]]:
        """``(loss, extras)`` on one (local) batch: the scalar loss and named numbers the loop logs (for the
        built-in objectives ``{"vocab": classes or items scored}``)."""

    def after_step(self, model, step: int) -> None:
        """Called after every optimiser step (an EMA teacher update, say)."""

    def fit_probe(self, model, source, device) -> None:
        """After training, before evaluation: fit what :meth:`classifier` needs from the training batches of
        ``source`` (a self-supervised objective's probe); default nothing."""

    def run_metrics(self, model) -> dict:
        """Extra numbers about the trained model, stored with the run's metrics; default none."""
        return {}

    def state(self) -> dict:
        """Extra training state to checkpoint (tensors, numbers); default none."""
        return {}

    def load_state(self, state: dict) -> None:
        """Restore what :meth:`state` returned."""

    # ---- evaluation
    @abstractmethod
    def features(self, model, images):
        """Penultimate features of normalised float images."""

    @abstractmethod
    def classifier(self, model):
        """The :class:`studylib.evaluate.Classifier` this objective evaluates with."""


OBJECTIVES: dict[str, type[Objective]] = {}


def register(cls: type[Objective]) -> type[Objective]:
    """Add an objective class to the registry (usable as a decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a class attribute 'name'")
    mine = {f.name for f in fields(cls.Config)}
    others = {
        f.name
        for other in (*config_classes(), TrainConfig, WorldConfig, DataConfig)
        if other is not cls.Config
        for f in fields(other)
    }
    if mine & others:
        raise ValueError(
            f"objective {cls.name!r}: parameter names {sorted(mine & others)} are taken by "
            "another config; flat parameters must be distinct"
        )
    OBJECTIVES[cls.name] = cls
    return cls


def get(name: str) -> type[Objective]:
    try:
        return OBJECTIVES[name]
    except KeyError:
        raise ConfigError(f"parameter 'objective' must be one of {tuple(OBJECTIVES)}, got {name!r}") from None


def config_classes() -> list[type]:
    """Every registered objective's Config class, once each."""
    out = []
    for cls in OBJECTIVES.values():
        if cls.Config not in out:
            out.append(cls.Config)
    return out


def objective_config(name: str, params: dict):
    """The Config of objective ``name`` from flat ``params``."""
    return build(get(name).Config, params)
