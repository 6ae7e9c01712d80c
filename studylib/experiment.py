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
import hashlib
import io
import time

import numpy as np
import pandas as pd
import torch

from studylib import metrics as M
from studylib.config import TrainConfig, WorldConfig, as_dict, train_config, world_config
from studylib.io import atomic_write_bytes
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


def run_config(wc: WorldConfig, tc: TrainConfig, keep: np.ndarray | None = None) -> dict:
    config = {"world": as_dict(wc), "train": as_dict(tc)}
    if keep is not None:
        keep = np.asarray(keep, dtype=np.int64)
        config["subset"] = {"n": int(len(keep)), "sha256": hashlib.sha256(keep.tobytes()).hexdigest()[:16]}
    return config


@functools.lru_cache(maxsize=4)
def caption_labels(wc: WorldConfig) -> np.ndarray:
    """Labels derived from captions by matching class names and synonyms (-1: none or several).

    This is how a supervised dataset is mined from image-text pairs (Fang et
    al. 2022): a caption that names exactly one class gives that class.
    """
    from studylib.frequency import build_patterns, count_captions

    world = cached_world(wc)
    res = count_captions(world.train.captions, build_patterns(list(world.concepts)), keep_matches=True)
    n = len(world.train)
    hits = np.bincount(res.match_caption, minlength=n)
    labels = np.full(n, -1, dtype=np.int64)
    single = hits[res.match_caption] == 1
    labels[res.match_caption[single]] = res.match_concept[single]
    return labels


def run_experiment(params: dict, *, chapter: str, label: str, preset: str = "custom",
                   registry: Registry | None = None, progress: bool = True, keep_checkpoint: bool = False,
                   on_step=None, keep: np.ndarray | None = None) -> Run:
    """The run of ``params`` from the registry, trained first if it is not there.

    ``keep``: indices of the world's training pairs to train on (a curated
    subset); its hash joins the run's key.
    """
    reg = registry or Registry()
    wc, tc = world_config(params), train_config(params)
    keep = None if keep is None else np.unique(np.asarray(keep, dtype=np.int64))
    config = run_config(wc, tc, keep)
    key = reg.key(config)
    cached = reg.load(key)
    if cached is not None and (not keep_checkpoint or (cached.path / "model.pt").exists()):
        return cached
    world = cached_world(wc)
    t0 = time.perf_counter()
    model, vocab, history, trained_counts = _train(world, tc, reg.path(key) / "checkpoint.pt",
                                                   f"{label} [{key[:6]}]", progress, on_step, keep)
    train_seconds = time.perf_counter() - t0
    classifier = zero_shot_classifier(model, vocab, world.class_names) if tc.objective == "clip" else None
    per_class, metrics, arrays = [], {}, {}
    for domain, split in world.test.items():
        conf = confusion_matrix(split.labels, predict(model, split.images, classifier), len(world.concepts))
        arrays[f"confusion_{domain}"] = conf
        per_class.append(_per_class_frame(world, conf, domain, trained_counts))
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
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        atomic_write_bytes(reg.path(key) / "model.pt", buf.getvalue())
    run = reg.save(key, config, meta, metrics, tables, arrays)
    (reg.path(key) / "checkpoint.pt").unlink(missing_ok=True)
    return run


def _train(world: World, tc: TrainConfig, checkpoint, name, progress, on_step, keep=None):
    n_classes = len(world.concepts)
    idx = np.arange(len(world.train)) if keep is None else keep
    if len(idx) and (idx[0] < 0 or idx[-1] >= len(world.train)):
        raise ValueError(f"keep: indices must lie in [0, {len(world.train)}), got {idx[0]}..{idx[-1]}")
    labels = world.train.labels
    if tc.objective == "sl" and tc.labels == "captions":
        labels = caption_labels(world.config)
        idx = idx[labels[idx] >= 0]
    vocab, tokens = (world_text(world.config, tc.context_length) if tc.objective == "clip" else (None, None))
    counts = torch.from_numpy(np.bincount(labels[idx], minlength=n_classes))
    trained_counts = np.bincount(world.train.labels[idx], minlength=n_classes)
    model = build_model(tc, n_classes, len(vocab) if vocab else None, _prototypes(tc, world.concepts))
    full = len(idx) == len(world.train)
    tidx = torch.from_numpy(idx)
    data = TrainData(world.train.images if full else world.train.images[tidx],
                     torch.from_numpy(labels if full else labels[idx]),
                     None if tokens is None else (tokens if full else tokens[tidx]), counts)
    history = train(model, data, tc, checkpoint=checkpoint, name=name, progress=progress, on_step=on_step)
    return model, vocab, history, trained_counts


def _prototypes(tc: TrainConfig, concepts):
    """Fixed class prototypes for the SL ``prototype`` head (else None)."""
    if tc.objective != "sl" or tc.head != "prototype":
        return None
    from studylib.concepts import semantic_vectors

    return semantic_prototypes(semantic_vectors(concepts), tc.embed_dim, tc.seed)


def load_model(run: Run):
    """Rebuild a run's model from its saved ``model.pt`` (runs made with keep_checkpoint=True)."""
    path = run.path / "model.pt"
    if not path.exists():
        raise FileNotFoundError(f"run {run.key} kept no model; rerun it with keep_checkpoint=True")
    tc = train_config(_flat(run.config))
    wc = world_config(_flat(run.config))
    vocab = world_text(wc, tc.context_length)[0] if tc.objective == "clip" else None
    model = build_model(tc, wc.n_classes, len(vocab) if vocab else None,
                        _prototypes(tc, cached_world(wc).concepts) if tc.head == "prototype" else None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _flat(config: dict) -> dict:
    flat = {**config["world"], **config["train"]}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in flat.items()}


def _per_class_frame(world: World, conf: np.ndarray, domain: str, trained_counts: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "class_index": np.arange(len(world.concepts)),
        "imagenet_index": [c.index for c in world.concepts],
        "class_name": world.class_names,
        "train_count": trained_counts,
        "domain": domain,
        "accuracy": M.per_class_accuracy(conf),
        "predictions": M.per_class_predictions(conf),
    })


def _bias_metrics(per_class: pd.DataFrame, seed: int) -> dict:
    """Spearman/Pearson of accuracy and #predictions with training frequency, with CIs."""
    out = {}
    per_class = per_class[per_class["train_count"] > 0]      # a class never trained on has no log frequency
    for col, short in (("accuracy", "acc"), ("predictions", "pred")):
        for method in ("spearman", "pearson"):
            c = M.frequency_correlation(per_class[col], per_class["train_count"], method, seed=seed)
            out[f"{method}_{short}"] = c["r"]
            out[f"{method}_{short}_lo"] = c["lo"]
            out[f"{method}_{short}_hi"] = c["hi"]
    return out
