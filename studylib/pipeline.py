"""One run pipeline for the concept world and for real data: a run spec -> a cached run.

``run(spec)`` returns the registry's run for ``spec`` in milliseconds when it
is cached; otherwise it runs the spec's dependencies first, builds the data
backend (studylib.data.world_data or .real_data) and the objective, trains
(resuming from a checkpoint left by an interrupted run), evaluates every test
set by name and stores, atomically:

* ``metrics.json``: top-1 per test set, bias correlations on the
  in-distribution set, training time;
* ``per_class.parquet``: accuracy and #predictions per class and test set,
  with training counts; classes never trained on stay in, flagged ``zero_train``;
* for the in-distribution test set, ``logits_<set>.npy`` (fp16, row max subtracted: every
  prediction and softmax is kept; the shifted sets keep their confusion matrices only, as no
  analysis reads their logits and they were four fifths of a 5-domain run's 111 MB);
* per test set: ``labels_<set>.npy``, ``confusion_<set>.npy``,
  and the penultimate ``features_<set>.npy`` of a fixed sample
  (``feature_index_<set>.npy``: on the world a seeded sample, the same for every
  run on that set, every class in it; on a real folder the first readable images
  of each class, in folder order);
* ``classifier_weights.npy`` (and ``classifier_bias.npy``): text embeddings
  of the class prompts for CLIP, head weights or prototypes for SL.

The metrics are computed from the logits (on the in-distribution set from the stored ones), so any later analysis of a
run (logit adjustment, neural collapse, head affinities) starts from exactly
what the run reported, without retraining.

The key rule, the same on both paths: a run's key is the hash of its data
description, its training config and its objective's config, without the
fields that cannot change results (``config.RESULTS_NEUTRAL``), plus its
subset and the keys of its dependencies::

    from studylib.spec import RunSpec, resolve
    from studylib.pipeline import run, load
    r = run(RunSpec({**resolve("smoke"), "objective": "sl"}, label="SL", chapter="demo"))
    r.metrics["top1"], r.per_class.head(), r.array("logits_photo").shape
    loaded = load(r)            # model + objective, for runs made with keep_model=True

Long because the run key, training, evaluation and storing of one run are the one pipeline and its
key rule.
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from studylib import metrics as M
from studylib.config import ConfigError, build, key_dict, train_config
from studylib.data.backend import DataBackend, EvalSet
from studylib.data.real_data import RealData
from studylib.data.sources import dist_info
from studylib.data.world_data import WorldData
from studylib.evaluate import FEATURE_SAMPLE_SIZE, confusion_matrix, feature_sample, forward
from studylib.fileio import atomic_write_bytes
from studylib.locking import file_lock
from studylib.objectives.base import Objective, get
from studylib.profiling import cached as note_cached
from studylib.profiling import phase
from studylib.registry import Registry, Run
from studylib.spec import RunSpec, validate
from studylib.train import LOOP_COLUMNS, pick_device, train


def backend_for(params: dict) -> DataBackend:
    """The data backend of ``params``: real data when ``train_data`` is set, else the concept world."""
    return RealData(params) if params.get("train_data") else WorldData(params)


def run_config(spec: RunSpec, backend: DataBackend | None = None, registry: Registry | None = None) -> dict:
    """The config a run's key is the hash of (see the module docstring)."""
    backend = backend or backend_for(spec.params)
    tc = train_config(spec.params)
    config = {
        **backend.key(),
        "train": key_dict(tc),
        "objective": key_dict(build(get(tc.objective).Config, spec.params)),
    }
    if spec.train_subset is not None:
        config["subset"] = {
            "n": int(len(spec.train_subset)),
            "sha256": hashlib.sha256(spec.train_subset.tobytes()).hexdigest()[:16],
        }
    if spec.deps:
        config["deps"] = {name: run_key(dep, registry) for name, dep in sorted(spec.deps.items())}
    return config


def run_key(spec: RunSpec, registry: Registry | None = None) -> str:
    return Registry.key(run_config(spec, registry=registry))


@dataclass
class LoadedRun:
    """A stored run with its model rebuilt and its objective (tokenizer, classifier) ready."""

    run: Run
    model: torch.nn.Module
    objective: Objective


