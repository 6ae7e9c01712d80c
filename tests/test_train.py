import numpy as np
import pytest
import torch

from studylib.config import train_config
from studylib.data.sources import InMemorySource, TrainData
from studylib.objectives.base import DataInfo
from studylib.objectives.sl import SL, SLConfig
from studylib.pipeline import load, run
from studylib.registry import Registry
from studylib.spec import RunSpec
from studylib.train import TrainingDiverged, train


class Interrupt(Exception):
    pass


DINO = {"dino_prototypes": 64, "dino_proto_k": 16, "dino_hidden": 32, "dino_bottleneck": 16}


@pytest.mark.parametrize("objective, extra", [("sl", {"vocab_k": 5}), ("clip", {}), ("dino", DINO)])
def test_interrupted_and_resumed_run_matches_uninterrupted(tmp_path, tiny_params, objective, extra):
    spec = RunSpec({**tiny_params, "objective": objective, "checkpoint_every": 7, **extra}, label="x")
    whole = run(spec, registry=Registry(tmp_path / "a"), progress=False)

    reg = Registry(tmp_path / "b")

    def stop(step):
        if step == 17:
            raise Interrupt

    with pytest.raises(Interrupt):
        run(spec, registry=reg, progress=False, on_step=stop)
    key = reg.key(whole.config)
    assert (reg.path(key) / "checkpoint.pt").exists() and reg.load(key) is None
    assert torch.load(reg.path(key) / "checkpoint.pt", weights_only=True)["step"] == 14
    seen = []
    resumed = run(spec, registry=reg, progress=False, on_step=seen.append)
    assert seen[0] == 15  # continued after the last checkpoint
    assert not (reg.path(key) / "checkpoint.pt").exists()  # removed once complete
    for k, v in whole.metrics.items():
        if k != "train_seconds":
            assert resumed.metrics[k] == v, k
    assert whole.per_class.equals(resumed.per_class)
    assert whole.table("history").equals(resumed.table("history"))


def test_nan_loss_stops_with_step_and_run_name(tiny_params):
    cfg = train_config(tiny_params, objective="sl")
    n = 64
    info = DataInfo("world", ["a", "b", "c"], torch.tensor([n, 0, 0]).numpy(), 16)
    objective = SL(SLConfig(), cfg, info)
    model, _ = objective.build_model()
    with torch.no_grad():
        model.head.bias.fill_(float("nan"))
    data = TrainData(
        torch.zeros(n, 3, 16, 16, dtype=torch.uint8),
        torch.zeros(n, dtype=torch.long),
        None,
        torch.tensor([n, 0, 0]),
    )
    with pytest.raises(
        TrainingDiverged, match=r"run my-run: the loss became NaN or infinite at step 1 \(epoch 0\)"
    ):
        train(
            model,
            objective,
            InMemorySource(data, cfg.batch_size, cfg.seed),
            cfg,
            name="my-run",
            progress=False,
        )


def test_cached_run_is_not_retrained(tmp_path, tiny_params):
    reg = Registry(tmp_path)
    spec = RunSpec({**tiny_params, "objective": "sl"})
    first = run(spec, registry=reg, progress=False)
    steps = []
    second = run(spec, registry=reg, progress=False, on_step=steps.append)
    assert steps == [] and second.metrics == first.metrics


def test_same_seed_same_numbers_different_seed_different(tmp_path, tiny_params):
    params = {**tiny_params, "objective": "sl"}
    a = run(RunSpec(params), registry=Registry(tmp_path / "a"), progress=False)
    b = run(RunSpec(params), registry=Registry(tmp_path / "b"), progress=False)
    c = run(RunSpec({**params, "seed": 1}), registry=Registry(tmp_path / "c"), progress=False)
    assert a.table("history")["loss"].tolist() == b.table("history")["loss"].tolist()
    assert a.table("history")["loss"].tolist() != c.table("history")["loss"].tolist()


@pytest.mark.parametrize("objective", ["sl", "clip", "dino"])
def test_kept_model_reloads_with_the_same_logits(tmp_path, tiny_params, objective):
    from studylib.config import world_config
    from studylib.evaluate import compact_logits, forward, uint8_batches
    from studylib.world_store import cached_world

    reg = Registry(tmp_path)
    extra = DINO if objective == "dino" else {}
    r = run(
        RunSpec({**tiny_params, "objective": objective, "checkpoint_every": 0, **extra}),
        registry=reg,
        progress=False,
        keep_model=True,
    )
    loaded = load(r)
    split = cached_world(world_config(tiny_params)).test["photo"]
    out = forward(
        loaded.model,
        loaded.objective.features,
        loaded.objective.classifier(loaded.model),
        uint8_batches(split.images, split.labels, "cpu"),
    )
    assert (compact_logits(out.logits).argmax(1) == r.array("logits_photo").argmax(1)).all()
    assert (out.labels == r.array("labels_photo")).all()


@pytest.mark.parametrize("feature_dim", [0, 96])
def test_logits_do_not_depend_on_the_evaluation_batch_size(feature_dim):
    """Evaluation batches test images by EVAL_BATCH for speed only: the CNN (pixels) and the MLP (features) give
    bitwise the same class scores one image at a time in batches of 1024, 256 or 37."""
    import torch

    from studylib.evaluate import Classifier, uint8_batches
    from studylib.models.tiny import image_tower

    torch.manual_seed(0)
    tower = image_tower(16, 32, feature_dim).eval()
    clf = Classifier(torch.randn(50, 32), torch.randn(50), scale=7.0, normalize=True)
    shape = (700, feature_dim) if feature_dim else (700, 3, 16, 16)
    images = torch.randint(0, 256, shape, dtype=torch.uint8)
    labels = np.zeros(len(images), dtype=np.int64)
    with torch.no_grad():
        scores = {
            b: torch.cat([clf(tower(x)) for x, _ in uint8_batches(images, labels, "cpu", batch_size=b)])
            for b in (1024, 256, 37)
        }
    assert torch.equal(scores[1024], scores[256]) and torch.equal(scores[1024], scores[37])


def test_forward_compacts_each_batch_exactly_as_the_whole_split():
    """forward() compacts logits batch by batch in torch: the same fp16 bits as numpy's compact_logits of the
    whole float32 split, and predictions equal to numpy's argmax of them (first index on ties)."""
    import torch

    from studylib.evaluate import Classifier, compact_logits, forward, uint8_batches

    torch.manual_seed(0)
    tower = torch.nn.Linear(24, 16)
    clf = Classifier(torch.randn(40, 16) * 30, torch.randn(40), scale=3.0)
    images = torch.randint(0, 256, (1000, 24), dtype=torch.uint8)
    labels = np.arange(1000) % 40
    clf.weights[7] = clf.weights[3]  # two classes score alike: ties at the top
    clf.bias[7] = clf.bias[3]
    out = forward(tower, lambda m, x: m(x), clf, uint8_batches(images, labels, "cpu", batch_size=96))
    with torch.no_grad():
        whole = clf(tower(images.float().mul_(1 / 127.5).sub_(1))).numpy()
    expected = compact_logits(whole)
    assert out.logits.dtype == np.float16 and np.array_equal(
        out.logits.view(np.uint16), expected.view(np.uint16)
    )
    assert np.array_equal(out.preds, expected.argmax(1)) and (out.preds != 7).all()
    assert np.array_equal(out.labels, labels)
