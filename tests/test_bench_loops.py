"""The baseline loops of ``bench/freq_throughput.py`` count by the matcher's rules: a baseline that
disagreed would be timed doing other work (its pyahocorasick loop once split "mud-hen" into two words)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from studylib.captions.counting import count_captions
from studylib.captions.patterns import build_patterns

pytest.importorskip("ahocorasick")

EXTRA = [
    "a picture of the cheetah and a plate",
    "a mountain bike on a trail",
    "a beagle with long ears",
    "two sea-lions and a mud-hen",
    "an umbrella-like canopy of leaves",
    "a crane on a construction site",
]


def _bench(name: str):
    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_pyahocorasick_and_per_lemma_loops_match_what_the_matcher_matches():
    ft = _bench("freq_throughput")
    pat = build_patterns("imagenet")
    caps = ft.make_captions(3000, pat, 0) + EXTRA
    ours = count_captions(caps, pat, keep_matches=True, progress=False)
    counts, per_caption, _ = ft.ahocorasick_counts(caps, pat)
    assert [m.tolist() for m in ours.matches_by_caption()] == per_caption
    assert (counts == ours.counts).all()
    sub = caps[:300] + EXTRA
    naive, _ = ft.naive_counts(sub, pat)
    assert (naive == count_captions(sub, pat, progress=False).counts).all()
