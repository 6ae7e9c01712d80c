"""Chapter 4 · discussions: is CLIP still biased, and does logit adjustment remove it? (paper Fig 11; C12)

Reads the stored logits of chapter 2's CLIP and SL runs (nothing is trained here when
chapter 2 has run; notebook ``04_discussions``) and debiases them three ways
(:mod:`studylib.debias`):

* **oracle**: the true training prior, ``logits − τ·log π``;
* **unlabelled**: DebiasPL's estimate from the held-out half of the test set without its
  labels (the model's mean prediction, iterated to its fixed point);
* **labelled (GLA)**: the prior that maximises the held-out half's likelihood.

Every method is scored on the other half (the same images for all): top-1, balanced
accuracy, accuracy on the tail third of classes, and the Spearman correlations of
#predictions and accuracy with training frequency, with paired intervals against the raw
logits. The split and τ are seeded and printed. Binned statistics (Fig 11b) show per
log-frequency bin the mean and standard deviation of per-class accuracy and #predictions.

C12: CLIP is still biased (its #predictions correlate with frequency: robustness to
imbalance, as chapter 2 measures it), and logit adjustment with an estimated prior removes
part of that bias. Fig 12: CLIP is more biased on a fine-grained concept set than on a
coarse one (CLIP on chapter 2c's world, :data:`studylib.chapters.worlds.DISTRIBUTION`, and on
the same world drawn from the dogs subtree). Fig 14: two real frequency estimators agree on
every concept set but DTD.

Run::

    python -m studylib run 04 --preset quick

Long because logit adjustment, binned statistics, real-data estimators and concept sets are chapter
4's four sections.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from studylib import debias
from studylib.chapters.evidence import QUANTITY, id_table, learned
from studylib.chapters.realdata import real_folder
from studylib.chapters.worlds import DISTRIBUTION, FEATURES, IMBALANCE, SEEDS, imbalance_specs
from studylib.claims import check, claim_row, direction, format_value
from studylib.evaluate import confusion_matrix
from studylib.inference import combine_seeds, paired_difference, paired_mean_difference
from studylib.metrics import binned, frequency_correlation, per_class_accuracy, per_class_predictions

NAME = "04_discussions"
SIZES = IMBALANCE  # chapter 2's world: its stored CLIP and SL logits are read here
SEEDS = SEEDS  # (re-exported: the chapter contract names it)
AFTER = ("02_imbalance", "02c_data_distribution")
MODELS = ("CLIP", "SL")
METHODS = ("raw", "oracle", "unlabelled", "labelled (GLA)")
HELDOUT_SHARE, TAU, TAIL_SHARE = 0.5, 1.0, 1 / 3


def specs(session, seed: int | None = None) -> dict:
    """Every run the claims need: chapter 2's CLIP and SL (the same registry entries) and CLIP on a coarse
    and a fine-grained concept set of chapter 2c's world (:func:`concept_set_specs`)."""
    every = imbalance_specs(session, None, seed)
    return {**{m: every[m] for m in MODELS}, **concept_set_specs(session, seed)}


def imbalance_runs(runs: dict) -> dict:
    """The chapter-2 runs of a :func:`specs` mapping (CLIP and SL), for the logit adjustment."""
    return {m: runs[m] for m in MODELS}


def _counts(run) -> np.ndarray:
    return id_table(run)["train_count"].to_numpy()


_ADJUSTED: dict = {}  # (run folder, seed, tau) -> adjusted_logits' result: a stored run never changes


def adjusted_logits(run, seed: int = 0, tau: float = TAU) -> dict:
    """method -> (logits, labels) on the evaluation half of the run's in-distribution test set, the priors
    removed under ``"priors"`` and the held-out half's indices under ``"heldout"``; computed once per run, seed
    and τ in a process (scores, priors and claims share it)."""
    memo = (str(run.path), seed, tau)
    if memo not in _ADJUSTED:
        if len(_ADJUSTED) > 32:
            _ADJUSTED.clear()
        _ADJUSTED[memo] = _adjusted(run, seed, tau)
    return _ADJUSTED[memo]


