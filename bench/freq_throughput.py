"""Benchmark: caption -> concept counting throughput, ours vs two baselines.

Why: frequency estimation must scale to billions of captions. This compares,
in one run and on the same seeded synthetic captions over the ImageNet-1k
synonym set (names, plurals, capitals, possessives, hyphens, punctuation,
filler words, captions naming nothing):

* ours: ``studylib.captions.counting.count_captions`` (vectorised numpy matcher,
  shard-parallel over ``--workers`` processes, and on 1 process);
* (a) a pyahocorasick loop, one caption at a time, with the same patterns
  (each synonym variant as " w1 w2 " over the caption's normalised words, so
  the word-boundary, inflection, hyphen and apostrophe rules are identical)
  and the same negative-context rule;
* (b) the per-lemma ``" " + lemma + " " in caption`` loop, on a subsample,
  extrapolated.

It checks that our per-caption matches, hence counts, equal the
pyahocorasick ones exactly, prints captions/s and the ratios last, and
writes the same text to ``bench/results/freq_throughput.txt``.

Run::

    python bench/freq_throughput.py            # 1M captions, 2 workers
    python bench/freq_throughput.py --n 100000 # quicker
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from studylib.captions.counting import count_captions  # noqa: E402
from studylib.captions.patterns import APOSTROPHE_RE, TOKEN_RE, build_patterns, plural_forms, tokenize  # noqa: E402
from studylib.fileio import atomic_write_text  # noqa: E402

FILLER = """the a an of on in with my our your his her at by for from to and or near over under
photo picture image view shot portrait snapshot closeup close up old new big small tiny huge
beautiful lovely nice great happy sunny cloudy rainy bright dark colorful vintage modern classic
red blue green yellow white black pink purple orange brown gray golden silver wooden
day night morning evening afternoon summer winter spring autumn weekend holiday trip travel
city street road park garden field forest mountain lake river sky cloud sunset sunrise light
people friends family kids girl boy woman man group crowd party wedding birthday festival
home room kitchen office school store shop market town village country world life time
we you they it this that these those here there very really just some many few two three four
walking running sitting standing looking playing eating drinking waiting going coming taking
stock free download wallpaper background design art drawing painting illustration print poster
best top favorite first last next little long short high low open closed empty full
program diagram category cartoon tankard scatter cranberry hammock ramp grammar anagram
made using during after before while about against between into through across behind
2019 2020 2021 10 20 100 hd 4k jpg png vs co uk usa new york london paris tokyo""".split()


def make_captions(n: int, pat, seed: int = 0) -> list[str]:
    """Seeded synthetic captions; filler words never name a concept on their own."""
    rng = np.random.default_rng(seed)
    single = {toks[0] for toks in pat.phrases if len(toks) == 1}
    filler = [w for w in dict.fromkeys(FILLER) if w not in single]
    shared = Counter(s for spec in pat.specs for s in spec.synonyms)
    mentions = []
    for s in shared:  # each synonym string once
        if "(" in s or len(s) > 40 or shared[s] > 5:
            continue
        last = s.split(" ")[-1]
        plur = [s[: len(s) - len(last)] + p for p in plural_forms(last)]
        mentions += [s, s, s.title(), s.upper(), s + "'s", s.replace(" ", "-")] + plur
    ctx = ["construction", "whooping", "memory", "sweater", "tank top", "car"]
    punct = ["!", ".", ",", "?", "...", " :)", " #", " -", " |", "\u2019s", " \u2014", " \u201cwow\u201d"]
    nf = rng.integers(3, 16, n)
    nm = rng.choice(3, n, p=[0.4, 0.45, 0.15])
    fill = rng.integers(0, len(filler), (n, 16)).tolist()
    ment = rng.integers(0, len(mentions), (n, 2)).tolist()
    where = rng.random((n, 2))
    pun = rng.integers(0, len(punct), (n, 2)).tolist()
    flags = rng.random((n, 4))
    out = []
    for i in range(n):
        words = [filler[j] for j in fill[i][: nf[i]]]
        for k in range(nm[i]):
            words.insert(int(where[i, k] * (len(words) + 1)), mentions[ment[i][k]])
        if flags[i, 0] < 0.05:
            words.insert(0, ctx[int(flags[i, 1] * len(ctx))])
        if flags[i, 2] < 0.3:
            j = int(flags[i, 3] * len(words))
            words[j] = words[j] + punct[pun[i][0]]
        cap = " ".join(words)
        if flags[i, 1] < 0.3:
            cap = cap[:1].upper() + cap[1:] + punct[pun[i][1]]
        out.append(cap)
    return out


def named_or_common(pat, names: list, commons: list, neg: set) -> set:
    """The concepts a caption names, from its name and common mentions (concept, start, end: spans of
    characters, or of words) and the concepts of its negatives (anywhere in the caption), by the rule for
    common synonyms of studylib.captions.matching: a common mention counts unless it lies within a name
    mention of another concept or a named concept may describe it (Patterns.describes)."""
    names = [(c, a, b) for c, a, b in names if c not in neg]
    named = {c for c, _, _ in names}
    kept = {
        c
        for c, a, b in commons
        if c not in neg
        and not any(d != c and x <= a and b <= y for d, x, y in names)
        and not any(pat.describes(d, c) for d in named)
    }
    return named | kept


def ahocorasick_counts(captions, pat):
    """(a): pyahocorasick over normalised captions, one caption at a time."""
    import ahocorasick

    A = ahocorasick.Automaton()
    for toks, outs in pat.phrases.items():
        key = " " + " ".join(toks) + " "
        A.add_word(key, (len(key), outs))
    A.make_automaton()
    counts = np.zeros(pat.n_concepts, dtype=np.int64)
    per_caption = []
    delete, words = APOSTROPHE_RE.sub, TOKEN_RE.findall  # the rules of patterns.tokenize (hyphens join)
    t = time.perf_counter()
    for cap in captions:
        text = " " + " ".join(words(delete("", cap.lower()))) + " "
        names, neg, common = [], set(), []
        for end, (n, outs) in A.iter(text):
            for cid, kind in outs:  # kinds NAME, NEGATIVE, COMMON = 0, 1, 2
                if kind == 1:
                    neg.add(cid)
                else:
                    (names, None, common)[kind].append((cid, end - n + 1, end + 1))
        found = sorted(named_or_common(pat, names, common, neg))
        per_caption.append(found)
        for c in found:
            counts[c] += 1
    return counts, per_caption, time.perf_counter() - t


def occurrences(text: str, part: str) -> list[int]:
    """Every start of ``part`` in ``text``."""
    out, i = [], text.find(part)
    while i >= 0:
        out.append(i)
        i = text.find(part, i + 1)
    return out


def naive_counts(captions, pat):
    """(b): for every caption, test every synonym variant with `in`."""
    lemmas = [(" " + " ".join(toks) + " ", outs) for toks, outs in pat.phrases.items()]
    counts = np.zeros(pat.n_concepts, dtype=np.int64)
    t = time.perf_counter()
    for cap in captions:
        text = " " + " ".join(tokenize(cap)) + " "
        names, neg, common = [], set(), []
        for lemma, outs in lemmas:
            if lemma in text:
                at = occurrences(text, lemma)  # only for the lemmas found
                for cid, kind in outs:  # kinds NAME, NEGATIVE, COMMON = 0, 1, 2
                    if kind == 1:
                        neg.add(cid)
                    else:
                        (names, None, common)[kind].extend((cid, i, i + len(lemma)) for i in at)
        for c in named_or_common(pat, names, common, neg):
            counts[c] += 1
    return counts, time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="captions (default 1M)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--naive-n", type=int, default=3000, help="subsample for the naive loop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "freq_throughput.txt"))
    args = ap.parse_args(argv)
    lines = []

    def say(s=""):
        print(s, flush=True)
        lines.append(s)

    pat = build_patterns("imagenet")
    t = time.perf_counter()
    caps = make_captions(args.n, pat, args.seed)
    say(
        f"freq_throughput: {args.n:,} synthetic captions (seed {args.seed}, generated in "
        f"{time.perf_counter() - t:.1f}s), {pat!r}, {os.cpu_count()} CPUs"
    )
    say(f"example captions: {caps[:3]}")

    t = time.perf_counter()
    ours = count_captions(caps, pat, workers=args.workers, keep_matches=True)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    ours1 = count_captions(caps, pat, workers=1)
    t_ours1 = time.perf_counter() - t
    say(f"ours (workers={args.workers}): {t_ours:.2f}s  {args.n / t_ours:,.0f} captions/s")
    say(f"ours (workers=1): {t_ours1:.2f}s  {args.n / t_ours1:,.0f} captions/s")

    ac_counts, ac_sets, t_ac = ahocorasick_counts(caps, pat)
    say(f"(a) pyahocorasick loop: {t_ac:.2f}s  {args.n / t_ac:,.0f} captions/s")

    sub = caps[: min(args.naive_n, args.n)]
    nv_counts, t_nv = naive_counts(sub, pat)
    rate_nv = len(sub) / t_nv
    say(
        f"(b) per-lemma `in` loop: {len(sub):,} captions in {t_nv:.2f}s  {rate_nv:,.0f} captions/s "
        f"(extrapolated to {args.n:,}: {args.n / rate_nv:,.0f}s)"
    )

    same_counts = bool(np.array_equal(ours.counts, ac_counts)) and bool(
        np.array_equal(ours1.counts, ac_counts)
    )
    ours_sets = [c.tolist() for c in ours.matches_by_caption()]
    same_sets = ours_sets == ac_sets
    sub_ours = count_captions(sub, pat).counts
    say(
        f"counts identical to pyahocorasick: {same_counts} ({int(ac_counts.sum()):,} counted "
        f"mentions, {int(np.count_nonzero(ac_counts))} concepts); per-caption matches identical: "
        f"{same_sets}; naive loop identical on its subsample: "
        f"{bool(np.array_equal(sub_ours, nv_counts))}"
    )
    say(f"captions naming a concept: {ours.n_matched:,}; naming several: {ours.n_multi:,}")
    say(
        f"ratio ours/pyahocorasick: {t_ac / t_ours:.1f}x (workers={args.workers}), "
        f"{t_ac / t_ours1:.1f}x (workers=1)"
    )
    say(
        f"ratio ours/per-lemma loop: {(args.n / rate_nv) / t_ours:,.0f}x (workers={args.workers}), "
        f"{(args.n / rate_nv) / t_ours1:,.0f}x (workers=1)"
    )
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    if not (same_counts and same_sets):
        sys.exit("MISMATCH between our matcher and the pyahocorasick reference")


if __name__ == "__main__":
    main()
