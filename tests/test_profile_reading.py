"""A world profile is read by name unless every line names its own position's class (issue 28): a reversed
file, unknown names, and duplicates by case, spacing or synonym used to train on wrong counts with exit 0."""

from __future__ import annotations

import numpy as np
import pytest

from studylib.captions.patterns import imagenet_specs
from studylib.concepts import load_concepts
from studylib.world import counts_from_file

CONCEPTS = load_concepts()
DISPLAY = [s.name for s in imagenet_specs(negatives=False)]  # freq count's output names, unique


def _write(path, names, counts):
    path.write_text("".join(f"{n}\t{c}\n" for n, c in zip(names, counts)))
    return path


def test_a_reversed_1000_line_file_is_read_by_name(tmp_path):
    counts = np.arange(1, 1001)
    forward = counts_from_file(_write(tmp_path / "f.tsv", DISPLAY, counts), CONCEPTS)
    backward = counts_from_file(_write(tmp_path / "r.tsv", DISPLAY[::-1], counts[::-1]), CONCEPTS)
    assert forward.tolist() == counts.tolist() and backward.tolist() == counts.tolist()


def test_a_1000_line_file_with_unknown_names_is_refused_at_its_first_bad_line(tmp_path):
    names = DISPLAY[:500] + [f"no such thing {i}" for i in range(500)]
    with pytest.raises(ValueError, match=r"u.tsv:501: 'no such thing 0' is no ImageNet class's name"):
        counts_from_file(_write(tmp_path / "u.tsv", names, range(1, 1001)), CONCEPTS)


@pytest.mark.parametrize("twin", ["TENCH", "tench ", "tinca tinca"])
def test_duplicates_by_case_spacing_or_synonym_are_refused(tmp_path, twin):
    names = ["tench", "goldfish", twin]
    with pytest.raises(ValueError, match=r":3: .* names the same class as line 1"):
        counts_from_file(_write(tmp_path / "d.tsv", names, [1, 2, 3]), CONCEPTS[:2])


def test_freq_counts_own_output_is_accepted_back(tmp_path):
    path = _write(tmp_path / "out.tsv", DISPLAY, range(1000))
    assert "missile (projectile)" in DISPLAY and "sunglasses (dark glasses)" in DISPLAY
    shuffled = np.random.default_rng(0).permutation(1000)
    again = _write(tmp_path / "shuffled.tsv", [DISPLAY[i] for i in shuffled], shuffled)
    assert (
        counts_from_file(path, CONCEPTS).tolist()
        == counts_from_file(again, CONCEPTS).tolist()
        == list(range(1000))
    )


def test_a_name_shared_by_two_classes_is_refused_by_name(tmp_path):
    with pytest.raises(ValueError, match=r"a.tsv:1: 'crane' names 2 ImageNet classes"):
        counts_from_file(_write(tmp_path / "a.tsv", ["crane"], [3]), CONCEPTS[:1])
