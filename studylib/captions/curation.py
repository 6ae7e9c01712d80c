"""Dataset variants for the imbalance ablations, each seeded and carded.

Why: the study asks how CLIP reacts when the pre-training distribution is
changed in a controlled way: resampled to a target imbalance, shrunk,
tail-trimmed, balanced the MetaCLIP way, filtered LAIONet style, or
deduplicated. Every function works on plain arrays (integer labels, caption
lists, per-caption concept matches), so the same code serves the synthetic
concept world and real corpora. Each returns a :class:`Variant`: the kept
indices (sorted ``np.int64``; repeated indices only when resampling with
replacement) plus a markdown data card saying what was done, with which
parameters and seed, sizes before and after, classes and imbalance (written
by the one card writer, :func:`studylib.cards.write_card`).

Run::

    from studylib.captions.curation import metaclip_balance, trim_tail
    v = metaclip_balance((caption_ids, concept_ids), t=20_000, n_captions=N, seed=0)
    subset = [captions[i] for i in v.kept]
    v.write_card("data_cards/metaclip_t20000.md")

Long because the curated-variant builders (resample, subsets, trims, MetaCLIP balancing, dedupe)
share one index model.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import studylib
from studylib.captions.patterns import tokenize
from studylib.captions.profiles import imbalance_stats
from studylib.cards import card_markdown, write_card


@dataclass
class Variant:
    """A curated subset: kept indices plus everything its data card reports."""

    name: str
    kept: np.ndarray
    n_before: int
    description: str
    params: dict = field(default_factory=dict)
    seed: int | None = None
    counts_before: np.ndarray | None = None
    counts_after: np.ndarray | None = None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def n_after(self) -> int:
        return int(self.kept.size)

    @property
    def card(self) -> str:
        """The data card as markdown."""
        return data_card(self)

    def write_card(self, path: str | Path) -> Path:
        """Write the data card (atomically) and return its path."""
        return write_card(path, *_card_parts(self))


def data_card(v: Variant) -> str:
    """Markdown data card of a variant."""
    return card_markdown(*_card_parts(v))


def _card_parts(v: Variant) -> tuple[str, str, list[tuple[str, str]], str]:
    """Title, intro, sections and footer of a variant's card (see studylib.cards)."""
    pct = 100.0 * v.n_after / v.n_before if v.n_before else float("nan")
    intro = [
        v.description,
        "",
        "| | |",
        "|---|---|",
        f"| seed | {v.seed if v.seed is not None else 'none (deterministic)'} |",
        f"| size before | {v.n_before:,} |",
        f"| size after | {v.n_after:,} ({pct:.1f}%) |",
    ]
    if v.counts_before is not None:
        cb, ca = v.counts_before, v.counts_after
        intro.append(
            f"| classes present before / after | {int(np.count_nonzero(cb))} / "
            f"{int(np.count_nonzero(ca))} (of {cb.size}) |"
        )
    params = ["| parameter | value |", "|---|---|"]
    params += [f"| {k} | {_fmt(val)} |" for k, val in v.params.items()]
    sections = [("Parameters", "\n".join(params))]
    if v.counts_before is not None:
        present = v.counts_before > 0
        sb, sa = imbalance_stats(cb[present]), imbalance_stats(ca[present])
        rows = ["| statistic | before | after |", "|---|---|---|"]
        for key, label in (
            ("total", "labelled examples"),
            ("max_over_median", "max / median"),
            ("gini", "Gini"),
            ("zipf_alpha", "fitted Zipf alpha"),
        ):
            rows.append(f"| {label} | {_fmt(sb[key])} | {_fmt(sa[key])} |")
        rows.append(
            f"| smallest / largest class | {int(cb.min())} / {int(cb.max())} | "
            f"{int(ca.min())} / {int(ca.max())} |"
        )
        sections.append(("Imbalance (examples per class, over the classes present before)", "\n".join(rows)))
        names = v.class_names or [str(i) for i in range(ca.size)]
        order = np.argsort(-ca, kind="stable")
        show = order if ca.size <= 20 else np.concatenate([order[:5], order[-5:]])
        rows = ["| class | before | after |", "|---|---|---|"]
        rows += [f"| {names[i]} | {int(cb[i])} | {int(ca[i])} |" for i in show]
        sections.append(
            ("Classes" + ("" if ca.size <= 20 else " (5 largest, 5 smallest after)"), "\n".join(rows))
        )
    if v.notes:
        sections.append(("Notes", "\n".join(f"- {n}" for n in v.notes)))
    footer = (
        f"Made by `studylib.captions.curation` (studylib {studylib.__version__}); alpha "
        "fitted by least squares of log count on log rank over nonzero counts."
    )
    return f"Data card: {v.name}", "\n".join(intro), sections, footer


