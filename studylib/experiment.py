"""Run one experiment on the concept world, through the registry.

``run_experiment(params, chapter=..., label=...)`` turns flat parameters into
a world and a training config, returns the cached run if the registry has it
(milliseconds), and otherwise builds the world, trains (resuming from a
checkpoint if one was left by an interrupted run), evaluates on every test
domain and stores the per-class table and metrics atomically.

    from studylib.config import resolve
    from studylib.experiment import run_experiment
    p = resolve("smoke")
    run = run_experiment({**p, "objective": "sl"}, chapter="02_imbalance", label="SL", preset="smoke")
    run.metrics["spearman_pred"], run.per_class.head()
"""
from __future__ import annotations

import functools
import time

import numpy as np
import pandas as pd
import torch

from studylib import metrics as M
from studylib.config import TrainConfig, WorldConfig, as_dict, train_config, world_config
from studylib.evaluate import confusion_matrix, predict, prompts_for, zero_shot_classifier
from studylib.models import Vocabulary, semantic_prototypes
from studylib.registry import Registry, Run
from studylib.train import TrainData, build_model, train
from studylib.world import World, cached_world


@functools.lru_cache(maxsize=4)
def world_text(wc: WorldConfig, context_length: int):
    """The world's vocabulary (train captions + zero-shot prompts) and caption tokens."""
    world = cached_world(wc)
    vocab = Vocabulary(list(world.train.captions) + prompts_for(world.class_names), context_length)
    return vocab, vocab.encode(world.train.captions)


def run_config(wc: WorldConfig, tc: TrainConfig) -> dict:
    return {"world": as_dict(wc), "train": as_dict(tc)}


def run_experiment(params: dict, *, chapter: str, label: str, preset: str = "custom",
                   registry: Registry | None = None, progress: bool = True, keep_checkpoint: bool = False,
                   on_step=None) -> Run:
    """The run of ``params`` from the registry, trained first if it is not there."""
    reg = registry or Registry()
    wc, tc = world_config(params), train_config(params)
    config = run_config(wc, tc)
    key = reg.key(config)
    cached = reg.load(key)
    if cached is not None:
        return cached
    world = cached_world(wc)
    t0 = time.perf_counter()
    model, vocab, history = _train(world, tc, reg.path(key) / "checkpoint.pt", f"{label} [{key[:6]}]",
                                   progress, on_step)
    train_seconds = time.perf_counter() - t0
    classifier = zero_shot_classifier(model, vocab, world.class_names) if tc.objective == "clip" else None
    per_class, metrics, arrays = [], {}, {}
    for domain, split in world.test.items():
        conf = confusion_matrix(split.labels, predict(model, split.images, classifier), len(world.concepts))
        arrays[f"confusion_{domain}"] = conf
        per_class.append(_per_class_frame(world, conf, domain))
        metrics[f"top1_{domain}"] = M.top1(conf)
    photo = per_class[0]
    metrics.update(_bias_metrics(photo, seed=tc.seed))
    metrics["top1"] = metrics[f"top1_{next(iter(world.test))}"]
    metrics["train_seconds"] = train_seconds
    metrics["steps"] = history[-1]["step"] if history else 0
    metrics["mean_vocab"] = float(np.mean([h["vocab"] for h in history])) if history else float("nan")
    tables = {"per_class": pd.concat(per_class, ignore_index=True), "history": pd.DataFrame(history)}
    meta = {"chapter": chapter, "label": label, "preset": preset}
    if keep_checkpoint:
        torch.save(model.state_dict(), reg.path(key) / "model.pt")
    run = reg.save(key, config, meta, metrics, tables, arrays)
    (reg.path(key) / "checkpoint.pt").unlink(missing_ok=True)
    return run


def _train(world: World, tc: TrainConfig, checkpoint, name, progress, on_step):
    counts = torch.from_numpy(world.class_counts)
    vocab, tokens = (world_text(world.config, tc.context_length) if tc.objective == "clip" else (None, None))
    prototypes = None
    if tc.objective == "sl" and tc.head == "prototype":
        from studylib.concepts import semantic_vectors

        prototypes = semantic_prototypes(semantic_vectors(world.concepts), tc.embed_dim, tc.seed)
    model = build_model(tc, len(world.concepts), len(vocab) if vocab else None, prototypes)
    data = TrainData(world.train.images, torch.from_numpy(world.train.labels), tokens, counts)
    history = train(model, data, tc, checkpoint=checkpoint, name=name, progress=progress, on_step=on_step)
    return model, vocab, history


def _per_class_frame(world: World, conf: np.ndarray, domain: str) -> pd.DataFrame:
    return pd.DataFrame({
        "class_index": np.arange(len(world.concepts)),
        "imagenet_index": [c.index for c in world.concepts],
        "class_name": world.class_names,
        "train_count": world.class_counts,
        "domain": domain,
        "accuracy": M.per_class_accuracy(conf),
        "predictions": M.per_class_predictions(conf),
    })


def _bias_metrics(per_class: pd.DataFrame, seed: int) -> dict:
    """Spearman/Pearson of accuracy and #predictions with training frequency, with CIs."""
    out = {}
    for col, short in (("accuracy", "acc"), ("predictions", "pred")):
        for method in ("spearman", "pearson"):
            c = M.frequency_correlation(per_class[col], per_class["train_count"], method, seed=seed)
            out[f"{method}_{short}"] = c["r"]
            out[f"{method}_{short}_lo"] = c["lo"]
            out[f"{method}_{short}_hi"] = c["hi"]
    return out
