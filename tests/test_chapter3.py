"""Chapter 3: the tail trim, C8 against chance (never a baseline that cannot lose), the heads' collapse in
absolute cosines and effective rank, C9's and C10's manipulation checks, the probe objective, the figures."""

import inspect

import numpy as np
import pandas as pd
import pytest
import torch

from studylib.chapters import CONTRACT, ch03a, ch03b
from studylib.config import ConfigError
from studylib.evaluate import class_means
from studylib.pipeline import run
from studylib.spec import RunSpec


class FakeRun:
    """What a claim reads from a run: per-class accuracy on the in-distribution test set, top-1, metrics."""

    def __init__(self, accuracy, train_count=None, metrics=None, domain="photo", arrays=None):
        acc = np.asarray(accuracy, dtype=float)
        n = len(acc)
        self.per_class = pd.DataFrame(
            {
                "domain": domain,
                "class_index": np.arange(n),
                "class_name": "c",
                "train_count": np.arange(n) + 1 if train_count is None else train_count,
                "accuracy": acc,
                "predictions": acc * 10,
            }
        )
        self.metrics = {
            "id_domain": domain,
            "top1": float(acc.mean()),
            f"top1_{domain}": float(acc.mean()),
            **(metrics or {}),
        }
        self.arrays, self.key = arrays or {}, "fake"

    def array(self, name):
        return self.arrays[name]


@pytest.mark.parametrize("module", [ch03a, ch03b])
def test_chapter3_modules_keep_the_contract(module):
    assert all(hasattr(module, attr) for attr in CONTRACT) and not hasattr(module, "summary")
    assert list(inspect.signature(module.specs).parameters)[:2] == ["session", "seed"]
    assert list(inspect.signature(module.claims).parameters) == ["session", "runs_by_seed"]
    assert isinstance(module.full_adds("quick"), str) and isinstance(module.AFTER, tuple)
    assert ch03a.AFTER == ("02c_data_distribution",) and ch03b.AFTER == ()
    assert set(ch03a.SIZES) == {"smoke", "quick", "full"}


def _tail_world(accuracies: dict, n: int = 40, tail=None):
    """runs_by_seed {0: label -> FakeRun} at smoke's trims (one- and zero-shot 0.25): each model's per-class
    accuracy, the ``tail`` classes last; every model learned on the others (top-1 well above 1.5× chance)."""
    tail = np.arange(30, 40) if tail is None else tail
    runs = {}
    for model in ch03a.MODELS:
        acc = np.full(n, 0.6)
        acc[tail] = accuracies.get(model, 0.0)
        runs.update({ch03a.label(model, mode, 0.25): FakeRun(acc) for mode in ch03a.SHOTS})
    return {0: runs}, tail


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
    assert np.array_equal(keep, ch03a.trimmed_keep(labels, np.array([1, 3]), shots, seed=4))  # seeded
    with pytest.raises(ValueError, match="class 3 has 2 training pairs"):
        ch03a.trimmed_keep(labels, np.array([3]), 3)


def test_c8_refuses_a_baseline_that_is_zero_by_construction():
    rng = np.random.default_rng(0)
    by_seed, tail = _tail_world(
        {
            ch03a.PROTOS_VOCAB: rng.uniform(0.1, 0.5, 10),
            ch03a.PROTOS: 0.0,
            ch03a.LINEAR: 0.0,
            ch03a.ORACLE_VOCAB: rng.uniform(0.3, 0.8, 10),
            ch03a.CLIP_FROZEN: rng.uniform(0.2, 0.6, 10),
        }
    )
    runs = by_seed[0]
    with pytest.raises(ValueError, match="cannot lose"):  # a linear head on classes it never saw
        ch03a.tail_difference(
            runs,
            ch03a.label(ch03a.PROTOS_VOCAB, "zero-shot", 0.25),
            ch03a.label(ch03a.LINEAR, "zero-shot", 0.25),
            tail,
        )
    part = ch03a.prototypes_alone(by_seed, "zero-shot", 0.25, tail)
    assert part.verdict == "untestable" and "the baseline could lose" in str(part.failed[0])
    rows = ch03a.c8_rows(by_seed, {0.25: tail}, "smoke")
    # the prototypes alone miss the tail (reproduced), but their gain from subsampling cannot be judged against a
    # baseline that is 0 on every trimmed class (untestable): the row is mixed
    assert [r["verdict"] for r in rows] == ["reproduced", "reproduced", "mixed"]