def _fmt(x) -> str:
    if isinstance(x, (float, np.floating)):
        return "0" if abs(x) < 1e-9 else f"{x:.4g}"
    if isinstance(x, np.ndarray):
        return f"array of {x.size}"
    if isinstance(x, (list, tuple)) and len(x) > 12:
        return f"{list(x[:12])} ... ({len(x)} values)"
    return str(x)


def _labels(labels) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise ValueError("labels must be a 1-D integer array (-1 for unlabelled)")
    return arr.astype(np.int64)


def _n_classes(labels, n_classes):
    if n_classes is not None:
        if labels.size and labels.max() >= n_classes:
            raise ValueError(f"labels hold class {labels.max()} but n_classes={n_classes}")
        return int(n_classes)
    return int(labels.max()) + 1 if labels.size else 0


def _counts(labels, idx, C) -> np.ndarray:
    sel = labels[idx]
    return np.bincount(sel[sel >= 0], minlength=C)


def _variant(name, kept, labels, C, description, params, seed, class_names, notes=()):
    kept = np.sort(np.asarray(kept, dtype=np.int64))
    cb = ca = None
    if labels is not None:
        cb = _counts(labels, np.arange(labels.size), C)
        ca = _counts(labels, kept, C)
    return Variant(
        name,
        kept,
        int(labels.size) if labels is not None else 0,
        description,
        dict(params),
        seed,
        cb,
        ca,
        class_names,
        list(notes),
    )


# ----------------------------------------------------------------------------
# Resampling to a target profile


def target_weights(target, avail: np.ndarray, order="current", seed: int = 0) -> np.ndarray:
    """Per-class weights of a target profile.

    ``target``: ``"balanced"``; a Zipf exponent (float, or ``"zipf:1.2"``); or
    an array of per-class counts/weights (another profile, class-id order).
    For Zipf the head is chosen by ``order``: ``"current"`` (most frequent
    class first, ties by class id), ``"random"`` (seeded permutation) or an
    explicit array of class ids from head to tail. Classes with no examples
    get weight 0.
    """
    C = avail.size
    present = avail > 0
    if isinstance(target, str) and target == "balanced":
        return present.astype(float)
    if isinstance(target, str) and target.startswith("zipf:"):
        target = float(target.split(":", 1)[1])
    if isinstance(target, (int, float, np.floating)) and not isinstance(target, bool):
        alpha = float(target)
        if isinstance(order, str) and order == "current":
            ranking = np.argsort(-avail, kind="stable")
        elif isinstance(order, str) and order == "random":
            ranking = np.random.default_rng(seed).permutation(C)
        elif isinstance(order, str):
            raise ValueError(f"order must be 'current', 'random' or an array, got {order!r}")
        else:
            ranking = np.asarray(order, dtype=np.int64)
            if sorted(ranking.tolist()) != list(range(C)):
                raise ValueError(f"order must be a permutation of the {C} class ids")
        ranking = ranking[present[ranking]]
        w = np.zeros(C)
        w[ranking] = np.arange(1, ranking.size + 1, dtype=float) ** -alpha
        return w
    if isinstance(target, str):
        raise ValueError(
            f"unknown target {target!r}: use 'balanced', a Zipf alpha, 'zipf:<alpha>' "
            "or an array of per-class counts"
        )
    w = np.asarray(target, dtype=float)
    if w.shape != (C,):
        raise ValueError(f"target profile has {w.size} classes, labels have {C}")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() == 0:
        raise ValueError("target profile must be finite, non-negative and not all zero")
    return np.where(present, w, 0.0)