def _adjusted(run, seed: int, tau: float) -> dict:
    domain = run.metrics["id_domain"]
    logits = run.array(f"logits_{domain}").astype(np.float64)
    labels = run.array(f"labels_{domain}").astype(np.int64)
    held, ev = debias.heldout_split(labels, HELDOUT_SHARE, seed=seed)
    counts = _counts(run).astype(np.float64)
    priors = {
        "raw": None,
        "oracle": counts / counts.sum(),
        "unlabelled": debias.unlabelled_prior(logits[held]),
        "labelled (GLA)": debias.labelled_prior(logits[held], labels[held]),
    }
    out = {
        m: (logits[ev] if p is None else debias.adjust(logits[ev], p, tau), labels[ev])
        for m, p in priors.items()
    }
    out["priors"] = priors
    out["heldout"] = held
    return out


def real_runs(registry) -> dict:
    """label [key] -> run, for every real-data CLIP or SL run in ``registry`` (the ``paper`` preset's)."""
    return {
        f"{r.meta.get('label', 'run')} [{r.key[:6]}]": r
        for r in registry.runs()
        if r.meta.get("data") == "real" and r.config.get("train", {}).get("objective") in ("clip", "sl")
    }


def prior_summary(runs: dict, seed: int = 0, top: int = 3) -> pd.DataFrame:
    """The priors each method removes, per model: the classes with the largest estimated prior, and how far the
    estimate is from the oracle (Spearman over classes)."""
    from studylib.metrics import correlation

    rows = []
    for model, run in runs.items():
        adj = adjusted_logits(run, seed)
        names = id_table(run)["class_name"].to_numpy()
        oracle = adj["priors"]["oracle"]
        for method, prior in adj["priors"].items():
            if prior is None:
                continue
            best = np.argsort(-prior)[:top]
            rows.append(
                {
                    "model": model,
                    "method": method,
                    "largest": ", ".join(f"{names[i]} {prior[i]:.3f}" for i in best),
                    "Spearman with the true prior": correlation(prior, oracle, "spearman"),
                }
            )
    return pd.DataFrame(rows)


def per_class(logits, labels, n_classes: int) -> pd.DataFrame:
    conf = confusion_matrix(labels, logits.argmax(1), n_classes)
    return pd.DataFrame({"accuracy": per_class_accuracy(conf), "predictions": per_class_predictions(conf)})


def scores(runs: dict, seed: int = 0, tau: float = TAU) -> pd.DataFrame:
    """One row per (model, method): top-1, balanced accuracy, tail accuracy (with its 95% bootstrap interval over
    the tail classes, and chance), Spearman correlations with frequency of #predictions and accuracy (with 95%
    bootstrap intervals over classes). ``runs``: label -> run (chapter 2's CLIP and SL, or any real-data runs)."""
    rows = []
    for model in runs:
        run = runs[model]
        counts = _counts(run)
        tail = counts <= np.quantile(counts, TAIL_SHARE)
        adj = adjusted_logits(run, seed, tau)
        for method in METHODS:
            z, y = adj[method]
            pc = per_class(z, y, len(counts))
            pred = frequency_correlation(pc["predictions"], counts, seed=seed)
            acc = frequency_correlation(pc["accuracy"], counts, seed=seed)
            tail_acc = np.asarray(pc["accuracy"][tail], dtype=float)
            # the tail mean's 95% bootstrap interval over the tail classes (the mean's difference from 0)
            t = paired_mean_difference(tail_acc, np.zeros_like(tail_acc), seed=seed)
            rows.append(
                {
                    "model": model,
                    "method": method,
                    "top1": float((z.argmax(1) == y).mean()),
                    "balanced": float(pc["accuracy"].mean()),
                    "tail": float(tail_acc.mean()),
                    "tail lo": t["lo"],
                    "tail hi": t["hi"],
                    "chance": 1.0 / len(counts),
                    "r #pred": pred["r"],
                    "r #pred lo": pred["lo"],
                    "r #pred hi": pred["hi"],
                    "r acc": acc["r"],
                    "r acc lo": acc["lo"],
                    "r acc hi": acc["hi"],
                }
            )
    return pd.DataFrame(rows)


