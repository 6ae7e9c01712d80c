"""Caption-matching precision (issue 30): common English words are no class names."""

from __future__ import annotations

import pytest

from studylib.captions.matching import match_reference
from studylib.captions.patterns import build_patterns, common_words
from studylib.concepts import load_concepts

EAR, SPOTLIGHT, ALP, UMBRELLA = 998, 818, 970, 879


@pytest.fixture(scope="module")
def imagenet():
    return build_patterns("imagenet")


@pytest.mark.parametrize(
    "caption, cls",
    [
        ("a beagle with long floppy ears", EAR),
        ("a leopard with dark spots on its coat", SPOTLIGHT),
        ("a dalmatian, white with a black spot", SPOTLIGHT),
        ("a castle on a mountain at dusk", ALP),
        ("an umbrella-like canopy of leaves", UMBRELLA),
        ("a jellyfish with an umbrella-shaped bell", UMBRELLA),
    ],
)
def test_common_words_name_no_class(imagenet, caption, cls):
    assert cls not in match_reference(caption, imagenet)


def test_the_classes_keep_their_specific_names(imagenet):
    assert EAR in match_reference("an ear of corn, a capitulum", imagenet)
    assert SPOTLIGHT in match_reference("a spotlight on the stage", imagenet)
    assert ALP in match_reference("cows grazing below an alp", imagenet)
    assert UMBRELLA in match_reference("a red umbrella - and a blue umbrella-", imagenet)
    for text in ("a sea lion", "a sea-lion", "two sea-lions"):  # compounds still name their synonyms
        assert 150 in match_reference(text, imagenet), text
    for text in ("a man-eater", "a man eater", "maneaters"):
        assert 2 in match_reference(text, imagenet), text


def test_common_words_come_from_other_classes_descriptions():
    concepts = load_concepts()
    common = common_words()
    assert {"ear"} <= common[EAR] and {"spot"} <= common[SPOTLIGHT] and {"mountain"} <= common[ALP]
    for idx, words in common.items():
        assert words <= set(concepts[idx].synonyms)  # only ever drops a class's own synonyms


def test_common_words_equal_the_definition_scanned_class_by_class():
    """The inverted index gives exactly what the definition says: a one-word synonym is common where the
    descriptions of at least COMMON_MIN_CLASSES other classes use one of its forms (scanned here)."""
    from studylib.captions.patterns import COMMON_MIN_CLASSES, inflections, tokenize

    concepts = load_concepts()
    docs = [set(tokenize(c.description)) for c in concepts]
    want = {}
    for c in concepts:
        for s in c.synonyms:
            toks = tokenize(s)
            if len(toks) != 1:
                continue
            forms = {toks[0], *inflections(toks[0])}
            users = sum(1 for j, d in enumerate(docs) if j != c.index and not forms.isdisjoint(d))
            if users >= COMMON_MIN_CLASSES:
                want.setdefault(c.index, set()).add(s)
    assert common_words() == {k: frozenset(v) for k, v in want.items()}
    assert len(want) > 10
