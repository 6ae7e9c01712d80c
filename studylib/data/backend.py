"""The data backend protocol: what the run pipeline asks of the concept world and of real data alike.

A backend tells the pipeline (studylib.pipeline) what of the data enters the run key (``key``), what an
objective may know when it builds its model (``info``), the batches to train on (``train_source``: a
:class:`~studylib.data.sources.BatchSource`), and the test sets to evaluate on (``eval_sets``, by name;
``id_domain`` names the in-distribution one). :class:`~studylib.data.world_data.WorldData` and
:class:`~studylib.data.real_data.RealData` are the two; :func:`studylib.pipeline.backend_for` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from studylib.config import TrainConfig
from studylib.data.sources import BatchSource
from studylib.objectives.base import DataInfo, Objective


@dataclass
class EvalSet:
    """A named test set: its batches (float images, labels), class count and optional logit projection."""

    name: str
    n_classes: int
    labels: np.ndarray | None
    batches: Callable  # callable(device) -> iterator of (images, labels)
    project: Callable | None = None  # callable(logits) -> logits on this set's classes
    class_names: list | None = None  # when the set's classes are not the training classes (masks)


@runtime_checkable
class DataBackend(Protocol):
    kind: str  # "world" or "real" (stored with each run)
    id_domain: str  # the in-distribution test set: metrics["top1"], bias correlations

    def key(self) -> dict:
        """What of the data enters the run key."""

    def info(self) -> DataInfo:
        """What an objective may know about the data when it builds its model."""

    def set_transforms(self, transforms) -> None:
        """The (train, eval) image transforms of the model's architecture (None: the backend's defaults)."""

    def train_source(
        self,
        objective: Objective,
        tc: TrainConfig,
        train_subset: np.ndarray | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> tuple[BatchSource, np.ndarray]:
        """(batch source, true training pairs per evaluated class of the samples trained on; -1: unknown)."""

    def eval_sets(self) -> list[EvalSet]:
        """Every test set, by name."""

    def class_table(self) -> pd.DataFrame:
        """One row per evaluated class: ``class_index``, ``class_name`` and what else the backend knows."""
