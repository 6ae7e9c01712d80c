import time

import numpy as np
import pandas as pd
import pytest

from studylib import fileio as sio
from studylib.cli.results import table as results_table
from studylib.registry import Registry


def _save(reg, key, value=1.0):
    return reg.save(
        key,
        {"a": 1},
        {"chapter": "c", "label": "l", "preset": "smoke"},
        {"top1": value, "spearman_acc": 0.1, "spearman_pred": 0.2},
        tables={"per_class": pd.DataFrame({"x": [1, 2]})},
        arrays={"conf": np.eye(2)},
    )


def test_key_is_canonical_and_content_addressed():
    assert Registry.key({"a": 1, "b": [1, 2]}) == Registry.key({"b": [1, 2], "a": 1})
    assert Registry.key({"a": 1}) != Registry.key({"a": 2})


def test_miss_then_hit_in_milliseconds(tmp_path):
    reg = Registry(tmp_path)
    key = reg.key({"a": 1})
    assert reg.load(key) is None
    _save(reg, key)
    t0 = time.perf_counter()
    run = reg.load(key)
    assert run is not None and run.metrics["top1"] == 1.0
    assert run.per_class["x"].tolist() == [1, 2]
    assert time.perf_counter() - t0 < 0.5
    assert run.array("conf").tolist() == [[1, 0], [0, 1]]
    table = results_table(reg)
    assert table["run_id"].tolist() == [key]
    assert table.loc[0, ["chapter", "label", "top1", "spearman_pred"]].tolist() == ["c", "l", 1.0, 0.2]
    assert table.loc[0, "current"]


def test_crash_mid_write_leaves_no_partial_result(tmp_path, monkeypatch):
    reg = Registry(tmp_path)
    key = reg.key({"a": 2})
    real = sio.os.replace
    calls = []

    def crash_on_third(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt("killed")
        return real(src, dst)

    monkeypatch.setattr(sio.os, "replace", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        _save(reg, key)
    monkeypatch.setattr(sio.os, "replace", real)
    assert reg.load(key) is None  # no metrics.json: the run does not exist
    assert not list(reg.path(key).glob("*.tmp"))  # no temp file left behind
    assert results_table(reg).empty
    _save(reg, key, 0.5)  # redoing it works
    assert reg.load(key).metrics["top1"] == 0.5


def test_atomic_write_keeps_old_content_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    sio.atomic_write_json(path, {"v": 1})

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(sio.os, "fsync", boom)
    with pytest.raises(OSError):
        sio.atomic_write_json(path, {"v": 2})
    assert path.read_text().strip().endswith("}") and '"v": 1' in path.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
