"""Train and evaluate on real data: the ``paper`` preset's path.

The same trainer as the concept world (studylib.train), fed by a streaming
:class:`studylib.train.LoaderSource` over a real dataset (studylib.data), with
a tiny or an open_clip model (studylib.openclip_models), evaluated zero-shot
(CLIP) or with its head (SL) on ImageFolder sets, with the ImageNet-R/-A masks
and ObjectNet's class map. Results go to the same registry.

    python -m studylib check-data --preset paper -p train_data=/data/incaps.tsv -p data_root=/data
    python -m studylib train --preset paper -p train_data=/data/incaps.tsv -p data_root=/data \\
        -p eval_data=val=/data/imagenet/val,r=/data/imagenet-r:imagenet-r
    torchrun --nproc_per_node 8 -m studylib train --preset paper -p ...     # DDP on 8 GPUs
"""
from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from studylib import metrics as M
from studylib.concepts import load_concepts
from studylib.config import DataConfig, as_dict, data_config, train_config
from studylib.evaluate import confusion_matrix, prompts_for
from studylib.io import atomic_write_bytes
from studylib.registry import Registry, Run

MASKS = ("imagenet-r", "imagenet-a", "objectnet")


@dataclass(frozen=True)
class EvalSet:
    name: str
    folder: str
    mask: str | None