def test_a_tail_accuracy_below_chance_does_not_reach_the_tail():
    below = np.r_[np.full(7, 0.0), np.full(3, 0.05)]  # mean 0.015 < chance 1/40 = 0.025
    by_seed, tail = _tail_world({ch03a.CLIP_FROZEN: below, ch03a.ORACLE_VOCAB: 0.0})
    part = ch03a.reaches_tail(by_seed, ch03a.CLIP_FROZEN, "zero-shot", 0.25, tail)
    assert part.estimate > 0 and part.verdict != "reproduced" and "above 0.025" in part.rule
    # CLIP with the prototypes frozen does not reach this tail: SL with those prototypes cannot be judged on it
    sl = ch03a.reaches_tail(
        by_seed,
        ch03a.PROTOS_VOCAB,
        "zero-shot",
        0.25,
        tail,
        checks=(ch03a.reachable_check(by_seed, "zero-shot", 0.25, tail),),
    )
    assert sl.verdict == "untestable" and "CLIP prototypes can be reached" in str(sl.failed[0])


def test_effective_rank_counts_the_directions_rows_span():
    assert ch03a.effective_rank(np.eye(6, 16)) == pytest.approx(6)
    assert ch03a.effective_rank(np.tile(np.arange(1.0, 17), (6, 1))) == pytest.approx(1)
    assert ch03a.spectral_rank([1, 1, 0]) == pytest.approx(2)


def _head(rng, n: int, d: int, cosine: float):
    """n unit rows whose pairwise cosines are about ``cosine`` (a shared direction plus independent noise)."""
    common, noise = rng.standard_normal(d), rng.standard_normal((n, d))
    common, noise = common / np.linalg.norm(common), noise / np.linalg.norm(noise, axis=1, keepdims=True)
    return np.sqrt(cosine) * common + np.sqrt(1 - cosine) * noise


def test_collapse_uses_absolute_cosines_so_uniformly_close_fixed_prototypes_are_not_healthy():
    rng = np.random.default_rng(0)
    tail = np.arange(20, 40)
    sl, clip = rng.standard_normal((40, 64)), _head(rng, 40, 64, 0.89)  # CLIP's rows all at cosine ~0.89
    sl[tail] = _head(rng, 20, 64, 0.4)  # SL's tail rows at ~0.4
    cos, rank = ch03a.collapse_parts({0: {ch03a.LINEAR: sl, ch03a.CLIP_FROZEN: clip}}, tail)
    assert cos.verdict == "opposite" and rank.verdict == "opposite"  # CLIP's head is the collapsed one
    assert rank.lo <= rank.estimate <= rank.hi and cos.lo <= cos.estimate <= cos.hi
    assert "0.89" in cos.basis or "0.88" in cos.basis or "0.90" in cos.basis
    spread = rng.standard_normal((40, 64))  # a healthy fixed head
    cos, rank = ch03a.collapse_parts({0: {ch03a.LINEAR: sl, ch03a.CLIP_FROZEN: spread}}, tail)
    assert cos.verdict == "reproduced" and rank.verdict == "reproduced"
    assert ch03a.tail_cosine(clip, tail).mean() > 0.8  # absolute, not minus the mean
    m = ch03a.head_geometry({"clip": ch03a.affinity(clip), "spread": ch03a.affinity(spread)}, 20)
    m = m.set_index("model")
    rank = m["effective rank of the 20 tail rows"]
    assert m.loc["clip", "tail-tail"] > 0.8 and rank["clip"] < rank["spread"] - 5
    assert rank["clip"] == pytest.approx(ch03a.effective_rank(clip[20:]))


