"""Chapter 3: the tail trim, head cohesion, C10's rule, the probe objective and chapter 3's figures."""
import numpy as np
import pandas as pd
import pytest
import torch

from studylib.chapters import ch03a, ch03b
from studylib.config import ConfigError
from studylib.evaluate import class_means
from studylib.inference import WORDS
from studylib.pipeline import run
from studylib.spec import RunSpec


def test_tail_classes_are_the_rarest_with_index_tiebreak():
    counts = np.array([5, 1, 9, 1, 2, 7])
    assert ch03a.tail_classes(counts, 0.5).tolist() == [1, 3, 4]
    with pytest.raises(ValueError, match="trims 0 of 6"):
        ch03a.tail_classes(counts, 0.01)


@pytest.mark.parametrize("shots", [0, 1, 2])
def test_trimmed_keep_keeps_the_others_and_exactly_shots_per_tail_class(shots):
    labels = np.array([0, 1, 1, 2, 2, 2, 0, 1, 3, 3])
    keep = ch03a.trimmed_keep(labels, np.array([1, 3]), shots, seed=4)
    kept = labels[keep]
    assert (np.bincount(kept, minlength=4)[[0, 2]] == [2, 3]).all()
    assert (np.bincount(kept, minlength=4)[[1, 3]] == shots).all()
    assert np.array_equal(keep, ch03a.trimmed_keep(labels, np.array([1, 3]), shots, seed=4))   # seeded
    with pytest.raises(ValueError, match="class 3 has 2 training pairs"):
        ch03a.trimmed_keep(labels, np.array([3]), 3)


def test_tail_cohesion_sees_collapsed_tail_rows():
    rng = np.random.default_rng(0)
    spread = rng.standard_normal((12, 16))
    collapsed = spread.copy()
    collapsed[8:] = rng.standard_normal(16) + 0.01 * rng.standard_normal((4, 16))   # four near-identical rows
    tail = np.arange(8, 12)
    assert (ch03a.tail_cohesion(collapsed, tail) > 0.8).all()
    assert abs(ch03a.tail_cohesion(spread, tail).mean()) < 0.3
    a = ch03a.affinity(collapsed, np.r_[tail, np.arange(8)])
    assert np.allclose(np.diag(a), 1) and a[0, 1] > 0.99                                # reordered: tail first


def _shares(shares):
    names = [ch03b.pretrain_label(d, s) for s in (False, True) for d in ch03b.PRETRAIN]
    return pd.DataFrame([{"seed": k, "pretrained": n, "unique": 0, "prototypes": 100, "share": v}
                         for k, row in enumerate(shares) for n, v in zip(names, row)])


def test_c10_rules():
    # order per seed: balanced, web (no subsampling), balanced, web (subsampled)
    fewer = ch03b.c10(_shares([[0.3, 0.1, 0.3, 0.2], [0.35, 0.15, 0.32, 0.22], [0.31, 0.12, 0.3, 0.21]]))
    assert fewer["verdict"].tolist() == [WORDS["reproduced"]] * 3
    all_unique = ch03b.c10(_shares([[1.0, 1.0, 1.0, 1.0]]))
    assert all_unique["verdict"].iloc[0] == WORDS["opposite"]
    assert all_unique["verdict"].iloc[1] == WORDS["inconclusive"]                       # one seed: no interval


def test_class_means_is_a_nearest_class_mean_probe():
    feats = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    batches = [{"images": feats[:2], "labels": torch.tensor([0, 0])},
               None, {"images": feats[2:], "labels": torch.tensor([1, 7])}]        # label 7: outside, dropped
    means = class_means(lambda x: x, batches, 3, 2)
    assert torch.allclose(means, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))


def test_the_probe_trains_nothing_and_classifies_with_the_backbone_class_means(tiny_params):
    dino = RunSpec({**tiny_params, "objective": "dino", "dino_prototypes": 32}, label="dino")
    probe = RunSpec({**tiny_params, "objective": "probe", "subset": "subtree:dogs", "world_seed": 5},
                    label="probe", deps={"backbone": dino})
    r = run(probe, progress=False)
    assert r.metrics["steps"] == 0 and r.metrics["train_seconds"] < 1
    w = r.array("classifier_weights")
    assert w.shape == (tiny_params["n_classes"], tiny_params["embed_dim"])
    assert np.allclose(np.linalg.norm(w, axis=1), 1, atol=1e-5)
    assert run(probe, progress=False).key == r.key                                      # cached
    with pytest.raises(ConfigError, match="needs a 'backbone'"):
        run(RunSpec({**tiny_params, "objective": "probe"}), progress=False)
    with pytest.raises(ConfigError, match="image_size"):
        run(RunSpec({**tiny_params, "objective": "probe", "image_size": 24}, deps={"backbone": dino}), progress=False)


def test_chapter3_figures_build():
    import matplotlib.pyplot as plt

    from studylib import plots

    means = pd.DataFrame({"share": [0.3] * 4, "mode": ["one-shot", "one-shot", "zero-shot", "zero-shot"],
                          "model": ["a", "b", "a", "b"], "tail": [0.0, 0.1, 0.0, 0.2], "others": [0.3] * 4})
    rows = pd.DataFrame({"model": ["a"] * 4 + ["b"] * 4, "tail": [True, True, False, False] * 2,
                         "accuracy": np.linspace(0, 1, 8), "predictions": np.arange(8)})
    transfer = pd.DataFrame({"pretrained": ["x", "x", "y", "y"], "task": ["coarse", "fine"] * 2,
                             "top1": [0.1, 0.2, 0.3, 0.4]})
    for fig in (plots.tail_accuracy(means), plots.affinity_matrices({"a": np.eye(5), "b": np.ones((5, 5))}, 2),
                plots.head_tail_distributions(rows), plots.transfer_bars(transfer)):
        assert fig.axes
        plt.close(fig)


def test_run_all_trains_a_dependency_listed_beside_its_dependant_once(tiny_params, monkeypatch):
    from studylib import pipeline
    from studylib.session import Session

    calls = []
    real = pipeline.train
    monkeypatch.setattr(pipeline, "train", lambda *a, **k: calls.append(k.get("name")) or real(*a, **k))
    s = Session("t", "smoke", progress=False)
    dino = s.spec("dino", objective="dino", dino_prototypes=32, n_classes=12, n_train=480, epochs=1)
    probe = s.spec("probe", objective="probe", subset="subtree:dogs", n_classes=12, n_train=480,
                   deps={"backbone": dino})
    runs = s.run_all({"dino": dino, "probe": probe})
    assert len(calls) == 1 and (runs["dino"].path / "model.pt").exists()