def c12_rows(runs_by_seed: dict, tau: float = TAU) -> list[dict]:
    """C12's rows for CLIP. Still biased: its Spearman(#predictions, frequency) above 0 (bootstrap over
    classes). Logit adjustment removes part of it: with the unlabelled and the labelled estimate, that
    correlation after − before below 0 (paired over the evaluation half's classes); checked that CLIP
    learned and that there is a bias to remove. The oracle prior and tail accuracy are in :func:`scores`,
    not judged."""
    tables, counts, raw, checks = {}, {}, [], []
    for k, runs in runs_by_seed.items():  # each seed's adjustments, estimated once
        counts[k] = _counts(runs["CLIP"])
        adj = adjusted_logits(runs["CLIP"], k, tau)
        tables[k] = {m: per_class(*adj[m], len(counts[k])) for m in METHODS}
        c = frequency_correlation(tables[k]["raw"]["predictions"], counts[k], seed=k)
        raw.append({"diff": c["r"], "lo": c["lo"], "hi": c["hi"]})
        checks.append(learned(f"CLIP (seed {k})", runs["CLIP"]))
    d, basis = combine_seeds(raw)
    basis = basis.replace("per-seed paired differences", "per-seed values")  # a level, not a difference
    biased = direction(
        "raw CLIP, Spearman(#predictions, frequency)",
        d["diff"],
        d["lo"],
        d["hi"],
        "above",
        basis=basis.replace("paired ", "") + "; evaluation half of the test set",
        checks=checks,
    )
    to_remove = check(
        "there is a bias to remove (raw CLIP's interval above 0)",
        biased.lo > 0,
        format_value(biased.estimate, biased.lo, biased.hi),
    )
    parts = []
    for method in ("unlabelled", "labelled (GLA)"):
        per_seed = [
            paired_difference(
                tables[k][method]["predictions"], tables[k]["raw"]["predictions"], counts[k], seed=k
            )
            for k in runs_by_seed
        ]
        d, basis = combine_seeds(per_seed)
        parts.append(
            direction(
                f"{method} − raw, Spearman(#predictions, frequency)",
                d["diff"],
                d["lo"],
                d["hi"],
                "below",
                basis=f"{basis}; τ = {tau:g}",
                checks=(*checks, to_remove),
            )
        )
    return [
        claim_row(NAME, "C12: CLIP is still biased", QUANTITY["#predictions"], [biased]),
        claim_row(
            NAME,
            "C12: logit adjustment with an estimated prior removes part of CLIP's bias",
            "change of " + QUANTITY["#predictions"],
            parts,
        ),
    ]


def binned_statistics(runs: dict, edges=None, n_bins: int = 6) -> pd.DataFrame:
    """Per model and log-frequency bin: mean and standard deviation of per-class accuracy and #predictions (raw
    logits, whole in-distribution test set). ``edges``: explicit bin edges in training pairs (else ``n_bins``
    equal-width bins of log frequency)."""
    frames = []
    for model in MODELS:
        run = runs[model]
        pc = id_table(run)
        for col in ("accuracy", "predictions"):
            b = binned(pc[col], pc["train_count"], n_bins=n_bins, edges=edges)
            frames.append(b.assign(model=model, measure=col))
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- real data: estimators and concept sets
# concept set -> (stem in ../shared/data/frequencies, stem in ../shared/data/neglected_tails)
CONCEPT_SETS = {
    "ImageNet": ("imagenet_ori", "imagenet_1k"),
    "CUB-200": ("cub", "cub2011"),
    "DTD": ("dtd", "dtd"),
    "EuroSAT": ("eurosat", "eurosat"),
    "Flowers-102": ("flowers102", "flowers102"),
    "Food-101": ("food101", "food101"),
    "Oxford Pets": ("pets", "oxford_pets"),
    "Places365": ("places365", None),
}
REAL_CORPORA = {"LAION-400M": "laion400m", "LAION-2B": "laion2b"}
NT_COLUMNS = ("matched", "relevant")