def test_affinity_reorders_rows():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((12, 16))
    w[8:] = w[8] + 0.01 * rng.standard_normal((4, 16))
    a = ch03a.affinity(w, np.r_[np.arange(8, 12), np.arange(8)])
    assert np.allclose(np.diag(a), 1) and a[0, 1] > 0.99  # reordered: tail first


def _dino_table(shares, drift=0.1, usage=300.0, merge=0.05):
    names = [ch03b.pretrain_label(d, sub) for d in ch03b.PRETRAIN for sub in (False, True)]
    return pd.DataFrame(
        [
            {
                "seed": k,
                "pretrained": n,
                "unique": int(v * 100),
                "prototypes": 100,
                "share": v,
                "drift": drift,
                "usage": usage,
                "merge": merge,
            }
            for k, row in enumerate(shares)
            for n, v in zip(names, row)
        ]
    )


def test_c10_is_judged_on_observed_shares_once_the_prototypes_moved():
    # order per seed: balanced, balanced (subsampled), web, web (subsampled)
    shares = [[0.3, 0.3, 0.1, 0.2], [0.35, 0.32, 0.15, 0.22], [0.31, 0.3, 0.12, 0.21]]
    rows = ch03b.c10_rows(_dino_table(shares))
    assert [r["verdict"] for r in rows] == ["reproduced", "reproduced"]
    assert "observed range 0.100 … 0.350" in rows[0]["result"] and "CI" not in rows[0]["result"]
    one_seed = ch03b.c10_rows(_dino_table([[1.0, 1.0, 1.0, 1.0]]))
    assert [r["verdict"] for r in one_seed] == ["opposite", "untestable"]  # one seed: no interval
    assert "nan" not in one_seed[1]["result"].lower() and "no interval" in one_seed[1]["result"]


def test_c10_is_untestable_while_the_prototypes_sit_at_their_initialisation():
    still = _dino_table([[1.0, 1.0, 1.0, 1.0]], drift=0.004)  # below eps = 0.025
    rows = ch03b.c10_rows(still)
    assert {r["verdict"] for r in rows} == {"untestable"}
    assert "prototypes moved from their initialisation" in rows[0]["result"]
    assert "drift 0.0040" in rows[0]["result"]
    assert ch03b.EPS == 0.025
    one_still = _dino_table([[0.3, 0.3, 0.1, 0.2]], drift=0.1)
    one_still.loc[2, "drift"] = 0.01  # one run never moved
    assert ch03b.c10_rows(one_still)[0]["verdict"] == "untestable"


def test_c10_is_untestable_while_the_prototypes_could_not_have_merged():
    """Prototypes that moved past ε but by far less than half the distance to their nearest neighbour stay
    unique whatever DINO does: the count of unique ones measures their spread at initialisation."""
    far = _dino_table([[1.0, 1.0, 1.0, 1.0]] * 3, drift=0.04, merge=0.2)
    rows = ch03b.c10_rows(far)
    assert {r["verdict"] for r in rows} == {"untestable"}
    assert "could have merged" in rows[0]["result"] and "0.2000" in rows[0]["result"]
    near = _dino_table([[0.3, 0.3, 0.1, 0.2]] * 3, drift=0.3, merge=0.2)
    assert ch03b.c10_rows(near)[0]["verdict"] == "reproduced"