def run(
    spec: RunSpec,
    *,
    registry: Registry | None = None,
    progress: bool = True,
    keep_model: bool = False,
    on_step=None,
) -> Run | None:
    """The run of ``spec`` from the registry, trained first if it is not there (None on DDP ranks > 0)."""
    reg = registry or Registry()
    backend = backend_for(spec.params)
    config = run_config(spec, backend, reg)
    key = reg.key(config)
    cached = reg.load(key)
    if cached is not None and (not keep_model or (cached.path / "model.pt").exists()):
        note_cached(spec.label)
        return cached
    if dist_info()[1] > 1:  # torchrun: every rank trains together, so no per-run lock
        if spec.deps:
            raise ConfigError(
                "run dependencies are trained in a single process: run them first without "
                "torchrun, then start the multi-process run"
            )
        return _train_and_store(spec, reg, backend, config, key, progress, keep_model, on_step)
    with file_lock(reg.root / ".locks" / f"{key}.lock", what=f"run {spec.label!r} [{key[:6]}]"):
        cached = reg.load(key)  # another process may have stored it while this one waited
        if cached is not None and (not keep_model or (cached.path / "model.pt").exists()):
            note_cached(spec.label)
            return cached
        return _train_and_store(spec, reg, backend, config, key, progress, keep_model, on_step)


def _train_and_store(
    spec: RunSpec,
    reg: Registry,
    backend: DataBackend,
    config: dict,
    key: str,
    progress: bool,
    keep_model: bool,
    on_step,
) -> Run | None:
    deps = {
        name: _dependency(run(dep, registry=reg, progress=progress, keep_model=True), reg)
        for name, dep in sorted(spec.deps.items())
    }
    tc = train_config(spec.params)
    objective = get(tc.objective)(build(get(tc.objective).Config, spec.params), tc, backend.info(), deps)
    model, transforms = objective.build_model()
    backend.set_transforms(transforms)
    rank, world_size = dist_info()
    source, trained_counts = backend.train_source(objective, tc, spec.train_subset, rank, world_size)
    t0 = time.perf_counter()
    with phase("train", run=spec.label):
        history = (
            train(
                model,
                objective,
                source,
                tc,
                checkpoint=reg.path(key) / "checkpoint.pt",
                name=f"{spec.label} [{key[:6]}]",
                progress=progress,
                on_step=on_step,
                run_key=key,
            )
            if objective.trains
            else []
        )
    train_seconds = time.perf_counter() - t0
    if rank != 0:
        return None
    if not objective.trains:
        model.to(pick_device(tc.device))
    with phase("evaluate", run=spec.label):
        objective.fit_probe(model, source, next(model.parameters()).device)  # under torchrun: rank 0's share
        metrics, tables, arrays = evaluate_run(model, objective, backend, trained_counts, seed=tc.seed)
    metrics["train_seconds"] = train_seconds
    metrics["steps"] = history[-1]["step"] if history else 0
    metrics.update(extra_means(history))
    tables["history"] = pd.DataFrame(history)
    if keep_model:
        buf = io.BytesIO()
        torch.save(model.state_dict(), buf)
        atomic_write_bytes(reg.path(key) / "model.pt", buf.getvalue())
    meta = {"chapter": spec.chapter, "label": spec.label, "preset": spec.preset, "data": backend.kind}
    result = reg.save(key, config, meta, metrics, tables, arrays)
    (reg.path(key) / "checkpoint.pt").unlink(missing_ok=True)
    return result


# (registry folder, run key) -> LoadedRun of a run that later runs of this process train on top of (a chapter's
# pretraining-world CLIP lends its text tower to every pretrained-head run, over every seed). Rebuilding it
# loaded its world and tokenised its corpus again for each of them (issue 30: time outside training). A run's
# key names its code, config and data, so the stored model behind a key never changes; the objectives only
# read a dependency's model (copy its weights, embed prompts, deep-copy a backbone) and never train it.
_DEPENDENCIES: dict = {}
_DEPENDENCIES_KEPT = 4


def _dependency(stored: Run, reg: Registry) -> LoadedRun:
    """:func:`load` of a dependency, once per process (the last few kept)."""
    key = (str(reg.root), stored.key)
    if key not in _DEPENDENCIES:
        while len(_DEPENDENCIES) >= _DEPENDENCIES_KEPT:
            _DEPENDENCIES.pop(next(iter(_DEPENDENCIES)))
        _DEPENDENCIES[key] = load(stored, reg)
    return _DEPENDENCIES[key]


def extra_means(history: list[dict]) -> dict:
    """``mean_<name>``: the mean over a run's history rows of each extra its objective logged (Objective.loss)."""
    names = [k for k in (history[0] if history else {}) if k not in LOOP_COLUMNS]
    return {f"mean_{name}": float(np.mean([row[name] for row in history])) for name in names}