def _largest_remainder(p: np.ndarray, size: int) -> np.ndarray:
    raw = p * size
    q = np.floor(raw).astype(np.int64)
    short = size - int(q.sum())
    if short > 0:
        q[np.argsort(-(raw - q), kind="stable")[:short]] += 1
    return q


def resample_to_profile(
    labels,
    target,
    *,
    size: int | None = None,
    seed: int = 0,
    n_classes: int | None = None,
    order="current",
    replace: bool = False,
    class_names=None,
) -> Variant:
    """Subsample (or resample) labelled examples so class counts follow ``target``.

    ``size``: examples to keep; by default the largest size at which the exact
    target shape fits the available examples (without replacement) or the
    current size (with replacement). Without replacement a class never gets
    more than it has; any shortfall is listed in the card. Unlabelled (-1)
    examples are dropped.
    """
    labels = _labels(labels)
    C = _n_classes(labels, n_classes)
    avail = np.bincount(labels[labels >= 0], minlength=C)
    w = target_weights(target, avail, order, seed)
    if w.sum() == 0:
        raise ValueError("target gives zero weight to every class with examples")
    p = w / w.sum()
    if size is None:
        size = int(avail.sum()) if replace else int(np.floor(np.min(avail[p > 0] / p[p > 0])))
    if size < 0:
        raise ValueError(f"size must be >= 0, got {size}")
    quota = _largest_remainder(p, size)
    notes = []
    if not replace:
        over = quota > avail
        if over.any():
            notes.append(
                f"{int(over.sum())} classes had fewer examples than their quota "
                f"({int((quota - avail)[over].sum())} examples short)"
            )
            quota = np.minimum(quota, avail)
    rng = np.random.default_rng(seed)
    order_idx = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order_idx], np.arange(C + 1))
    kept = []
    for c in range(C):
        pool = order_idx[bounds[c] : bounds[c + 1]]
        if quota[c] and pool.size:
            kept.append(rng.choice(pool, size=int(quota[c]), replace=replace))
    kept = np.concatenate(kept) if kept else np.zeros(0, np.int64)
    tname = target if isinstance(target, (str, int, float)) else "given profile"
    desc = (
        f"Resampled {'with' if replace else 'without'} replacement so that class counts "
        f"follow the target profile ({tname})."
    )
    return _variant(
        f"resample_{tname}".replace(":", "_"),
        kept,
        labels,
        C,
        desc,
        {
            "target": tname,
            "size": size,
            "order": order if isinstance(order, str) else "given",
            "replace": replace,
        },
        seed,
        class_names,
        notes,
    )


# ----------------------------------------------------------------------------
# Scale subsets and tail trimming


def scale_subsets(
    n: int,
    fractions,
    *,
    seed: int = 0,
    labels=None,
    stratified: bool = False,
    n_classes: int | None = None,
    class_names=None,
) -> list[Variant]:
    """Nested random subsets at each fraction of ``n`` examples (smaller ones are
    prefixes of larger ones). ``stratified`` keeps each class's share (needs labels)."""
    fractions = list(fractions)
    if any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1], got {fractions}")
    lab = _labels(labels) if labels is not None else None
    if lab is not None and lab.size != n:
        raise ValueError(f"labels has {lab.size} entries for n={n}")
    C = _n_classes(lab, n_classes) if lab is not None else 0
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    if stratified:
        if lab is None:
            raise ValueError("stratified subsets need labels")
        groups = [perm[lab[perm] == c] for c in np.unique(lab)]
    out = []
    for f in fractions:
        if stratified:
            kept = np.concatenate([g[: int(round(f * g.size))] for g in groups])
        else:
            kept = perm[: int(round(f * n))]
        desc = (
            f"A {'class-stratified ' if stratified else ''}random {f:.4g} fraction of the "
            "data; subsets of one seed are nested."
        )
        out.append(
            _variant(
                f"scale_{f:g}",
                kept,
                lab,
                C,
                desc,
                {"fraction": f, "stratified": stratified},
                seed,
                class_names,
            )
            if lab is not None
            else Variant(
                f"scale_{f:g}",
                np.sort(kept).astype(np.int64),
                n,
                desc,
                {"fraction": f, "stratified": stratified},
                seed,
            )
        )
    return out


