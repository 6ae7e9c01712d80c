import numpy as np
import pytest
import torch

from studylib.models.heads import LOGIT_SCALE_MAX, Head, semantic_prototypes
from studylib.models.tiny import SLModel, clamp_logit_scales
from studylib.models.vocabulary import Vocabulary


@pytest.mark.parametrize("kind", ["linear", "cosine", "prototype"])
def test_heads_score_all_or_a_vocabulary(kind):
    protos = torch.randn(5, 8) if kind == "prototype" else None
    head = Head(kind, 8, 5, protos)
    feats = torch.randn(3, 8)
    full = head(feats)
    sub = head(feats, classes=torch.tensor([1, 4]))
    assert full.shape == (3, 5) and torch.allclose(sub, full[:, [1, 4]], atol=1e-6)


def test_prototype_head_is_fixed_and_cosine_temperature_clamped(tiny_params):
    import numpy as np

    sem = np.random.default_rng(0).standard_normal((6, 384)).astype("float32")
    model = SLModel(
        tiny_params["width"],
        tiny_params["embed_dim"],
        6,
        "prototype",
        semantic_prototypes(sem, tiny_params["embed_dim"], seed=0),
    )
    names = [n for n, _ in model.named_parameters()]
    assert "head.weight" not in names and "head.logit_scale" in names
    with torch.no_grad():
        model.head.logit_scale.fill_(10.0)
    clamp_logit_scales(model)
    assert model.head.logit_scale.item() == pytest.approx(LOGIT_SCALE_MAX)
    with pytest.raises(ValueError, match="prototype head needs"):
        Head("prototype", 8, 5, None)
    with pytest.raises(ValueError, match="unknown head"):
        Head("mlp", 8, 5)


def test_vocabulary_is_compact_and_maps_unseen_tokens_to_unknown():
    vocab = Vocabulary(["a photo of a goldfish.", "a tench"], context_length=12)
    ids = vocab.encode(["a photo of a tench.", "a zebra"])
    assert ids.shape == (2, 12) and ids.max() < len(vocab) < 20
    assert (ids[1] == 1).any()  # 'zebra' was never seen: unknown id 1
    assert (ids[:, -1] == 0).all()  # padding stays 0
    assert torch.equal(vocab.encode(["a tench"]), vocab.encode(["a tench"]))


def test_vocabulary_tokenises_each_text_once_per_process_with_the_same_ids(monkeypatch):
    """The BPE rows are memoised by text: a second vocabulary over the same captions calls the tokenizer only
    for texts it has not seen, and the ids equal a fresh tokenizer's."""
    from open_clip.tokenizer import SimpleTokenizer

    from studylib.models import vocabulary

    monkeypatch.setattr(vocabulary, "_ROWS", {})
    texts = ["a photo of a goldfish.", "a tench", "a photo of a goldfish."]
    first = Vocabulary(texts, context_length=12)
    calls = []
    real = vocabulary._tokenizer(12)
    monkeypatch.setattr(first, "_tok", lambda batch: calls.append(list(batch)) or real(batch))
    first.encode(texts + ["a zebra"])
    assert calls == [["a zebra"]]  # only the new text went to the tokenizer
    fresh = SimpleTokenizer(context_length=12)(texts)
    assert torch.equal(first._raw(texts), fresh)
    assert first._raw([]).shape == (0, 12)


def test_vocabulary_keeps_a_large_corpus_on_disk_for_the_next_process(monkeypatch, tmp_path):
    """A corpus of DISK_MIN or more new texts is tokenised once across processes: a later process (an empty
    memo) reads its rows from the token cache, with exactly the ids of a fresh tokenizer; a damaged cache file
    is tokenised again and rewritten."""
    from open_clip.tokenizer import SimpleTokenizer

    from studylib.models import vocabulary

    monkeypatch.setenv("STUDYLIB_CACHE", str(tmp_path))
    monkeypatch.setattr(vocabulary, "DISK_MIN", 3)
    texts = ["a photo of a goldfish.", "a tench", "ein Bild, café", "a photo of a goldfish."]
    monkeypatch.setattr(vocabulary, "_ROWS", {})
    first = Vocabulary(texts, context_length=12)
    (stored,) = (tmp_path / "tokens").glob("bpe-*.npy")

    monkeypatch.setattr(vocabulary, "_ROWS", {})  # a new process
    calls = []
    real = vocabulary._tokenizer(12)
    monkeypatch.setattr(vocabulary, "_tokenizer", lambda n: lambda b: calls.append(list(b)) or real(b))
    second = Vocabulary(texts, context_length=12)
    assert calls == []  # read from disk
    assert torch.equal(second.encode(texts), first.encode(texts))
    assert torch.equal(second._raw(texts), SimpleTokenizer(context_length=12)(texts))

    stored.write_bytes(b"not a numpy file")
    monkeypatch.setattr(vocabulary, "_ROWS", {})
    third = Vocabulary(texts, context_length=12)
    assert len(calls) == 1 and torch.equal(third.encode(texts), first.encode(texts))
    assert np.load(stored).shape == (3, 12)  # rewritten


# texts that open_clip's cleaning changes (entities, mojibake, control characters, ligatures, quotes) or keeps
CRAFTED = [
    "  A  Photo of a   Tench. ",
    "fish &amp; chips",
    "a &lt;b&gt; tag",
    "caf\u00e9 cr\u00e8me",
    "Ã©t\u00e9 mojibake",
    "tab\there",
    "line\r\nbreak",
    "\x1b[31mred\x1b[0m",
    "ﬁsh ligature",
    "\u201ccurly\u201d quotes",
    "<b>bold</b>",
    "",
]


def _world_captions() -> list:
    from studylib.config import world_config
    from studylib.world_store import cached_world

    return list(
        cached_world(world_config({"n_classes": 40, "n_train": 600, "render": "features"})).train.captions
    )


def test_tokenizer_cleaning_shortcut_equals_open_clips_on_world_captions_and_crafted_text():
    """Plain printable ASCII skips ftfy (a no-op on it); every text cleans exactly as open_clip cleans it."""
    from studylib.models.openclip_parts import part
    from studylib.models.vocabulary import _clean_lower

    module = part("tokenizer")
    texts = list(dict.fromkeys(_world_captions() + CRAFTED))
    assert [_clean_lower(module, t) for t in texts] == [module._clean_lower(t) for t in texts]


def test_word_memo_tokenizer_gives_open_clips_ids_on_world_captions_and_crafted_text():
    """The tokenizer behind Vocabulary keeps each word's BPE ids; every row equals open_clip's own tokenizer's,
    truncation to the context included, whether a word is new or already memoised."""
    from open_clip.tokenizer import SimpleTokenizer

    from studylib.models.vocabulary import WordMemoTokenizer, _tokenizer

    lengths = [
        "3.5 in. 10,000 things!!",
        " ".join(["photograph"] * 40),  # longer than any context: truncated, the end token last
        "one two three four five six seven eight nine ten",  # exactly 12 ids with start and end
    ]
    texts = _world_captions() + CRAFTED + lengths
    for n in (12, 32, 77):
        fast = _tokenizer(n)
        assert isinstance(fast, WordMemoTokenizer)
        first, again = fast(texts), fast(list(reversed(texts)))  # the second call reads memoised words
        expected = SimpleTokenizer(context_length=n)(texts)
        assert torch.equal(first, expected) and torch.equal(again, expected.flip(0))
        assert first.dtype == torch.long and fast("a tench").shape == (1, n)