def estimator_agreement(shared_data) -> pd.DataFrame | None:
    """The paper's counts against Parashar et al.'s (``matched`` and ``relevant``), per concept set and corpus:
    classes matched (by line order or normalised name, :func:`studylib.captions.profiles.auto_alignment`), the
    unmatched ones, and the Spearman correlation. None without Parashar et al.'s counts (they do not ship:
    :mod:`studylib.chapters.realdata`)."""

    from studylib.captions.profiles import align_profiles, compare_profiles, read_profile

    freq, nt = real_folder(shared_data, "frequencies"), real_folder(shared_data, "neglected_tails")
    if freq is None or nt is None:
        return None
    rows = []
    for cset, (paper, theirs) in CONCEPT_SETS.items():
        for corpus, stem in REAL_CORPORA.items():
            ref_file, nt_file = freq / f"class_frequency_{stem}_{paper}.txt", nt / f"{theirs}__{stem}.tsv"
            if theirs is None or not ref_file.is_file() or not nt_file.is_file():
                continue
            ref = read_profile(ref_file)
            for column in NT_COLUMNS:
                try:
                    other = read_profile(f"{nt_file}:{column}")
                except ValueError as err:  # e.g. EuroSAT has no 'relevant' counts
                    rows.append(
                        {
                            "concept set": cset,
                            "corpus": corpus,
                            "estimate": column,
                            "classes": len(ref),
                            "matched": 0,
                            "spearman": float("nan"),
                            "lo": float("nan"),
                            "hi": float("nan"),
                            "unmatched": f"not available: {err}",
                        }
                    )
                    continue
                r = compare_profiles(ref, [other], align="auto").iloc[1]
                a, b = align_profiles(ref, other, "auto")
                ci = frequency_correlation(b, a, "spearman", seed=0)
                rows.append(
                    {
                        "concept set": cset,
                        "corpus": corpus,
                        "estimate": column,
                        "classes": len(ref),
                        "matched": int(r["matched"]),
                        "spearman": float(r["spearman"]),
                        "lo": ci["lo"],
                        "hi": ci["hi"],
                        "unmatched": r["unmatched"],
                    }
                )
    return pd.DataFrame(rows)


def dtd_part(pairs: dict, corpus: str):
    """One corpus's part of :func:`dtd_row`; ``pairs``: concept set -> (paper's counts, theirs), aligned."""
    from studylib.inference import unpaired_difference
    from studylib.metrics import correlation

    r = {name: correlation(b, a, "spearman") for name, (a, b) in pairs.items() if name != "DTD"}
    low = min(r, key=r.get)
    (fa, va), (fb, vb) = pairs["DTD"], pairs[low]
    d = unpaired_difference(va, fa, vb, fb, seed=0)
    return direction(
        f"{corpus}: DTD − {low}",
        d["diff"],
        d["lo"],
        d["hi"],
        "below",
        basis=f"DTD {d['a']:.3f}, {low} {d['b']:.3f} (the lowest of the other sets); unpaired "
        "bootstrap over each set's classes",
    )


def dtd_row(shared_data) -> dict | None:
    """The paper's reading of Fig 14 as a claim row: the two estimators agree on every concept set except DTD.
    Per corpus, DTD's Spearman between the estimators minus that of the set agreeing least after DTD (the
    closest comparison by point estimate), with an unpaired bootstrap over each set's classes
    (different classes; classes the paper counts 0 times are left out). ``relevant`` counts, or ``matched``
    where a set has none. None when the shared folders hold no DTD."""
    parts = []
    for corpus in REAL_CORPORA:
        pairs = aligned_pairs(shared_data, corpus)
        if "DTD" in pairs and len(pairs) > 1:
            parts.append(dtd_part(pairs, corpus))
    if not parts:
        return None
    return claim_row(
        NAME,
        "Fig 14: the two frequency estimators agree on every concept set except DTD",
        "Spearman between the paper's and Parashar et al.'s per-class counts",
        parts,
    )