def trim_tail(
    labels, k: int, shots: int, *, seed: int = 0, n_classes: int | None = None, class_names=None
) -> Variant:
    """Cut the ``k`` rarest classes (among those present; ties by class id) to
    ``shots`` random examples each (0 removes them); other classes are kept whole."""
    labels = _labels(labels)
    if k < 0 or shots < 0:
        raise ValueError(f"k and shots must be >= 0, got k={k}, shots={shots}")
    C = _n_classes(labels, n_classes)
    avail = np.bincount(labels[labels >= 0], minlength=C)
    present = np.flatnonzero(avail > 0)
    rare = present[np.argsort(avail[present], kind="stable")[:k]]
    rng = np.random.default_rng(seed)
    drop = np.zeros(labels.size, dtype=bool)
    for c in rare:
        idx = np.flatnonzero(labels == c)
        if idx.size > shots:
            chosen = rng.choice(idx, size=shots, replace=False)
            drop[idx] = True
            drop[chosen] = False
    kept = np.flatnonzero(~drop)
    desc = f"The {len(rare)} rarest classes cut to {shots} example(s) each; the rest unchanged."
    return _variant(
        f"trim_k{k}_c{shots}",
        kept,
        labels,
        C,
        desc,
        {"k": k, "shots": shots, "trimmed classes": rare.tolist()},
        seed,
        class_names,
    )


# ----------------------------------------------------------------------------
# MetaCLIP balancing


def _match_pairs(matches, n_captions=None) -> tuple[np.ndarray, np.ndarray, int]:
    """(caption ids, concept ids, n_captions) sorted by caption then concept."""
    if hasattr(matches, "match_caption"):  # FrequencyResult
        if matches.match_caption is None:
            raise ValueError("the FrequencyResult has no matches; count with keep_matches=True")
        cap, con = matches.match_caption, matches.match_concept
        n_captions = n_captions or matches.n_captions
    elif isinstance(matches, tuple) and len(matches) == 2:
        cap, con = (np.asarray(a) for a in matches)
        if cap.shape != con.shape:
            raise ValueError("matches (caption_ids, concept_ids) must have equal lengths")
    else:
        cap, con = [], []
        for i, s in enumerate(matches):
            for c in s:
                cap.append(i)
                con.append(int(c))
        n_captions = n_captions if n_captions is not None else len(matches)
    cap = np.asarray(cap, dtype=np.int64)
    con = np.asarray(con, dtype=np.int64)
    key = np.unique(np.stack([cap, con], 1), axis=0) if cap.size else np.zeros((0, 2), np.int64)
    if n_captions is None:
        n_captions = int(key[:, 0].max()) + 1 if key.size else 0
    return key[:, 0], key[:, 1], int(n_captions)


def metaclip_balance(
    matches,
    t: float,
    *,
    n_captions: int | None = None,
    seed: int = 0,
    counts=None,
    n_classes: int | None = None,
    keep_unmatched: bool = False,
    class_names=None,
) -> Variant:
    """MetaCLIP balancing: every matched (caption, concept) entry is kept with
    probability ``t / max(count[concept], t)``; a caption is kept if any of its
    entries passes.

    ``matches``: a FrequencyResult with kept matches, a pair of arrays
    (caption ids, concept ids), or per-caption lists of concept ids.
    ``counts``: entry counts per concept (default: from ``matches``).
    Entries are drawn in (caption, concept) order from one seeded generator.
    Captions naming no concept are dropped unless ``keep_unmatched``.
    """
    if t <= 0:
        raise ValueError(f"threshold t must be > 0, got {t}")
    cap, con, N = _match_pairs(matches, n_captions)
    C = int(n_classes if n_classes is not None else (con.max() + 1 if con.size else 0))
    if counts is None:
        counts = np.bincount(con, minlength=C)
    counts = np.asarray(counts, dtype=float)
    if counts.size < C:
        raise ValueError(f"counts has {counts.size} concepts, matches use {C}")
    prob = t / np.maximum(counts, t)
    u = np.random.default_rng(seed).random(cap.size)
    passed = u < prob[con]
    keep = np.zeros(N, dtype=bool)
    keep[cap[passed]] = True
    if keep_unmatched:
        matched = np.zeros(N, dtype=bool)
        matched[cap] = True
        keep |= ~matched
    kept = np.flatnonzero(keep)
    cb = np.bincount(con, minlength=C)
    in_kept = keep[cap]
    ca = np.bincount(con[in_kept], minlength=C)
    desc = (
        f"MetaCLIP balancing with t={t:g}: each matched (caption, concept) entry kept with "
        "probability t / max(count, t); a caption kept if any entry passes"
        + (
            "; captions naming no concept kept."
            if keep_unmatched
            else "; captions naming no concept dropped."
        )
    )
    v = Variant(
        f"metaclip_t{t:g}",
        kept.astype(np.int64),
        N,
        desc,
        {"t": t, "keep_unmatched": keep_unmatched, "entries": int(cap.size)},
        seed,
        cb,
        ca,
        class_names,
    )
    return v


