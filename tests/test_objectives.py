import numpy as np
import open_clip
import pytest
import torch

from studylib.objectives.clip import make_clip_loss
from studylib.objectives.sl import sample_vocabulary
from studylib.pipeline import run
from studylib.spec import RunSpec


def _draw(labels, k, weighting, counts, seed=0):
    return sample_vocabulary(
        torch.tensor(labels),
        len(counts),
        k,
        weighting,
        torch.tensor(counts),
        torch.Generator().manual_seed(seed),
    )


@pytest.mark.parametrize("weighting", ["uniform", "freq", "sqrt"])
def test_vocabulary_holds_batch_classes_and_exactly_k(weighting):
    counts = [100, 50, 20, 10, 5, 3, 2, 1, 1, 1]
    for seed in range(50):
        v = _draw([3, 3, 7], 5, weighting, counts, seed)
        assert len(v) == 5 and len(set(v.tolist())) == 5
        assert {3, 7} <= set(v.tolist())
        assert torch.equal(v, torch.sort(v).values)


def test_vocabulary_edge_cases():
    counts = [5] * 10
    assert _draw([1, 2, 3], 0, "uniform", counts).tolist() == list(range(10))  # off
    assert _draw([1, 2, 3], 10, "uniform", counts).tolist() == list(range(10))  # k >= n
    assert _draw([1, 2, 3, 4], 3, "uniform", counts).tolist() == [1, 2, 3, 4]  # batch > k
    # 'freq' never draws a class with zero training count
    assert _draw([0], 3, "freq", [4, 0, 0, 2, 1, 0]).tolist() == [0, 3, 4]
    with pytest.raises(ValueError, match="vocab_weighting"):
        _draw([0], 3, "zipf", counts)


@pytest.mark.parametrize(
    "weighting, transform", [("uniform", lambda c: np.ones_like(c)), ("freq", lambda c: c), ("sqrt", np.sqrt)]
)
def test_single_extra_class_follows_the_weighting(weighting, transform):
    """With one extra slot, P(class j) = w_j / sum of w over the classes not in the batch."""
    counts = np.array([1, 4, 16, 64, 100.0])
    w = transform(counts[1:])
    expected = w / w.sum()
    n = 6000
    gen = torch.Generator().manual_seed(0)
    hits = np.zeros(5)
    for _ in range(n):
        v = sample_vocabulary(torch.tensor([0]), 5, 2, weighting, torch.tensor(counts), gen)
        hits[v[1]] += 1
    assert hits[0] == 0
    freq = hits[1:] / n
    assert np.all(np.abs(freq - expected) < 4 * np.sqrt(expected * (1 - expected) / n) + 1e-9), (
        freq,
        expected,
    )


def test_clip_objective_is_open_clips_cliploss(monkeypatch, tiny_params):
    """The CLIP objective is open_clip's ClipLoss, and training really calls it."""
    assert type(make_clip_loss()) is open_clip.loss.ClipLoss
    calls = []
    original = open_clip.loss.ClipLoss.forward

    def spy(self, *a, **k):
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(open_clip.loss.ClipLoss, "forward", spy)
    run(RunSpec({**tiny_params, "objective": "clip", "epochs": 1}, label="clip"), progress=False)
    assert len(calls) == tiny_params["n_train"] // tiny_params["batch_size"]


def test_clip_with_a_frozen_minilm_text_tower(tiny_params):
    """text_tower='minilm': the captions' frozen MiniLM sentence embeddings through a trained projection; the
    zero-shot classifier is that projection of the MiniLM prompt embeddings."""
    from studylib.concepts import embed_texts
    from studylib.config import ConfigError
    from studylib.evaluate import prompts_for
    from studylib.pipeline import load

    spec = RunSpec({**tiny_params, "objective": "clip", "text_tower": "minilm", "epochs": 1}, label="minilm")
    loaded = load(run(spec, progress=False, keep_model=True))
    model = loaded.model
    assert [n for n, _ in model.text.named_parameters()] == ["proj.weight"]
    assert tuple(model.text.proj.weight.shape) == (tiny_params["embed_dim"], 384)
    names = loaded.objective.data.class_names
    prompts = torch.from_numpy(embed_texts(prompts_for(names)))
    by_hand = torch.nn.functional.normalize(model.text(prompts), dim=-1).view(
        len(names), -1, tiny_params["embed_dim"]
    )
    expected = torch.nn.functional.normalize(torch.nn.functional.normalize(by_hand, dim=-1).mean(1), dim=-1)
    assert np.allclose(loaded.run.array("classifier_weights"), expected.detach().numpy(), atol=1e-4)
    with pytest.raises(ConfigError, match="text_tower='minilm'.*without run dependencies"):
        run(spec.replace(deps={"text_init": spec.replace(text_tower="scratch")}), progress=False)
