"""The run pipeline: one key rule, stored outputs that re-analyse exactly, run dependencies, new objectives."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from studylib import metrics as M
from studylib.cli.main import main
from studylib.config import ConfigError
from studylib.evaluate import confusion_matrix
from studylib.objectives.base import Objective, register
from studylib.pipeline import run, run_key
from studylib.registry import Registry
from studylib.spec import RunSpec, resolve


@dataclass(frozen=True)
class SmoothConfig:
    smoothing: float = 0.1  # label-smoothing mass spread over the other classes

    unit_interval: ClassVar = {"smoothing"}


@register
class SmoothedSL(Objective):
    """A toy objective defined outside studylib: SL with label smoothing and a linear head."""

    name = "sl_smooth_test"
    Config = SmoothConfig

    def build_model(self):
        import torch

        from studylib.models.tiny import SLModel

        torch.manual_seed(self.train.seed)
        return SLModel(self.train.width, self.train.embed_dim, self.data.n_classes), None

    def loss(self, model, batch, step):
        return F.cross_entropy(
            model(batch["images"]), batch["labels"], label_smoothing=self.cfg.smoothing
        ), {}

    def features(self, model, images):
        return model.features(images)

    def classifier(self, model):
        from studylib.evaluate import Classifier

        return Classifier(*model.head.scores())


def test_a_new_objective_trains_through_the_pipeline_and_the_cli(tmp_path, tiny_params, capsys):
    r = run(RunSpec({**tiny_params, "objective": "sl_smooth_test", "smoothing": 0.2}), progress=False)
    assert r.config["objective"] == {"smoothing": 0.2} and 0 <= r.metrics["top1"] <= 1
    other = run_key(RunSpec({**tiny_params, "objective": "sl_smooth_test", "smoothing": 0.3}))
    assert other != r.key
    with pytest.raises(ConfigError, match="parameter 'smoothing' must lie in"):
        resolve("smoke", smoothing=2.0)
    args = ["train", "--preset", "smoke", "-q", "-p", "objective=sl_smooth_test", "-p", "smoothing=0.2"]
    args += [
        x
        for k, v in tiny_params.items()
        if k in ("n_classes", "n_train", "test_per_class", "batch_size", "epochs")
        for x in ("-p", f"{k}={v}")
    ]
    assert main(args) == 0
    assert f"run {r.key}" in capsys.readouterr().out  # the CLI found the same cached run


@register
class CountingSL(SmoothedSL):
    """The toy objective, logging extras of its own: the distinct labels in each batch, the steps left."""

    name = "sl_counting_test"

    def loss(self, model, batch, step):
        loss, _ = super().loss(model, batch, step)
        return loss, {"distinct_labels": len(set(batch["labels"].tolist())), "left": self.total_steps - step}


def test_an_objectives_own_extras_are_logged_by_name(tiny_params):
    r = run(RunSpec({**tiny_params, "objective": "sl_counting_test"}), progress=False)
    history = r.table("history")
    total = int(history["step"].iloc[-1])
    assert "vocab" not in history and {"distinct_labels", "left"} <= set(history.columns)
    assert (
        (history["distinct_labels"] >= 1) & (history["distinct_labels"] <= tiny_params["n_classes"])
    ).all()
    # the loop gave the objective the run's total steps: the first row averages total - s over its 25 steps
    assert history["left"].iloc[0] == sum(total - s for s in range(25)) / 25
    assert r.metrics["mean_distinct_labels"] == pytest.approx(history["distinct_labels"].mean())
    assert "mean_vocab" not in r.metrics


def test_metrics_recompute_exactly_from_the_stored_logits(tiny_params):
    for objective in ("sl", "clip"):
        r = run(RunSpec({**tiny_params, "objective": objective}), progress=False)
        for domain in r.config["world"]["test_domains"]:
            labels = r.array(f"labels_{domain}")
            if domain == r.metrics["id_domain"]:  # the shifted sets keep their confusion matrix only
                logits = r.array(f"logits_{domain}")
                assert logits.dtype == np.float16 and logits.shape == (len(labels), tiny_params["n_classes"])
                conf = confusion_matrix(labels, logits.argmax(1), logits.shape[1])
                assert np.array_equal(conf, r.array(f"confusion_{domain}"))
            else:
                assert not (r.path / f"logits_{domain}.npy").exists()
                conf = r.array(f"confusion_{domain}")
                assert conf.sum() == len(labels)
            assert M.top1(conf) == r.metrics[f"top1_{domain}"]
            table = r.per_class[r.per_class["domain"] == domain]
            assert np.array_equal(M.per_class_accuracy(conf), table["accuracy"].to_numpy(), equal_nan=True)
            assert np.array_equal(M.per_class_predictions(conf), table["predictions"].to_numpy())
        assert r.metrics["id_domain"] == "photo" and r.metrics["top1"] == r.metrics["top1_photo"]
        assert r.array("classifier_weights").shape[0] == tiny_params["n_classes"]


def test_feature_sample_covers_every_class_and_is_the_same_for_every_run(tiny_params):
    a = run(RunSpec({**tiny_params, "objective": "sl"}), progress=False)
    b = run(RunSpec({**tiny_params, "objective": "clip"}), progress=False)
    idx = a.array("feature_index_photo")
    assert np.array_equal(idx, b.array("feature_index_photo"))
    labels = a.array("labels_photo")
    assert set(labels[idx]) == set(range(tiny_params["n_classes"]))
    assert a.array("features_photo").shape == (len(idx), tiny_params["embed_dim"])


def test_results_neutral_fields_never_enter_the_key(tiny_params):
    base = RunSpec({**tiny_params, "objective": "sl"})
    assert (
        run_key(base)
        == run_key(base.replace(checkpoint_every=3))
        == run_key(base.replace(workers=7))
        == run_key(base.replace(compile=True))
    )
    assert run_key(base) != run_key(base.replace(lr=0.01))
    # an objective's fields enter only that objective's runs
    clip = RunSpec({**tiny_params, "objective": "clip"})
    assert run_key(clip) == run_key(clip.replace(vocab_k=5)) and run_key(base) != run_key(
        base.replace(vocab_k=5)
    )
    assert run_key(base) == run_key(base.replace(text_width=16))


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"arch": "RN50"}, "parameter 'arch'='RN50' is for real data"),
        ({"pretrained": "/x.pt"}, "parameter 'pretrained'='/x.pt' is for real data"),
        ({"eval_data": "val=/x"}, "parameter 'eval_data' is for real data"),
        ({"caption_variant": "tags"}, "parameter 'caption_variant' is for real data"),
        (
            {"objective": "clip", "text_init": "/x.pt"},
            r"parameter 'text_init' \(a checkpoint file\) is for open_clip",
        ),
        ({"objective": "clip", "text_tower": "frozen"}, "needs a 'text_init' run dependency"),
        (
            {"objective": "sl", "labels": "captions", "train_data": "/nope.tsv"},
            "describes the concept world|not ready",
        ),
    ],
)
def test_parameters_a_path_would_ignore_are_refused(tiny_params, extra, fragment):
    with pytest.raises(ConfigError, match=fragment):
        run(RunSpec({**tiny_params, "objective": "sl", **extra}), progress=False)


def test_classes_without_training_pairs_stay_in_the_tables_flagged(tiny_params):
    from studylib.config import world_config
    from studylib.world_store import cached_world

    labels = cached_world(world_config(tiny_params)).train.labels
    keep = np.flatnonzero(labels != 0)  # class 0 gets no training pair
    r = run(RunSpec({**tiny_params, "objective": "sl"}, train_subset=keep), progress=False)
    photo = r.per_class[r.per_class["domain"] == "photo"].set_index("class_index")
    assert len(photo) == tiny_params["n_classes"]
    assert photo.loc[0, "zero_train"] and photo.loc[0, "train_count"] == 0
    assert not photo.drop(index=0)["zero_train"].any()


def test_a_run_that_depends_on_a_run(tmp_path, tiny_params):
    reg = Registry(tmp_path)
    clip = RunSpec({**tiny_params, "objective": "clip"}, label="CLIP")
    sl = RunSpec(
        {**tiny_params, "objective": "sl", "head": "prototype"},
        label="SL, CLIP prototypes",
        deps={"prototypes": clip},
    )
    other_clip = clip.replace(seed=1)
    sl_other = RunSpec(sl.params, label=sl.label, deps={"prototypes": other_clip})
    assert run_key(sl) != run_key(sl_other)  # the dependency's key joins the dependant's
    assert run_key(sl) != run_key(RunSpec(sl.params))  # and differs from the oracle prototypes

    r = run(sl, registry=reg, progress=False)  # trains CLIP first, keeping its model
    dep = reg.load(run_key(clip, reg))
    assert dep is not None and (dep.path / "model.pt").exists()
    assert r.config["deps"] == {"prototypes": dep.key}
    # the fixed prototypes are the CLIP run's class-prompt embeddings
    assert np.allclose(r.array("classifier_weights"), dep.array("classifier_weights"), atol=1e-5)

    # a CLIP whose text tower starts from (and stays) the first CLIP's
    frozen = RunSpec(
        {**tiny_params, "objective": "clip", "text_tower": "frozen", "seed": 2},
        label="frozen",
        deps={"text_init": clip},
    )
    f = run(frozen, registry=reg, progress=False)
    assert np.allclose(f.array("classifier_weights"), dep.array("classifier_weights"), atol=1e-5)
    with pytest.raises(ConfigError, match="cannot use run dependencies"):
        run(
            RunSpec({**tiny_params, "objective": "clip"}, deps={"prototypes": clip}),
            registry=reg,
            progress=False,
        )


def test_runs_on_top_of_one_dependency_rebuild_it_once_and_leave_it_as_stored(
    tmp_path, tiny_params, monkeypatch
):
    """Every run of a process that trains on top of the same run shares one rebuilt model of it (it was
    rebuilt, world and vocabulary included, for each), which no dependant changes, and the numbers are those
    of a process that rebuilt it afresh."""
    from studylib import pipeline

    monkeypatch.setattr(pipeline, "_DEPENDENCIES", {}, raising=False)
    calls = []
    real_load = pipeline.load
    monkeypatch.setattr(
        pipeline, "load", lambda stored, reg=None: calls.append(stored.key) or real_load(stored, reg)
    )
    clip = RunSpec({**tiny_params, "objective": "clip"}, label="CLIP")
    dependants = [
        RunSpec(
            {**tiny_params, "objective": "clip", "text_tower": tower, "seed": seed}, deps={"text_init": clip}
        )
        for tower, seed in (("init", 2), ("frozen", 3), ("init", 4))
    ]
    reg = Registry(tmp_path / "shared")
    shared = [run(spec, registry=reg, progress=False) for spec in dependants]
    assert calls == [run_key(clip, reg)]  # rebuilt once for all three
    stored = torch.load(reg.load(calls[0]).path / "model.pt", weights_only=True)
    kept = pipeline._DEPENDENCIES[(str(reg.root), calls[0])].model.state_dict()
    assert all(torch.equal(kept[k].cpu(), v) for k, v in stored.items())  # the "init" runs trained copies

    monkeypatch.setattr(pipeline, "_DEPENDENCIES", {})  # a fresh process for the last dependant alone
    alone = run(dependants[-1], registry=Registry(tmp_path / "alone"), progress=False)
    assert alone.metrics["top1"] == shared[-1].metrics["top1"]
    assert np.array_equal(alone.array("logits_photo"), shared[-1].array("logits_photo"))


def test_open_world_concepts_are_trained_on_and_never_evaluated(tiny_params):
    from studylib.config import world_config
    from studylib.world import make_world

    params = {**tiny_params, "open_world": 5, "open_world_pairs": 120}
    w = make_world(world_config(params))
    n = tiny_params["n_classes"]
    assert len(w.open_concepts) == 5 and not {c.index for c in w.open_concepts} & {
        c.index for c in w.concepts
    }
    assert (w.train.labels >= n).sum() == 120 and all((s.labels < n).all() for s in w.test.values())
    for objective in ("sl", "clip"):
        r = run(RunSpec({**params, "objective": objective}), progress=False)
        assert r.array("classifier_weights").shape[0] == n and r.array("logits_photo").shape[1] == n
        photo = r.per_class[r.per_class["domain"] == "photo"]
        assert len(photo) == n and photo["train_count"].sum() == tiny_params["n_train"]
    with pytest.raises(ConfigError, match="go together"):
        resolve("smoke", open_world=3)


def test_a_pretraining_world_clip_serves_a_study_world(tmp_path, tiny_params):
    """A tiny CLIP trained on another world (other seed, more concepts) gives the study's SL its fixed
    prototypes and the study's CLIP its text tower; concepts look alike across worlds of one physics."""
    from studylib.config import world_config
    from studylib.world import _class_latents, make_world

    pre_params = {**tiny_params, "world_seed": 7, "n_classes": 30, "n_train": 900}
    study, pre = make_world(world_config(tiny_params)), make_world(world_config(pre_params))
    shared = sorted({c.index for c in study.concepts} & {c.index for c in pre.concepts})
    if shared:
        a = _class_latents(world_config(tiny_params), [c for c in study.concepts if c.index == shared[0]])[0]
        b = _class_latents(world_config(pre_params), [c for c in pre.concepts if c.index == shared[0]])[0]
        assert np.allclose(a, b)
    reg = Registry(tmp_path)
    clip = RunSpec({**pre_params, "objective": "clip"}, label="pretraining-world CLIP")
    sl = run(
        RunSpec({**tiny_params, "objective": "sl", "head": "prototype"}, deps={"prototypes": clip}),
        registry=reg,
        progress=False,
    )
    assert sl.array("classifier_weights").shape == (tiny_params["n_classes"], tiny_params["embed_dim"])
    frozen = run(
        RunSpec({**tiny_params, "objective": "clip", "text_tower": "frozen"}, deps={"text_init": clip}),
        registry=reg,
        progress=False,
    )
    assert 0 <= frozen.metrics["top1"] <= 1 and frozen.config["deps"]["text_init"] == run_key(clip, reg)


def test_an_objective_must_implement_the_protocol(tiny_params):
    from studylib.config import train_config
    from studylib.objectives.base import DataInfo

    class Half(Objective):  # no loss, features or classifier
        name = "half_test"
        Config = SmoothConfig

        def build_model(self):
            return None, None

    with pytest.raises(TypeError, match="abstract"):
        Half(SmoothConfig(), train_config(tiny_params), DataInfo("world", ["a"], np.ones(1), 16))
