"""The trainer's streaming batch source on real-format data: epoch length, labels, folders."""

import io

import pytest
import torch
from PIL import Image

from studylib.data.adapters import ImageTextDataset, eval_folder
from studylib.data.sources import LoaderSource


def _images(tmp_path, n):
    for i in range(n):
        buf = io.BytesIO()
        Image.new("RGB", (8, 8), (10 * i, 50, 90)).save(buf, "PNG")
        (tmp_path / f"{i}.png").write_bytes(buf.getvalue())


def test_a_short_stream_restarts_so_an_epoch_has_steps_per_epoch_batches(tmp_path):
    _images(tmp_path, 5)
    ds = ImageTextDataset([(f"{i}.png", i % 2, f"caption {i}") for i in range(5)], root=tmp_path)
    src = LoaderSource(ds, 2, seed=0, steps_per_epoch=7, class_counts=torch.ones(2))
    batches = list(src.batches(0, 0, torch.device("cpu")))
    assert len(batches) == 7 and all(len(b["labels"]) == 2 for b in batches)
    assert len(list(src.batches(0, 5, torch.device("cpu")))) == 2  # resume mid-epoch
    empty = LoaderSource(
        ImageTextDataset([], root=tmp_path), 2, seed=0, steps_per_epoch=3, class_counts=torch.ones(2)
    )
    with pytest.raises(ValueError, match="train_data gave no batch at all"):
        list(empty.batches(0, 0, torch.device("cpu")))


def test_sl_drops_and_counts_samples_without_a_label(tmp_path):
    _images(tmp_path, 4)
    ds = ImageTextDataset([(f"{i}.png", [-1, 1, -1, 0][i], f"c{i}") for i in range(4)], root=tmp_path)
    src = LoaderSource(ds, 4, seed=0, class_counts=torch.ones(2), require_labels=True)
    (batch,) = list(src.batches(0, 0, torch.device("cpu")))
    assert sorted(batch["labels"].tolist()) == [0, 1] and len(batch["images"]) == 2
    assert src.skipped.count == 2 and "no class label" in src.end_epoch()


def test_imagenet_v2_folders_named_by_class_index(tmp_path):
    for cls in ("0", "10", "2"):
        (tmp_path / cls).mkdir()
        _images(tmp_path / cls, 1)
    ds = eval_folder(tmp_path)
    assert sorted(set(ds.labels.tolist())) == [0, 2, 10] and ds.imagenet_labels
    other = tmp_path / "other"
    for cls in ("cats", "dogs"):
        (other / cls).mkdir(parents=True)
        _images(other / cls, 1)
    assert not eval_folder(other).imagenet_labels