def concept_set_imbalance(shared_data) -> pd.DataFrame | None:
    """Imbalance of each concept set's real profile per corpus (paper's counts): classes, max/median, Gini,
    Zipf α (Fig 12), from the user's folder or the packaged copy (:mod:`studylib.chapters.realdata`)."""

    from studylib.captions.profiles import imbalance_stats, read_profile

    freq = real_folder(shared_data, "frequencies")
    if freq is None:
        return None
    rows = []
    for cset, (paper, _) in CONCEPT_SETS.items():
        for corpus, stem in REAL_CORPORA.items():
            f = freq / f"class_frequency_{stem}_{paper}.txt"
            if f.is_file():
                st = imbalance_stats(read_profile(f).to_numpy())
                rows.append(
                    {
                        "concept set": cset,
                        "corpus": corpus,
                        **{k: st[k] for k in ("classes", "max_over_median", "gini", "zipf_alpha")},
                    }
                )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the world: estimators against the truth
ESTIMATORS = ("exact name", "names + synonyms", "+ ambiguity rules", "+ MiniLM relevance filter")


def estimator_comparison(world) -> pd.DataFrame:
    """Caption-based frequency estimators scored against the world's true labels: precision and recall of the
    (caption, concept) matches and the Spearman correlation of estimated with true counts per concept."""
    from studylib.captions.counting import count_captions
    from studylib.captions.patterns import ConceptSpec, imagenet_specs
    from studylib.captions.relevance import confusable_concepts, relevant_matches
    from studylib.captions.scoring import score_matches
    from studylib.concepts import embed_texts, semantic_vectors

    concepts = list(world.concepts) + list(world.open_concepts)
    captions, labels = world.train.captions, world.train.labels
    imagenet = imagenet_specs(negatives=True)  # indexed by ImageNet class index
    specs = {
        "exact name": [ConceptSpec(c.name, (c.name,)) for c in concepts],
        "names + synonyms": [ConceptSpec(c.name, tuple(c.synonyms) or (c.name,)) for c in concepts],
        # freq count's ImageNet rules: shared names only where negative contexts tell them apart, negative
        # contexts, common words ("ear", "spot") unless within another's name or described by a named concept
        "+ ambiguity rules": [imagenet[c.index] for c in concepts],
    }
    rows, counted = [], {}
    for name, spec in specs.items():
        counted[name] = count_captions(captions, spec, keep_matches=True)
        rows.append(
            {
                "estimator": name,
                **score_matches(counted[name], labels, len(concepts))["overall"].iloc[0].to_dict(),
            }
        )
    negatives = counted["+ ambiguity rules"]  # the filter refines the last estimator's matches
    mc, mk = negatives.match_caption.astype(np.int64), negatives.match_concept.astype(np.int64)
    keep = relevant_matches(
        mc,
        mk,
        embed_texts(list(captions)),
        semantic_vectors(concepts),
        confusable_concepts([s.synonyms for s in specs["+ ambiguity rules"]]),
    )
    per_caption = [[] for _ in range(len(captions))]
    for c, k in zip(mc[keep], mk[keep]):
        per_caption[c].append(int(k))
    rows.append(
        {
            "estimator": ESTIMATORS[-1],
            **score_matches(per_caption, labels, len(concepts))["overall"].iloc[0].to_dict(),
        }
    )
    return pd.DataFrame(rows)[
        ["estimator", "captions", "predicted", "true", "precision", "recall", "f1", "spearman"]
    ]


