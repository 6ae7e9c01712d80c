"""unique_prototypes on constructed clusters, and the `prototypes count` command on tiny DINO checkpoints."""

import argparse

import numpy as np
import pytest
import torch

from studylib.cli.main import main
from studylib.metrics import unique_prototypes


def _clusters(k, members, dim=32, spread=0.002, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.linalg.qr(rng.normal(size=(dim, k)))[0].T  # k orthonormal directions
    rows = np.repeat(centres, members, axis=0) + rng.normal(0, spread, (k * members, dim))
    return rng.permutation(rows * rng.uniform(0.5, 3, (k * members, 1)))  # norms do not matter


def test_unique_prototypes_counts_known_clusters():
    assert unique_prototypes(_clusters(7, 5)) == 7
    assert unique_prototypes(_clusters(7, 5), block=4) == 7  # block edges change nothing
    assert unique_prototypes(np.eye(10)) == 10
    assert unique_prototypes(np.ones((6, 3))) == 1  # all the same direction


def test_unique_prototypes_joins_chains_and_respects_eps():
    """a~b and b~c but not a~c: one group, because groups are connected components."""
    angle = np.deg2rad([0.0, 10.0, 20.0])  # 1 - cos(10°) = 0.0152 < 0.025
    chain = np.stack([np.cos(angle), np.sin(angle)], 1)
    assert 1 - chain[0] @ chain[2] > 0.025 and unique_prototypes(chain) == 1
    assert unique_prototypes(chain, eps=0.01) == 3
    with pytest.raises(ValueError, match="non-empty \\(n, d\\)"):
        unique_prototypes(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="eps"):
        unique_prototypes(chain, eps=0)


def _checkpoint(path, layout):
    w = torch.from_numpy(_clusters(4, 3, dim=16)).float()
    if layout == "official":
        teacher = {
            "backbone.cls_token": torch.zeros(1, 1, 16),
            "head.last_layer.weight_g": torch.ones(12, 1),
            "head.last_layer.weight_v": w,
        }
        student = {f"module.{k}": v for k, v in teacher.items()}
    else:  # weight norm as a parametrization
        teacher = {
            "head.last_layer.parametrizations.weight.original0": torch.ones(12, 1),
            "head.last_layer.parametrizations.weight.original1": w,
        }
        student = {f"module.{k}": v for k, v in teacher.items()}
    torch.save(
        {"student": student, "teacher": teacher, "epoch": 3, "args": argparse.Namespace(arch="vit_small")},
        path,
    )
    return path


@pytest.mark.parametrize("layout", ["official", "parametrizations"])
@pytest.mark.parametrize("key", ["teacher", "student"])
def test_prototypes_count_reads_both_key_layouts(tmp_path, capsys, layout, key):
    ckpt = _checkpoint(tmp_path / "dino.pth", layout)
    assert main(["prototypes", "count", str(ckpt), "--key", key]) == 0
    out = capsys.readouterr().out
    assert "prototypes: 12, dimension: 16, unique at eps=0.025: 4" in out


def test_prototypes_count_names_what_it_found(tmp_path, capsys):
    path = tmp_path / "no_protos.pth"
    torch.save(
        {"teacher": {"backbone.weight": torch.zeros(3, 3), "head.mlp.0.weight": torch.zeros(3, 3)}}, path
    )
    assert main(["prototypes", "count", str(path)]) == 2
    err = capsys.readouterr().err
    assert "no prototypes in 'teacher'" in err and "head.mlp.0.weight" in err
    assert main(["prototypes", "count", str(path), "--key", "student"]) == 2
    assert "no state dict 'student'" in capsys.readouterr().err
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    assert main(["prototypes", "count", str(tmp_path / "junk.pth")]) == 2
    assert "cannot be read as a weights-only checkpoint" in capsys.readouterr().err
    assert main(["prototypes", "count", str(tmp_path / "missing.pth")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, capsys):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "evil.pth"
    torch.save({"teacher": {}, "x": Payload()}, path)
    assert main(["prototypes", "count", str(path)]) == 2
    captured = capsys.readouterr()
    assert "this must never run" not in captured.out and "weights-only" in captured.err
