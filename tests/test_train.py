import pytest
import torch

from studylib.experiment import run_experiment
from studylib.registry import Registry
from studylib.train import TrainData, TrainingDiverged, build_model, train
from studylib.config import train_config


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("objective, extra", [("sl", {"vocab_k": 5}), ("clip", {})])
def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, tiny_params, objective, extra):
    params = {**tiny_params, "objective": objective, "checkpoint_every": 7, **extra}
    whole = run_experiment(params, chapter="t", label="whole", registry=Registry(tmp_path / "a"), progress=False)

    reg = Registry(tmp_path / "b")

    def stop(step):
        if step == 17:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_experiment(params, chapter="t", label="resumed", registry=reg, progress=False, on_step=stop)
    key = reg.key(whole.config)
    assert (reg.path(key) / "checkpoint.pt").exists() and reg.load(key) is None
    assert torch.load(reg.path(key) / "checkpoint.pt", weights_only=False)["step"] == 14
    seen = []
    resumed = run_experiment(params, chapter="t", label="resumed", registry=reg, progress=False, on_step=seen.append)
    assert seen[0] == 15                                   # continued after the last checkpoint
    assert not (reg.path(key) / "checkpoint.pt").exists()   # removed once complete
    for k, v in whole.metrics.items():
        if k != "train_seconds":
            assert resumed.metrics[k] == v, k
    assert whole.per_class.equals(resumed.per_class)
    assert whole.table("history").equals(resumed.table("history"))


def test_nan_loss_stops_with_step_and_run_name(tiny_params):
    cfg = train_config(tiny_params, objective="sl")
    n = 64
    images = torch.zeros(n, 3, 16, 16, dtype=torch.uint8)
    model = build_model(cfg, 3)
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    data = TrainData(images, torch.zeros(n, dtype=torch.long), None, torch.tensor([n, 0, 0]))
    with pytest.raises(TrainingDiverged, match=r"run my-run: the loss became NaN or infinite at step 1 \(epoch 0\)"):
        train(model, data, cfg, name="my-run", progress=False)


def test_cached_run_is_not_retrained(tmp_path, tiny_params):
    reg = Registry(tmp_path)
    params = {**tiny_params, "objective": "sl"}
    first = run_experiment(params, chapter="t", label="x", registry=reg, progress=False)
    steps = []
    second = run_experiment(params, chapter="t", label="x", registry=reg, progress=False, on_step=steps.append)
    assert steps == [] and second.metrics == first.metrics


def test_same_seed_same_numbers_different_seed_different(tmp_path, tiny_params):
    params = {**tiny_params, "objective": "sl"}
    a = run_experiment(params, chapter="t", label="x", registry=Registry(tmp_path / "a"), progress=False)
    b = run_experiment(params, chapter="t", label="x", registry=Registry(tmp_path / "b"), progress=False)
    c = run_experiment({**params, "seed": 1}, chapter="t", label="x", registry=Registry(tmp_path / "c"),
                       progress=False)
    assert a.table("history")["loss"].tolist() == b.table("history")["loss"].tolist()
    assert a.table("history")["loss"].tolist() != c.table("history")["loss"].tolist()


def test_kept_model_reloads_with_the_same_predictions(tmp_path, tiny_params):
    from studylib.evaluate import predict
    from studylib.experiment import load_model
    from studylib.world import cached_world
    from studylib.config import world_config

    reg = Registry(tmp_path)
    params = {**tiny_params, "objective": "sl", "checkpoint_every": 0}
    run = run_experiment(params, chapter="t", label="x", registry=reg, progress=False, keep_checkpoint=True)
    model = load_model(run)
    split = cached_world(world_config(params)).test["photo"]
    from studylib.evaluate import confusion_matrix

    conf = confusion_matrix(split.labels, predict(model, split.images), tiny_params["n_classes"])
    assert (conf == run.array("confusion_photo")).all()