def test_a_check_over_many_runs_names_the_failing_ones_briefly():
    table = _dino_table([[0.3, 0.3, 0.1, 0.2]] * 10, drift=0.1)
    table.loc[[3, 17, 25, 30, 31, 38], "drift"] = 0.01  # six of forty runs never moved
    detail = ch03b.moved(table).detail
    assert detail.startswith("6 of 40 runs fail: ") and detail.endswith("; and 2 more")
    assert detail.count("drift 0.0100") == 4 and "drift 0.1000" not in detail
    assert ch03b.moved(_dino_table([[0.3, 0.3, 0.1, 0.2]] * 10)).detail.endswith("; and 36 more")


def test_the_merge_distance_is_half_the_median_nearest_neighbour_distance():
    w = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])  # nearest: 0.2, 0.2, 0.4, 1.0
    assert ch03b.merge_distance(w) == pytest.approx(0.15)


def _probe_runs(top: dict):
    """runs_by_seed {0: ...}: each probe at the given per-class accuracy on every task's 50 classes."""
    runs = {}
    for name in ch03b.pretrained_labels():
        for world in ch03b.DOWNSTREAM:
            acc = np.full(50, top[name])
            run = FakeRun(acc, metrics={"top1_sketch": float(acc.mean())})
            sketch = run.per_class.assign(domain="sketch")
            run.per_class = pd.concat([run.per_class, sketch], ignore_index=True)
            runs[ch03b.probe_label(name, world)] = run
    return {0: runs}


def test_c9_needs_probes_that_learned():
    at_chance = _probe_runs({n: 0.02 for n in ch03b.pretrained_labels()})  # chance 1/50
    rows = ch03b.c9_rows(at_chance)
    assert {r["verdict"] for r in rows} == {"untestable"} and "probe learned" in rows[0]["result"]
    learned = _probe_runs(dict(zip(ch03b.pretrained_labels(), (0.3, 0.3, 0.2, 0.28))))
    assert ch03b.c9_rows(learned)[0]["parts"][0].failed == []