def parse_eval_sets(spec: str) -> list[EvalSet]:
    """``"val=/data/val,r=/data/imagenet-r:imagenet-r"`` -> EvalSets (mask after the last colon)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, rest = part.partition("=")
        if not eq or not name or not rest:
            raise ValueError(f"parameter 'eval_data': {part!r} must look like name=folder[:mask]")
        folder, mask = rest, None
        head, colon, tail = rest.rpartition(":")
        if colon and tail in MASKS:
            folder, mask = head, tail
        out.append(EvalSet(name, folder, mask))
    return out


def check_data(params: dict) -> list[str]:
    """What is missing or wrong in the real-data parameters (empty list = ready)."""
    dc = data_config(params)
    tc = train_config(params)
    problems = []
    if not dc.train_data:
        problems.append("train_data is not set: pass -p train_data=PATH to a TSV/CSV list (filepath, label, "
                        "caption; the paper's released lists use this format), an ImageNet-Captions .json, or "
                        "webdataset shards ('/data/cc/{00000..00331}.tar')")
    else:
        from studylib.data import expand_shards

        if dc.train_data.endswith(".tar") or "{" in dc.train_data:
            try:
                shards = expand_shards(dc.train_data)
                missing = [sh for sh in shards if not Path(sh).is_file()]
                if missing:
                    problems.append(f"train_data: {len(missing)} of {len(shards)} shards do not exist, "
                                    f"e.g. {missing[0]}")
            except (FileNotFoundError, ValueError) as err:
                problems.append(f"train_data: {err}")
            if not dc.steps_per_epoch:
                problems.append("steps_per_epoch is 0: shards have no length, pass -p steps_per_epoch=N")
        elif not Path(dc.train_data).is_file():
            problems.append(f"train_data: no file at {dc.train_data}")
        if dc.train_data.endswith(".json") and not dc.data_root:
            problems.append("data_root is not set: ImageNet-Captions images are found under the ImageNet train "
                            "folder (-p data_root=/data/imagenet/train)")
        if dc.data_root and not Path(dc.data_root).is_dir():
            problems.append(f"data_root: no folder at {dc.data_root}")
    if not dc.eval_data:
        problems.append("eval_data is not set: pass -p eval_data=val=/data/imagenet/val[,r=/data/imagenet-r:"
                        "imagenet-r,...] (ImageFolder layout, one folder per WordNet id)")
    else:
        try:
            for es in parse_eval_sets(dc.eval_data):
                if not Path(es.folder).is_dir():
                    problems.append(f"eval_data: no folder at {es.folder} (set {es.name!r})")
        except ValueError as err:
            problems.append(str(err))
    for name, path in (("pretrained", tc.pretrained), ("text_init", tc.text_init)):
        if path and not Path(path).is_file():
            problems.append(f"{name}: no checkpoint file at {path}")
    if tc.text_tower != "scratch" and not tc.text_init:
        problems.append(f"text_tower={tc.text_tower} needs -p text_init=CHECKPOINT")
    return problems


def load_train_data(dc: DataConfig, transform):
    from studylib.data import ShardDataset, caption_table, imagenet_captions

    path = dc.train_data
    if path.endswith(".json"):
        return imagenet_captions(path, dc.data_root, variant=dc.caption_variant, class_prefix=dc.class_prefix,
                                 transform=transform)
    if path.endswith(".tar") or "{" in path:
        return ShardDataset(path, transform=transform, shuffle=True, shuffle_buffer=1000)
    return caption_table(path, dc.data_root or None, transform=transform)


def build(tc, n_classes: int, image_size: int, captions=None):
    """(model, tokenizer or None, train transform, eval transform) for ``tc.arch``."""
    if tc.arch == "tiny":
        from studylib.data import make_transform
        from studylib.models import Vocabulary
        from studylib.train import build_model

        vocab = Vocabulary(list(captions or []) + prompts_for([c.name for c in load_concepts()]),
                           tc.context_length) if tc.objective == "clip" else None
        model = build_model(tc, n_classes, len(vocab) if vocab else None)
        return model, (vocab.encode if vocab else None), make_transform(image_size, train=True), \
            make_transform(image_size)
    from studylib.openclip_models import create_clip, create_sl

    if tc.objective == "clip":
        model, tokenizer, (train_tf, eval_tf) = create_clip(tc.arch, pretrained=tc.pretrained,
                                                            text_tower=tc.text_tower, text_init=tc.text_init)
        return model, tokenizer, train_tf, eval_tf
    model, (train_tf, eval_tf) = create_sl(tc.arch, n_classes, pretrained=tc.pretrained, head=tc.head)
    return model, None, train_tf, eval_tf


@torch.no_grad()
def evaluate_folder(model, es: EvalSet, eval_tf, classifier, batch_size: int, workers: int) -> np.ndarray:
    """Confusion matrix of ``model`` on one ImageFolder set (zero-shot ``classifier`` for CLIP, else the head)."""
    from studylib.data import SkipCounter, eval_folder, make_loader, project_logits

    ds = eval_folder(es.folder, mask=es.mask, transform=eval_tf)
    groups = getattr(ds, "class_groups", None)
    if not groups and not getattr(ds, "imagenet_labels", True):
        raise ValueError(f"eval set {es.name!r} ({es.folder}): its folders are neither ImageNet WordNet ids nor "
                         "class indices 0..999; give a mask (imagenet-r, imagenet-a, objectnet) or rename them")
    device = next(model.parameters()).device
    n_out = len(groups) if groups else 1000
    conf = np.zeros((n_out, n_out), dtype=np.int64)
    skipped = SkipCounter()
    model.eval()
    for batch in make_loader(ds, batch_size, shuffle=False, workers=workers, drop_last=False):
        skipped.update(batch)
        if len(batch["labels"]) == 0:
            continue
        x = batch["images"].to(device)
        logits = model.encode_image(x).float() @ classifier.T if classifier is not None else model(x).float()
        if groups:
            logits = project_logits(logits, groups)
        conf += confusion_matrix(batch["labels"].numpy(), logits.argmax(1).cpu().numpy(), n_out)
    if skipped.count:
        print(f"eval set {es.name}: {skipped.report()}")
    return conf


def run_real(params: dict, *, label: str = "real", preset: str = "paper", registry: Registry | None = None,
             progress: bool = True) -> Run:
    """Train on ``train_data`` and evaluate on every ``eval_data`` set; cached in the registry."""
    from studylib.train import LoaderSource, dist_info, train

    problems = check_data(params)
    if problems:
        raise ValueError("the real-data parameters are not ready:\n- " + "\n- ".join(problems))
    reg = registry or Registry()
    tc, dc = train_config(params), data_config(params)
    data_files = [p for p in (dc.train_data, tc.pretrained, tc.text_init) if p and Path(p).is_file()]
    # worker count and checkpoint interval do not change the result: keep them out of the key
    config = {"train": {k: v for k, v in as_dict(tc).items() if k != "checkpoint_every"},
              "data": {k: v for k, v in as_dict(dc).items() if k != "workers"},
              "data_files": {p: Path(p).stat().st_size for p in data_files}, "image_size": params["image_size"]}
    key = reg.key(config)
    cached = reg.load(key)
    if cached is not None:
        return cached
    rank, world = dist_info()
    dataset = load_train_data(dc, None)
    if tc.arch == "tiny" and tc.objective == "clip" and not hasattr(dataset, "captions"):
        raise ValueError("arch=tiny CLIP builds its vocabulary from the captions, which shards do not list "
                         "up front: use an open_clip arch (e.g. -p arch=RN50) with webdataset shards")
    model, tokenizer, train_tf, eval_tf = build(tc, 1000, params["image_size"], getattr(dataset, "captions", None))
    dataset.transform = train_tf
    counts = torch.as_tensor(dataset.class_counts(1000)) if hasattr(dataset, "class_counts") else torch.ones(1000)
    source = LoaderSource(dataset, tc.batch_size, tc.seed, tokenizer=tokenizer if tc.objective == "clip" else None,
                          workers=dc.workers, class_counts=counts, steps_per_epoch=dc.steps_per_epoch or None,
                          rank=rank, world_size=world, require_labels=tc.objective == "sl")
    t0 = time.perf_counter()
    history = train(model, source, tc, checkpoint=reg.path(key) / "checkpoint.pt", name=label, progress=progress)
    metrics = {"train_seconds": time.perf_counter() - t0, "steps": history[-1]["step"] if history else 0}
    if rank != 0:
        return None
    arrays, tables = {}, []
    classifier = None
    if tc.objective == "clip":
        from studylib.evaluate import zero_shot_classifier

        classifier = zero_shot_classifier(model, tokenizer, [c.name for c in load_concepts()])
    for es in parse_eval_sets(dc.eval_data):
        conf = evaluate_folder(model, es, eval_tf, classifier, tc.batch_size, dc.workers)
        arrays[f"confusion_{es.name}"] = conf
        metrics[f"top1_{es.name}"] = M.top1(conf)
        tables.append(pd.DataFrame({"domain": es.name, "class_index": np.arange(len(conf)),
                                    "accuracy": M.per_class_accuracy(conf),
                                    "predictions": M.per_class_predictions(conf)}))
    metrics["top1"] = metrics[f"top1_{parse_eval_sets(dc.eval_data)[0].name}"]
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    atomic_write_bytes(reg.path(key) / "model.pt", buf.getvalue())
    run = reg.save(key, config, {"chapter": "real", "label": label, "preset": preset}, metrics,
                   {"per_class": pd.concat(tables, ignore_index=True), "history": pd.DataFrame(history)}, arrays)
    (reg.path(key) / "checkpoint.pt").unlink(missing_ok=True)
    return run
