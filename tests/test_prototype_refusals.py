"""`prototypes count` refuses matrices it cannot count (issue 28): non-finite, empty, or an empty file."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studylib.cli.main import main

KEY = "head.last_layer.weight_v"


def _ckpt(path, w):
    torch.save({"teacher": {KEY: torch.as_tensor(w, dtype=torch.float32)}, "student": {}}, path)
    return path


@pytest.mark.parametrize(
    "matrix, words",
    [
        (np.full((16, 8), np.nan), "non-finite"),
        (np.zeros((0, 8)), "no prototypes"),
        (np.zeros((16, 0)), "no prototypes"),
    ],
)
def test_a_matrix_it_cannot_count_is_refused(tmp_path, capsys, matrix, words):
    assert main(["prototypes", "count", str(_ckpt(tmp_path / "c.pth", matrix))]) == 2
    captured = capsys.readouterr()
    assert words in captured.err and "unique" not in captured.out


def test_an_inf_row_is_refused_and_names_its_rows(tmp_path, capsys):
    w = np.random.default_rng(0).normal(size=(16, 8))
    w[3, 1] = np.inf
    assert main(["prototypes", "count", str(_ckpt(tmp_path / "c.pth", w))]) == 2
    assert "non-finite" in capsys.readouterr().err


def test_an_empty_file_is_refused_with_a_message(tmp_path, capsys):
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    assert main(["prototypes", "count", str(empty)]) == 2
    assert "empty.pth" in capsys.readouterr().err