def evaluate_run(
    model, objective: Objective, backend: DataBackend, trained_counts: np.ndarray, seed: int = 0
):
    """(metrics, tables, arrays) of a trained model on every test set of ``backend``."""
    device = next(model.parameters()).device
    classifier = objective.classifier(model)
    arrays = classifier.arrays()
    metrics = {
        "classifier_scale": float(classifier.scale),
        "classifier_normalized": bool(classifier.normalize),
    }
    frames = {}
    classes = backend.class_table()
    for es in backend.eval_sets():
        sample = feature_sample(es.labels, es.n_classes) if es.labels is not None else None
        out = forward(
            model,
            objective.features,
            classifier,
            es.batches(device),
            sample,
            es.project,
            per_class=max(1, FEATURE_SAMPLE_SIZE // es.n_classes),
        )
        logits = out.logits  # compact already
        conf = confusion_matrix(out.labels, out.preds, es.n_classes)
        if es.name == backend.id_domain:
            arrays[f"logits_{es.name}"] = logits
        arrays.update(
            {
                f"labels_{es.name}": out.labels.astype(np.int32),
                f"confusion_{es.name}": conf,
                f"features_{es.name}": out.features.astype(np.float16),
                f"feature_index_{es.name}": out.sample,
            }
        )
        frames[es.name] = per_class_frame(conf, es, classes, trained_counts)
        metrics[f"top1_{es.name}"] = M.top1(conf)
        empty = int((conf.sum(1) == 0).sum())
        metrics[f"classes_without_images_{es.name}"] = empty
        if empty:
            warnings.warn(
                f"eval set {es.name!r}: {empty} of {es.n_classes} classes have no image; their "
                "per-class accuracy is NaN and every per-class mean leaves them out",
                stacklevel=2,
            )
    metrics.update(objective.run_metrics(model))
    metrics["id_domain"] = backend.id_domain
    metrics["top1"] = metrics[f"top1_{backend.id_domain}"]
    metrics.update(bias_metrics(frames[backend.id_domain], seed=seed))
    return metrics, {"per_class": pd.concat(frames.values(), ignore_index=True)}, arrays


def per_class_frame(
    conf: np.ndarray, es: EvalSet, classes: pd.DataFrame, trained_counts: np.ndarray
) -> pd.DataFrame:
    """Accuracy and #predictions per class of one test set, with training counts (-1: not comparable)."""
    if es.class_names is None:
        frame = classes.copy()
        frame["train_count"] = np.asarray(trained_counts, dtype=np.int64)
    else:  # a masked set (ImageNet-R/-A, ObjectNet): its own classes
        frame = pd.DataFrame(
            {"class_index": np.arange(len(es.class_names)), "class_name": es.class_names, "train_count": -1}
        )
    frame["zero_train"] = frame["train_count"] == 0
    frame["domain"] = es.name
    frame["accuracy"] = M.per_class_accuracy(conf)
    frame["predictions"] = M.per_class_predictions(conf)
    return frame


def bias_metrics(per_class: pd.DataFrame, seed: int) -> dict:
    """Spearman/Pearson of accuracy and #predictions with training frequency, with CIs."""
    out = {}
    per_class = per_class[per_class["train_count"] > 0]  # a class never trained on has no log frequency
    if len(per_class) < 3:
        return out
    for col, short in (("accuracy", "acc"), ("predictions", "pred")):
        for method in ("spearman", "pearson"):
            c = M.frequency_correlation(per_class[col], per_class["train_count"], method, seed=seed)
            out[f"{method}_{short}"] = c["r"]
            out[f"{method}_{short}_lo"] = c["lo"]
            out[f"{method}_{short}_hi"] = c["hi"]
    return out


def run_params(run: Run) -> dict:
    """Flat, validated parameters that rebuild a stored run's data, model and objective."""
    config = run.config
    flat = {}
    for part in ("world", "data", "train", "objective"):
        flat.update(config.get(part, {}))
    if "image_size" in config and "world" not in config:
        flat["image_size"] = config["image_size"]
    return validate(flat)


def load(stored: Run, registry: Registry | None = None) -> LoadedRun:
    """Rebuild a stored run's model (it must have been run with ``keep_model=True``)."""
    path = stored.path / "model.pt"
    if not path.exists():
        raise FileNotFoundError(f"run {stored.key} kept no model; rerun it with keep_model=True")
    reg = registry or Registry(stored.path.parent)
    params = run_params(stored)
    deps = {}
    for name, key in stored.config.get("deps", {}).items():
        dep = reg.load(key)
        if dep is None:
            raise FileNotFoundError(
                f"run {stored.key} depends on run {key} ({name}), which is not in {reg.root}"
            )
        deps[name] = load(dep, reg)
    backend = backend_for(params)
    tc = train_config(params)
    objective = get(tc.objective)(build(get(tc.objective).Config, params), tc, backend.info(), deps)
    model, _ = objective.build_model()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.to(pick_device(tc.device))
    return LoadedRun(stored, model.eval(), objective)
