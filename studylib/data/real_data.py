"""Real data as a data backend of the run pipeline: the ``paper`` preset's path.

The same interface as the concept world (studylib.data.world_data): a
streaming :class:`studylib.data.sources.LoaderSource` over a TSV/CSV list,
an ImageNet-Captions JSON or webdataset shards, and ImageFolder test sets with
the ImageNet-R/-A masks and ObjectNet's class map (logits are merged onto each
set's classes). Concept-world parameters are refused here, with their names.
The in-distribution test set (``metrics["top1"]``, the bias correlations) is
the one named ``val`` if there is one, else the first listed.

    python -m studylib check-data --preset paper -p train_data=/data/incaps.tsv -p data_root=/data
    python -m studylib train --preset paper -p train_data=/data/incaps.tsv -p data_root=/data \\
        -p eval_data=val=/data/imagenet/val,r=/data/imagenet-r:imagenet-r
    torchrun --nproc_per_node 8 -m studylib train --preset paper -p ...     # DDP on 8 GPUs

Long because the real-data backend: its checks, its key and its sources, one adapter for lists, JSON
and shards.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from studylib.concepts import load_concepts
from studylib.config import ConfigError, WorldConfig, data_config, key_dict, train_config
from studylib.data.adapters import (
    ShardDataset,
    SkipCounter,
    caption_table,
    eval_folder,
    expand_shards,
    imagenet_captions,
    make_loader,
    make_transform,
    project_logits,
)
from studylib.data.backend import EvalSet
from studylib.data.sources import LoaderSource
from studylib.objectives.base import DataInfo

MASKS = ("imagenet-r", "imagenet-a", "objectnet")
N_IMAGENET = 1000


@dataclass(frozen=True)
class EvalFolder:
    name: str
    folder: str
    mask: str | None


EVAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def parse_eval_sets(spec: str) -> list[EvalFolder]:
    """``"val=/data/val,r=/data/imagenet-r:imagenet-r"`` -> EvalFolders (mask after the last colon)."""
    out = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, rest = part.partition("=")
        if not eq or not name or not rest:
            raise ConfigError(f"parameter 'eval_data': {part!r} must look like name=folder[:mask]")
        name = name.strip()
        if not EVAL_NAME.fullmatch(name):
            raise ConfigError(
                f"parameter 'eval_data': set name {name!r} may only hold letters, digits, '_' and '-' "
                "(it names the run's files)"
            )
        folder, mask = rest, None
        head, colon, tail = rest.rpartition(":")
        if colon and tail in MASKS:
            folder, mask = head, tail
        out.append(EvalFolder(name, folder, mask))
    return out


SAMPLE_BYTES = 1 << 20  # check-data reads this much of a list file: its first lines, not all of it
SAMPLE_IMAGES = 20  # ... and looks for this many of the images those lines name


def _list_sample_problems(path: str, data_root: str) -> list[str]:
    """What the first lines of a TSV/CSV list show to be wrong: an empty file, invalid UTF-8, a malformed row,
    a label out of range, no usable row, none of the first listed images on disk."""
    if Path(path).stat().st_size == 0:
        return [f"train_data: {path} is empty (0 bytes)"]
    try:
        ds = caption_table(path, data_root or None, n_classes=N_IMAGENET, sample_bytes=SAMPLE_BYTES)
    except ValueError as err:
        return [f"train_data: {err}"]
    if len(ds) == 0:
        return [f"train_data: {path} lists no usable row (filepath, label, caption) in its first lines"]
    # every sampled image missing means a wrong data_root, not a few lost files (web lists always lose some:
    # those are skipped and counted while training)
    sample = [ds.path(i) for i in range(min(len(ds), SAMPLE_IMAGES))]
    if not any(p.is_file() for p in sample):
        return [
            f"train_data: none of the first {len(sample)} listed images exists, e.g. {sample[0]}; "
            "is data_root right?"
        ]
    return []


def check_data(params: dict) -> list[str]:
    """What is missing or wrong in the real-data parameters (empty list = ready)."""
    dc = data_config(params)
    train_config(params)  # checks the training parameters (a ConfigError names a bad one)
    problems = []
    if not dc.train_data:
        problems.append(
            "train_data is not set: pass -p train_data=PATH to a TSV/CSV list (filepath, label, "
            "caption; the paper's released lists use this format), an ImageNet-Captions .json, or "
            "webdataset shards ('/data/cc/{00000..00331}.tar')"
        )
    else:
        if dc.train_data.endswith(".tar") or "{" in dc.train_data:
            try:
                shards = expand_shards(dc.train_data)
                missing = [sh for sh in shards if not Path(sh).is_file()]
                if missing:
                    problems.append(
                        f"train_data: {len(missing)} of {len(shards)} shards do not exist, e.g. {missing[0]}"
                    )
            except (FileNotFoundError, ValueError) as err:
                problems.append(f"train_data: {err}")
            if not dc.steps_per_epoch:
                problems.append("steps_per_epoch is 0: shards have no length, pass -p steps_per_epoch=N")
        elif not Path(dc.train_data).is_file():
            problems.append(f"train_data: no file at {dc.train_data}")
        elif dc.train_data.lower().endswith((".tsv", ".csv")):
            problems += _list_sample_problems(dc.train_data, dc.data_root)
        if dc.train_data.endswith(".json") and not dc.data_root:
            problems.append(
                "data_root is not set: ImageNet-Captions images are found under the ImageNet train "
                "folder (-p data_root=/data/imagenet/train)"
            )
        if dc.data_root and not Path(dc.data_root).is_dir():
            problems.append(f"data_root: no folder at {dc.data_root}")
    if not dc.eval_data:
        problems.append(
            "eval_data is not set: pass -p eval_data=val=/data/imagenet/val[,r=/data/imagenet-r:"
            "imagenet-r,...] (ImageFolder layout, one folder per WordNet id)"
        )
    else:
        try:
            for es in parse_eval_sets(dc.eval_data):
                if not Path(es.folder).is_dir():
                    problems.append(f"eval_data: no folder at {es.folder} (set {es.name!r})")
        except ValueError as err:
            problems.append(str(err))
    for name in ("pretrained", "text_init"):
        path = params.get(name, "")
        if path and not Path(path).is_file():
            problems.append(f"{name}: no checkpoint file at {path}")
    if params.get("text_tower", "scratch") != "scratch" and not params.get("text_init"):
        problems.append(f"text_tower={params['text_tower']} needs -p text_init=CHECKPOINT")
    return problems


def _is_shards(path: str) -> bool:
    return path.endswith(".tar") or "{" in path


class RealData:
    kind = "real"

    def __init__(self, params: dict):
        world_fields = {f.name: f.default for f in fields(WorldConfig)}
        arch = params.get("arch", "tiny")
        for name, default in world_fields.items():
            if name == "image_size" and arch == "tiny":
                continue  # the tiny models' input size on real images
            if params.get(name, default) != default:
                raise ConfigError(
                    f"parameter {name!r} describes the concept world and would be ignored on real "
                    f"data (train_data={params.get('train_data')!r}); leave it at {default!r}"
                )
        problems = check_data(params)
        if problems:
            raise ConfigError("the real-data parameters are not ready:\n- " + "\n- ".join(problems))
        self.params = params
        self.config = data_config(params)
        self.arch = arch
        self.image_size = params.get("image_size", world_fields["image_size"])
        self._dataset = None
        self.transforms = None
        folders = parse_eval_sets(self.config.eval_data)
        self.id_domain = next((f.name for f in folders if f.name == "val"), folders[0].name)

    def key(self) -> dict:
        """The data part of the run key: the data parameters, what each input holds (content of files up to
        256 MB; names, sizes and mtimes of larger files, shard sets and evaluation folders: see
        :mod:`studylib.fingerprint`; every input by content with ``verify_data``) and, for shards, ``workers`` (it decides which worker reads which
        shard, so the order of the samples)."""
        from studylib.fingerprint import files_fingerprint, input_fingerprint

        dc = self.config
        v = dc.verify_data
        inputs = {
            name: input_fingerprint(value, v)
            for name, value in (
                ("train_data", dc.train_data),
                ("pretrained", self.params.get("pretrained")),
                ("text_init", self.params.get("text_init")),
            )
            if value
        }
        inputs.update(
            {f"eval:{es.name}": input_fingerprint(es.folder, v) for es in parse_eval_sets(dc.eval_data)}
        )
        if not _is_shards(dc.train_data):  # a list's result depends on the images it names, not only on it
            ds = self.dataset
            inputs["train_images"] = files_fingerprint([ds.path(i) for i in range(len(ds))], v)
        key = {"data": key_dict(dc), "inputs": inputs, "image_size": self.image_size}
        if _is_shards(dc.train_data):
            key["workers"] = dc.workers
        return key

    @property
    def dataset(self):
        if self._dataset is None:
            dc = self.config
            if dc.train_data.endswith(".json"):
                self._dataset = imagenet_captions(
                    dc.train_data, dc.data_root, variant=dc.caption_variant, class_prefix=dc.class_prefix
                )
            elif _is_shards(dc.train_data):
                self._dataset = ShardDataset(dc.train_data, shuffle=True, shuffle_buffer=1000)
            else:
                # labels are checked against the class count while the list is read, naming file and line
                self._dataset = caption_table(dc.train_data, dc.data_root or None, n_classes=N_IMAGENET)
        return self._dataset

    def info(self) -> DataInfo:
        ds = self.dataset
        names = [c.name for c in load_concepts()]
        counts = (
            ds.class_counts(N_IMAGENET).numpy() if hasattr(ds, "class_counts") else np.ones(N_IMAGENET, int)
        )
        captions = getattr(ds, "captions", None)
        labels = ds.labels.numpy() if hasattr(ds, "labels") else None

        def semantic():
            from studylib.concepts import semantic_vectors

            return semantic_vectors(load_concepts())

        return DataInfo(
            kind=self.kind,
            class_names=names,
            class_counts=counts,
            image_size=self.image_size,
            labels=labels,
            captions=captions,
            corpus_key=f"real-{self.config.train_data}",
            semantic=semantic,
        )

    def set_transforms(self, transforms) -> None:
        """The architecture's (train, eval) transforms, or the tiny models' defaults when None."""
        if transforms is None:
            transforms = make_transform(self.image_size, train=True), make_transform(self.image_size)
        self.transforms = transforms

    def train_source(self, objective, tc, train_subset=None, rank: int = 0, world_size: int = 1):
        if train_subset is not None:
            raise ConfigError("a training subset ('train_subset') is only available on the concept world")
        ds = self.dataset
        ds.transform = self.transforms[0]
        known = hasattr(ds, "class_counts")
        counts = ds.class_counts(N_IMAGENET) if known else torch.ones(N_IMAGENET)
        source = LoaderSource(
            ds,
            tc.batch_size,
            tc.seed,
            tokenizer=objective.tokenizer if "tokens" in objective.needs else None,
            workers=self.config.workers,
            class_counts=torch.as_tensor(counts),
            steps_per_epoch=self.config.steps_per_epoch or None,
            rank=rank,
            world_size=world_size,
            require_labels="labels" in objective.needs,
        )
        # shards do not list their labels up front: their training counts are unknown (-1), not 1
        trained = np.asarray(counts) if known else np.full(N_IMAGENET, -1)
        return source, trained

    def eval_sets(self) -> list[EvalSet]:
        out = []
        for es in parse_eval_sets(self.config.eval_data):
            ds = eval_folder(es.folder, mask=es.mask, transform=self.transforms[1])
            groups = getattr(ds, "class_groups", None)
            if not groups and not getattr(ds, "imagenet_labels", True):
                raise ConfigError(
                    f"eval set {es.name!r} ({es.folder}): its folders are neither ImageNet WordNet ids "
                    "nor class indices 0..999; give a mask (imagenet-r, imagenet-a, objectnet) or "
                    "rename them"
                )
            project = functools.partial(project_logits, groups=groups) if groups else None
            # labels=None: unreadable images are skipped as they come, so the stored feature sample is the
            # first images of each class among the readable ones, in folder order
            out.append(
                EvalSet(
                    es.name,
                    len(groups) if groups else N_IMAGENET,
                    None,
                    functools.partial(self._batches, ds, es.name),
                    project,
                    list(ds.classes) if groups else None,
                )
            )
        return out

    def _batches(self, ds, name, device):
        skipped = SkipCounter()
        for batch in make_loader(ds, 256, shuffle=False, workers=self.config.workers, drop_last=False):
            skipped.update(batch)
            if len(batch["labels"]):
                yield batch["images"].to(device), batch["labels"]
        if skipped.count:
            print(f"eval set {name}: {skipped.report()}")

    def class_table(self) -> pd.DataFrame:
        concepts = load_concepts()
        return pd.DataFrame(
            {
                "class_index": np.arange(len(concepts)),
                "imagenet_index": [c.index for c in concepts],
                "class_name": [c.name for c in concepts],
            }
        )