# ----------------------------------------------------------------------------
# LAIONet-style similarity filter


def caption_similarities(captions, labels, concepts, *, embed_fn=None, concept_vectors=None) -> np.ndarray:
    """Cosine similarity of each caption's MiniLM embedding with its concept's "{name} which is
    {definition}" embedding (LAIONet's score); ``-inf`` for label -1. Arguments as :func:`similarity_filter`."""
    from studylib import concepts as cmod

    captions, lab = list(captions), _labels(labels)
    embed_fn = embed_fn or cmod.embed_texts
    cv = np.asarray(
        concept_vectors if concept_vectors is not None else cmod.semantic_vectors(list(concepts)),
        dtype=np.float32,
    )
    ok = lab >= 0
    sims = np.full(lab.size, -np.inf, dtype=np.float32)
    if ok.any():
        idx = np.flatnonzero(ok)
        ev = np.asarray(embed_fn([captions[i] for i in idx]), dtype=np.float32)
        sims[idx] = np.einsum("ij,ij->i", ev, cv[lab[idx]])
    return sims


def similarity_filter(
    captions,
    labels,
    concepts,
    threshold: float = 0.5,
    *,
    embed_fn=None,
    concept_vectors=None,
    class_names=None,
) -> Variant:
    """Keep captions whose MiniLM embedding has cosine >= ``threshold`` with the
    embedding of their concept's "{name} which is {definition}" (LAIONet).

    ``labels`` index ``concepts`` (a sequence of studylib Concept; -1 drops).
    ``embed_fn`` (default :func:`studylib.concepts.embed_texts`) maps a list of
    texts to unit vectors; ``concept_vectors`` defaults to
    :func:`studylib.concepts.semantic_vectors`. Deterministic: no seed.
    """

    captions = list(captions)
    lab = _labels(labels)
    if lab.size != len(captions):
        raise ValueError(f"{len(captions)} captions but {lab.size} labels")
    concepts = list(concepts)
    C = len(concepts)
    if lab.size and lab.max() >= C:
        raise ValueError(f"labels hold concept {lab.max()} but only {C} concepts were given")
    sims = caption_similarities(captions, lab, concepts, embed_fn=embed_fn, concept_vectors=concept_vectors)
    ok = lab >= 0
    kept = np.flatnonzero(sims >= threshold)
    names = class_names or [getattr(c, "name", str(i)) for i, c in enumerate(concepts)]
    v = _variant(
        f"similarity_{threshold:g}",
        kept,
        lab,
        C,
        f"LAIONet-style filter: kept captions whose cosine similarity to "
        f"'{{name}} which is {{definition}}' of their concept is >= {threshold:g} "
        "(all-MiniLM-L6-v2 embeddings).",
        {"threshold": threshold},
        None,
        names,
    )
    if ok.any():
        v.notes.append(
            f"similarity of labelled captions: median {np.median(sims[ok]):.3f}, "
            f"kept median {np.median(sims[kept]) if kept.size else float('nan'):.3f}"
        )
    return v


# ----------------------------------------------------------------------------
# Exact and near-duplicate removal


def _norm(text: str) -> str:
    return " ".join(tokenize((text or "").replace("-", " ")))  # hyphens separate here, as before issue 30