def test_class_means_is_a_nearest_class_mean_probe():
    feats = torch.tensor([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    batches = [
        {"images": feats[:2], "labels": torch.tensor([0, 0])},
        None,
        {"images": feats[2:], "labels": torch.tensor([1, 7])},
    ]  # label 7: outside, dropped
    means = class_means(lambda x: x, batches, 3, 2)
    assert torch.allclose(means, torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))


def test_the_probe_trains_nothing_and_classifies_with_the_backbone_class_means(tiny_params):
    dino = RunSpec({**tiny_params, "objective": "dino", "dino_prototypes": 32}, label="dino")
    probe = RunSpec(
        {**tiny_params, "objective": "probe", "subset": "subtree:dogs", "world_seed": 5},
        label="probe",
        deps={"backbone": dino},
    )
    r = run(probe, progress=False)
    assert r.metrics["steps"] == 0 and r.metrics["train_seconds"] < 1
    w = r.array("classifier_weights")
    assert w.shape == (tiny_params["n_classes"], tiny_params["embed_dim"])
    assert np.allclose(np.linalg.norm(w, axis=1), 1, atol=1e-5)
    assert run(probe, progress=False).key == r.key  # cached
    with pytest.raises(ConfigError, match="needs a 'backbone'"):
        run(RunSpec({**tiny_params, "objective": "probe"}), progress=False)
    with pytest.raises(ConfigError, match="image_size"):
        run(
            RunSpec({**tiny_params, "objective": "probe", "image_size": 24}, deps={"backbone": dino}),
            progress=False,
        )


def test_chapter3_figures_build():
    import matplotlib.pyplot as plt

    from studylib import plots

    means = pd.DataFrame(
        {
            "share": [0.3] * 4,
            "mode": ["one-shot", "one-shot", "zero-shot", "zero-shot"],
            "model": ["a", "b", "a", "b"],
            "tail": [0.0, 0.1, 0.0, 0.2],
            "others": [0.3] * 4,
        }
    )
    rows = pd.DataFrame(
        {
            "model": ["a"] * 4 + ["b"] * 4,
            "tail": [True, True, False, False] * 2,
            "accuracy": np.linspace(0, 1, 8),
            "predictions": np.arange(8),
        }
    )
    transfer = pd.DataFrame(
        {"pretrained": ["x", "x", "y", "y"], "task": ["coarse", "fine"] * 2, "top1": [0.1, 0.2, 0.3, 0.4]}
    )
    for fig in (
        plots.tail_accuracy(means),
        plots.affinity_matrices({"a": np.eye(5), "b": np.ones((5, 5))}, 2),
        plots.head_tail_distributions(rows),
        plots.transfer_bars(transfer),
        plots.unique_through_training(
            pd.DataFrame(
                {
                    "pretrained": ["x"] * 4 + ["y"] * 4,
                    "seed": [0, 0, 1, 1] * 2,
                    "step": [5, 10] * 4,
                    "share": 0.9,
                }
            )
        ),
    ):
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
    probe = s.spec(
        "probe", objective="probe", subset="subtree:dogs", n_classes=12, n_train=480, deps={"backbone": dino}
    )
    runs = s.run_all({"dino": dino, "probe": probe})
    assert len(calls) == 1 and (runs["dino"].path / "model.pt").exists()


def test_table1_and_the_cli_count_the_same_prototypes_of_a_chapter_run(tiny_params, tmp_path, monkeypatch):
    """The chapter's Table 1 counts a stored DINO run's prototypes; ``studylib prototypes count`` on the run's
    checkpoint exported in DINO's format prints the same number; the trajectory ends at the final count."""
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    dino = {**tiny_params, "objective": "dino", "dino_prototypes": 48, "dino_bottleneck": 8}
    runs = {
        ch03b.pretrain_label(data, sub): run(
            RunSpec({**dino, **world, "dino_proto_k": 8 if sub else 0}), progress=False, keep_model=True
        )
        for data, world in ch03b.PRETRAIN.items()
        for sub in (False, True)
    }
    t1 = ch03b.table1(runs)
    assert list(t1["#prototypes"]) == [48] * 4 and t1["share unique"].between(0, 1).all()
    ckpt = ch03b.export_checkpoint(runs[ch03b.BAL], tmp_path / "ckpt.pth")
    out = ch03b.cli_count(ckpt)
    assert f"unique at eps=0.025: {t1['#unique'].iloc[0]} " in out and "prototypes: 48, dimension: 8" in out
    traj = ch03b.trajectory({0: runs})
    last = traj.groupby("pretrained").tail(1).set_index("pretrained")["unique"]
    assert (last == t1.set_index(t1.index.map(lambda i: ch03b.pretrained_labels()[i]))["#unique"]).all()


def test_full_on_pixels_is_the_papers_dino_scale():
    from studylib.session import Session

    s = Session(
        ch03b.NAME, "full", sizes=ch03b.sizes_for("pixels"), overrides={"render": "pixels"}, progress=False
    )
    spec = ch03b.pretrain_specs(s, 0)[ch03b.pretrain_label("long-tailed, web", True)]
    p = spec.params
    assert (p["dino_prototypes"], p["dino_bottleneck"], p["epochs"]) == (65536, 256, 100)
    assert p["render"] == "pixels" and p["dino_proto_k"] == 4096
    quick = Session(ch03b.NAME, "quick", sizes=ch03b.sizes_for(""), progress=False)
    assert quick.params["render"] == "features" and ch03b.proto_k(quick) == 256


def test_transfer_by_seed_keeps_every_seeds_rows():
    runs = _probe_runs(dict(zip(ch03b.pretrained_labels(), (0.3, 0.3, 0.2, 0.28))))[0]
    table = ch03b.transfer_by_seed({0: runs, 1: runs})
    assert len(table) == 2 * len(ch03b.transfer(runs)) and sorted(set(table["seed"])) == [0, 1]
    assert (table["× chance"] == table["top1"] / table["chance"]).all()
