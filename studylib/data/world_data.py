"""The concept world as a data backend of the run pipeline.

A :class:`~studylib.data.backend.DataBackend`, as real data is (studylib.data.real_data): what of the
data enters the run key (``key``), what an objective may know when it builds its model (``info``), the
batches to train on (``train_source``), and the test sets to evaluate on (``eval_sets``, by name;
``id_domain`` names the in-distribution one).

Parameters that only mean something for real data are refused here, with
their names, instead of being silently ignored.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import fields

import numpy as np
import pandas as pd
import torch

from studylib.config import ConfigError, DataConfig, as_dict, world_config
from studylib.data.backend import EvalSet
from studylib.data.sources import InMemorySource, TrainData
from studylib.evaluate import uint8_batches
from studylib.objectives.base import DataInfo
from studylib.registry import canonical_json
from studylib.world import World, train_scenes
from studylib.world_store import cached_world

# fields that are meaningful only for real data; "workers" is results-neutral and allowed
REAL_ONLY = {"arch": "tiny", "pretrained": ""}


@functools.lru_cache(maxsize=4)
def caption_labels(wc) -> np.ndarray:
    """Labels mined from the captions by matching class names and synonyms (-1: none or several).

    This is how a supervised dataset is mined from image-text pairs (Fang et
    al. 2022): a caption that names exactly one class gives that class.
    """
    from studylib.captions.counting import count_captions
    from studylib.captions.patterns import build_patterns

    world = cached_world(wc)
    every = list(world.concepts) + list(world.open_concepts)
    res = count_captions(world.train.captions, build_patterns(every), keep_matches=True)
    n = len(world.train)
    hits = np.bincount(res.match_caption, minlength=n)
    labels = np.full(n, -1, dtype=np.int64)
    single = hits[res.match_caption] == 1
    labels[res.match_caption[single]] = res.match_concept[single]
    return labels


class WorldData:
    kind = "world"
    id_domain = "photo"

    def __init__(self, params: dict):
        for name, default in REAL_ONLY.items():
            if params.get(name, default) != default:
                raise ConfigError(
                    f"parameter {name!r}={params[name]!r} is for real data; the concept world trains "
                    f"the tiny models (leave {name} at {default!r}, or pass train_data=...)"
                )
        for f in fields(DataConfig):
            if f.name != "workers" and params.get(f.name, f.default) != f.default:
                raise ConfigError(
                    f"parameter {f.name!r} is for real data and would be ignored on the concept world"
                )
        self.config = world_config(params)
        if self.id_domain not in self.config.test_domains:
            raise ConfigError(
                f"parameter 'test_domains' must include {self.id_domain!r} (the in-distribution "
                f"test set), got {self.config.test_domains!r}"
            )

    @property
    def world(self) -> World:
        return cached_world(self.config)

    def key(self) -> dict:
        """The world's parameters, and the content of its profile file when the profile is a file."""
        key = {"world": as_dict(self.config)}
        if self.config.profile not in ("balanced", "zipf", "lognormal"):
            from studylib.fingerprint import input_fingerprint

            key["profile_file"] = input_fingerprint(self.config.profile)
        return key

    def info(self) -> DataInfo:
        world, wc = self.world, self.config

        def semantic():
            from studylib.concepts import semantic_vectors

            return semantic_vectors(tuple(world.concepts) + tuple(world.open_concepts))

        corpus = hashlib.sha256(canonical_json(as_dict(wc)).encode()).hexdigest()[:16]
        return DataInfo(
            kind=self.kind,
            class_names=world.class_names,
            class_counts=world.class_counts,
            image_size=wc.image_size,
            feature_dim=wc.feature_dim if wc.render == "features" else 0,
            labels=world.train.labels,
            captions=world.train.captions,
            corpus_key=f"world-{corpus}",
            semantic=semantic,
            caption_labels=lambda: caption_labels(wc),
            scenes=(lambda: train_scenes(wc)) if wc.render == "features" else None,
            n_label_classes=len(world.concepts) + len(world.open_concepts),
        )

    def set_transforms(self, transforms) -> None:
        """The world's images are tensors already; an architecture's image transforms do not apply."""

    def train_source(self, objective, tc, train_subset=None, rank: int = 0, world_size: int = 1):
        """(batch source, true training pairs per class of the samples trained on)."""
        world = self.world
        n_classes, n = len(world.concepts) + len(world.open_concepts), len(world.train)
        idx = np.arange(n) if train_subset is None else train_subset
        if len(idx) and (idx[0] < 0 or idx[-1] >= n):
            raise ConfigError(f"train_subset: indices must lie in [0, {n}), got {idx[0]}..{idx[-1]}")
        labels = objective.training_labels()
        labels = world.train.labels if labels is None else labels
        if "labels" in objective.needs:
            idx = idx[labels[idx] >= 0]
        counts = torch.from_numpy(np.bincount(labels[idx], minlength=n_classes))
        trained_counts = np.bincount(world.train.labels[idx], minlength=n_classes)[: len(world.concepts)]
        tokens = objective.tokenizer(world.train.captions) if "tokens" in objective.needs else None
        full = len(idx) == n
        tidx = torch.from_numpy(idx)
        data = TrainData(
            world.train.images if full else world.train.images[tidx],
            torch.from_numpy(labels if full else labels[idx]),
            None if tokens is None else (tokens if full else tokens[tidx]),
            counts,
            rows=None if full else tidx,
        )
        return InMemorySource(data, tc.batch_size, tc.seed, rank, world_size), trained_counts

    def eval_sets(self) -> list[EvalSet]:
        world = self.world
        out = []
        for domain in self.config.test_domains:
            split = world.test[domain]
            out.append(
                EvalSet(
                    domain,
                    len(world.concepts),
                    np.asarray(split.labels),
                    functools.partial(uint8_batches, split.images, split.labels),
                )
            )
        return out

    def class_table(self) -> pd.DataFrame:
        world = self.world
        return pd.DataFrame(
            {
                "class_index": np.arange(len(world.concepts)),
                "imagenet_index": [c.index for c in world.concepts],
                "class_name": world.class_names,
            }
        )
