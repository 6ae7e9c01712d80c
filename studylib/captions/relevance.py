"""A relevance filter for caption matches: the embedded stand-in for Parashar et al.'s LLM filter.

Synonym matching counts a caption for every concept it names; some of those are homonyms or
passing mentions. Parashar et al. (2024) ask an LLM whether each caption really refers to the
concept. Offline, :func:`relevant_matches` keeps a (caption, concept) match only when the
caption's MiniLM embedding is at least as close to that concept's description as to the
description of every *other candidate*: the other concepts matched in the same caption and
the concepts that share a synonym with it. A match without rivals is kept.
"""

from __future__ import annotations

import numpy as np


def confusable_concepts(synonyms: list) -> list[set]:
    """Per concept, the other concepts that share at least one (lower-cased) synonym with it."""
    owners: dict = {}
    for k, names in enumerate(synonyms):
        for s in names:
            owners.setdefault(s.lower().strip(), set()).add(k)
    return [
        set().union(*(owners[s.lower().strip()] for s in names)) - {k} if names else set()
        for k, names in enumerate(synonyms)
    ]


def relevant_matches(
    match_caption, match_concept, caption_vectors, concept_vectors, confusable
) -> np.ndarray:
    """Boolean mask over the matches: kept when cos(caption, own concept) >= cos(caption, any rival)."""
    mc, mk = np.asarray(match_caption, dtype=np.int64), np.asarray(match_concept, dtype=np.int64)
    if mc.shape != mk.shape:
        raise ValueError(f"{len(mc)} match captions but {len(mk)} match concepts")
    cv = np.asarray(caption_vectors, dtype=np.float64)
    sv = np.asarray(concept_vectors, dtype=np.float64)
    cv = cv / np.linalg.norm(cv, axis=1, keepdims=True).clip(1e-12)
    sv = sv / np.linalg.norm(sv, axis=1, keepdims=True).clip(1e-12)
    by_caption: dict = {}
    for c, k in zip(mc, mk):
        by_caption.setdefault(int(c), set()).add(int(k))
    keep = np.ones(len(mc), dtype=bool)
    for i, (c, k) in enumerate(zip(mc, mk)):
        rivals = (by_caption[int(c)] | confusable[k]) - {int(k)}
        if rivals:
            sims = sv[[int(k), *rivals]] @ cv[c]
            keep[i] = sims[0] >= sims[1:].max()
    return keep