def deduplicate(
    captions,
    *,
    near: bool = False,
    threshold: float = 0.8,
    num_perm: int = 64,
    bands: int = 16,
    seed: int = 0,
    labels=None,
    n_classes=None,
    class_names=None,
) -> Variant:
    """Drop duplicate captions, keeping the first occurrence.

    Exact: identical after normalisation (lower case, punctuation and extra
    spaces removed, :func:`studylib.captions.patterns.tokenize`). Near (``near=True``):
    MinHash over word unigrams+bigrams (``num_perm`` seeded hash functions,
    LSH with ``bands`` bands); a caption is dropped when an earlier kept one
    in a shared bucket has estimated Jaccard similarity >= ``threshold``.
    """
    captions = list(captions)
    n = len(captions)
    lab = _labels(labels) if labels is not None else None
    C = _n_classes(lab, n_classes) if lab is not None else 0
    norm = [_norm(c) for c in captions]
    keep = _first_occurrences(norm)
    n_exact = int(n - keep.sum())
    notes = [f"{n_exact} exact duplicates removed"]
    if near:
        n_near = _drop_near_duplicates(norm, keep, threshold, num_perm, bands, seed)
        notes.append(f"{n_near} near duplicates removed")
    kept = np.flatnonzero(keep)
    desc = (
        "Exact" + (" and near" if near else "") + " duplicate captions removed; the first "
        "occurrence of each is kept."
    )
    params = {"near": near}
    if near:
        params.update(threshold=threshold, num_perm=num_perm, bands=bands)
    if lab is not None:
        return _variant(
            "dedup_near" if near else "dedup_exact",
            kept,
            lab,
            C,
            desc,
            params,
            seed if near else None,
            class_names,
            notes,
        )
    return Variant(
        "dedup_near" if near else "dedup_exact",
        kept.astype(np.int64),
        n,
        desc,
        params,
        seed if near else None,
        notes=notes,
    )


def _first_occurrences(norm: list[str]) -> np.ndarray:
    """Mask of the first occurrence of each normalised caption (exact dedup), split out of deduplicate."""
    seen: dict[str, int] = {}
    keep = np.zeros(len(norm), dtype=bool)
    for i, s in enumerate(norm):
        if s not in seen:
            seen[s] = i
            keep[i] = True
    return keep


def _drop_near_duplicates(
    norm: list[str], keep: np.ndarray, threshold: float, num_perm: int, bands: int, seed: int
) -> int:
    """Clear ``keep`` for near duplicates of earlier kept captions (MinHash LSH); return how many were dropped.

    Split out of :func:`deduplicate` so the near pass reads on its own.
    """
    if num_perm % bands:
        raise ValueError(f"num_perm ({num_perm}) must be a multiple of bands ({bands})")
    idx = np.flatnonzero(keep)
    sig = _minhash([norm[i] for i in idx], num_perm, seed)
    rows = num_perm // bands
    buckets: list[dict] = [defaultdict(list) for _ in range(bands)]
    n_near = 0
    for j, i in enumerate(idx):
        s = sig[j]
        keys = [s[b * rows : (b + 1) * rows].tobytes() for b in range(bands)]
        cands = {m for b, key in enumerate(keys) for m in buckets[b].get(key, ())}
        if any(np.mean(sig[m] == s) >= threshold for m in cands):
            keep[i] = False
            n_near += 1
            continue
        for b, key in enumerate(keys):
            buckets[b][key].append(j)
    return n_near


def _minhash(texts: list[str], num_perm: int, seed: int) -> np.ndarray:
    """(len(texts), num_perm) MinHash signatures over word 1- and 2-grams (crc32)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 32, num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 32, num_perm, dtype=np.uint64)
    sig = np.full((len(texts), num_perm), np.iinfo(np.uint32).max, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    for i, t in enumerate(texts):
        w = t.split()
        grams = w + [f"{x} {y}" for x, y in zip(w, w[1:])]
        if not grams:
            continue
        h = np.fromiter((zlib.crc32(g.encode()) for g in grams), dtype=np.uint64, count=len(grams))
        with np.errstate(over="ignore"):
            sig[i] = ((h[:, None] * a[None, :] + b[None, :]) & mask).min(axis=0)
    return sig