def bin_trend(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and measure: the mean in the most frequent bin minus the mean in the rarest, in standard
    deviations of the rarest bin (how visible a trend is against the spread within bins)."""
    rows = []
    for (model, measure), g in table.groupby(["model", "measure"], sort=False):
        g = g.sort_values("centre")
        lo, hi = g.iloc[0], g.iloc[-1]
        rows.append(
            {
                "model": model,
                "measure": measure,
                "rarest bin": lo["mean"],
                "most frequent bin": hi["mean"],
                "difference": hi["mean"] - lo["mean"],
                "in rarest-bin stds": (hi["mean"] - lo["mean"]) / lo["std"]
                if lo["std"] > 0
                else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def aligned_pairs(shared_data, corpus: str = "LAION-400M") -> dict:
    """concept set -> (paper's counts, Parashar et al.'s) aligned class by class (``relevant`` counts, or
    ``matched`` where a set has none), for the log-log panels of Fig 14."""

    from studylib.captions.profiles import align_profiles, read_profile

    freq, nt = real_folder(shared_data, "frequencies"), real_folder(shared_data, "neglected_tails")
    if freq is None or nt is None:
        return {}
    stem = REAL_CORPORA[corpus]
    out = {}
    for cset, (paper, theirs) in CONCEPT_SETS.items():
        ref_file, nt_file = freq / f"class_frequency_{stem}_{paper}.txt", nt / f"{theirs}__{stem}.tsv"
        if theirs is None or not ref_file.is_file() or not nt_file.is_file():
            continue
        for column in ("relevant", "matched"):
            try:
                out[cset] = align_profiles(
                    read_profile(ref_file), read_profile(f"{nt_file}:{column}"), "auto"
                )
                break
            except ValueError:
                continue
    return out


# ---------------------------------------------------------------- the world: a coarse and a fine-grained set
CONCEPT_WORLDS = {"coarse (random concepts)": {}, "fine-grained (dogs)": {"subset": "subtree:dogs"}}
CONCEPT_SET_CLASSES = 100  # the dogs subtree holds 118 ImageNet classes: both sets take at most this many
# Each set's profile (the shared folder's frequencies, else the packaged copy): the coarse set takes its classes' own ImageNet
# counts in LAION-400M; the fine-grained set takes the shape of CUB-200's LAION-400M counts (the rarer
# profile the paper blames for fine-grained bias; dogs stand in for birds, which ImageNet lacks), its 200
# counts read at evenly spaced quantiles and given to the dogs in a seeded random order. Both keep the same
# pairs per class: CUB's absolute counts, about 60x rarer than ImageNet's, would leave two pairs per class.
# Without either (a broken install) both sets are Zipf (α = 1).
SHARED_FREQUENCIES = real_folder(None, "frequencies")  # the copy that ships: the same on every clone
COARSE_COUNTS, FINE_COUNTS = "class_frequency_laion400m_imagenet_ori.txt", "class_frequency_laion400m_cub.txt"


def fine_profile_file(world_seed: int, folder: Path = SHARED_FREQUENCIES) -> Path:
    """A ``classname<TAB>count`` file giving every dogs class a count of CUB-200's LAION-400M profile (written
    once under the cache, named by its content)."""
    import hashlib

    from studylib import seeds
    from studylib.captions.patterns import imagenet_specs
    from studylib.captions.profiles import read_profile
    from studylib.concepts import SUBTREES
    from studylib.fileio import atomic_write_text, cache_dir

    lo, hi = SUBTREES["dogs"]
    names = [spec.name for spec in imagenet_specs(negatives=False)][lo:hi]
    counts = read_profile(folder / FINE_COUNTS).to_numpy(dtype=float)
    values = np.round(np.quantile(counts, np.linspace(0, 1, len(names)))).astype(int)
    order = seeds.rng(world_seed, "profile", 1).permutation(len(names))
    text = "".join(f"{names[i]}\t{values[j]}\n" for j, i in enumerate(order))
    path = (
        cache_dir("profiles") / f"cub-laion400m-on-dogs-{hashlib.sha256(text.encode()).hexdigest()[:12]}.txt"
    )
    if not path.is_file():
        atomic_write_text(path, text)
    return path


def concept_set_profiles(world_seed: int, folder: Path = SHARED_FREQUENCIES) -> dict:
    """set name -> the profile parameters of its world: the real profiles where ``folder`` exists, else Zipf."""
    if folder is None or not (folder / COARSE_COUNTS).is_file() or not (folder / FINE_COUNTS).is_file():
        return {name: {"profile": "zipf", "zipf_alpha": 1.0} for name in CONCEPT_WORLDS}
    return {
        "coarse (random concepts)": {"profile": str(folder / COARSE_COUNTS)},
        "fine-grained (dogs)": {"profile": str(fine_profile_file(world_seed, folder))},
    }


def concept_set_specs(session, seed: int | None = None) -> dict:
    """CLIP (scratch text tower) on chapter 2c's world and on the same world drawn from the dogs subtree, at
    chapter 2c's sizes (:data:`~studylib.chapters.worlds.DISTRIBUTION`) cut to at most
    :data:`CONCEPT_SET_CLASSES` classes with the pairs per class kept, each with its profile
    (:func:`concept_set_profiles`)."""
    seed = session.params["seed"] if seed is None else seed
    from studylib.spec import resolve

    # chapter 2c's world and model sizes; the render and training settings stay the session's (so a
    # `-p render=pixels` holds)
    sizes = {k: v for k, v in DISTRIBUTION[session.preset].items() if k not in FEATURES}
    models = resolve(session.preset, DISTRIBUTION[session.preset])
    sizes.update({k: models[k] for k in ("width", "text_width", "embed_dim", "text_layers")})
    n = min(sizes["n_classes"], CONCEPT_SET_CLASSES)
    sizes.update(n_classes=n, n_train=round(sizes["n_train"] * n / sizes["n_classes"]))
    profiles = concept_set_profiles(session.params["world_seed"])
    return {
        name: session.spec(
            name, objective="clip", seed=seed, text_tower="scratch", **sizes, **extra, **profiles[name]
        )
        for name, extra in CONCEPT_WORLDS.items()
    }


def fine_vs_coarse(runs_by_seed: dict) -> dict:
    """Fig 12 on the world as a claim row: CLIP's Spearman(#predictions, frequency) on the fine-grained set
    minus on the coarse one, above 0. Different classes, so an unpaired bootstrap (each set's classes
    resampled on their own); checked that CLIP learned on both."""
    from studylib.inference import unpaired_difference

    per_seed, checks = [], []
    for k, runs in runs_by_seed.items():
        fine, coarse = (id_table(runs[n]) for n in ("fine-grained (dogs)", "coarse (random concepts)"))
        per_seed.append(
            unpaired_difference(
                fine["predictions"], fine["train_count"], coarse["predictions"], coarse["train_count"], seed=k
            )
        )
        checks += [learned(f"CLIP, {n} (seed {k})", runs[n]) for n in CONCEPT_WORLDS]
    d, basis = combine_seeds(per_seed)
    basis = basis.replace("paired bootstrap over classes", "unpaired bootstrap over classes").replace(
        "per-seed paired differences", "per-seed differences"
    )
    part = direction(
        "fine-grained (dogs) − coarse", d["diff"], d["lo"], d["hi"], "above", basis=basis, checks=checks
    )
    return claim_row(
        NAME, "Fig 12: CLIP is more biased on a fine-grained concept set", QUANTITY["#predictions"], [part]
    )


def claims(session, runs_by_seed: dict) -> list[dict]:
    """C12's rows (τ from the session's ``tau``, else :data:`TAU`) and the fine-grained row, from the runs of
    :func:`specs` per seed."""
    tau = session.parameters.get("tau", TAU)
    return [*c12_rows(runs_by_seed, tau), fine_vs_coarse(runs_by_seed)]


def full_adds(preset: str) -> str:
    return "chapter 2's and 2c's `full` worlds (more classes and pairs, more epochs)"
