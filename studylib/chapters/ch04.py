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

C12: CLIP is still biased (its #predictions correlate with frequency), and logit adjustment
with an estimated prior removes part of that bias.

Run::

    python -m studylib run 04 --preset quick
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib import debias
from studylib.evaluate import confusion_matrix
from studylib.chapters.ch02 import DEFAULT_VOCAB_K, SIZES, id_table, model_specs, part_rows, part_verdicts
from studylib.inference import combine_seeds, paired_difference, paired_mean_difference, verdict
from studylib.metrics import binned, frequency_correlation, per_class_accuracy, per_class_predictions

NAME = "04_discussions"
MODELS = ("CLIP", "SL")
METHODS = ("raw", "oracle", "unlabelled", "labelled (GLA)")
HELDOUT_SHARE, TAU, TAIL_SHARE = 0.5, 1.0, 1 / 3


def specs(s, seed: int | None = None) -> dict:
    """Chapter 2's CLIP and SL runs (the same registry entries)."""
    every = model_specs(s, DEFAULT_VOCAB_K, seed)
    return {m: every[m] for m in MODELS}


def _counts(run) -> np.ndarray:
    return id_table(run)["train_count"].to_numpy()


_ADJUSTED: dict = {}          # (run folder, seed, tau) -> adjusted_logits' result: a stored run never changes


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
    priors = {"raw": None, "oracle": counts / counts.sum(),
              "unlabelled": debias.unlabelled_prior(logits[held]),
              "labelled (GLA)": debias.labelled_prior(logits[held], labels[held])}
    out = {m: (logits[ev] if p is None else debias.adjust(logits[ev], p, tau), labels[ev]) for m, p in priors.items()}
    out["priors"] = priors
    out["heldout"] = held
    return out


def real_runs(registry) -> dict:
    """label [key] -> run, for every real-data CLIP or SL run in ``registry`` (the ``paper`` preset's)."""
    return {f"{r.meta.get('label', 'run')} [{r.key[:6]}]": r for r in registry.runs()
            if r.meta.get("data") == "real" and r.config.get("train", {}).get("objective") in ("clip", "sl")}


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
            rows.append({"model": model, "method": method, "largest": ", ".join(f"{names[i]} {prior[i]:.3f}"
                                                                              for i in best),
                         "Spearman with the true prior": correlation(prior, oracle, "spearman")})
    return pd.DataFrame(rows)


def per_class(logits, labels, n_classes: int) -> pd.DataFrame:
    conf = confusion_matrix(labels, logits.argmax(1), n_classes)
    return pd.DataFrame({"accuracy": per_class_accuracy(conf), "predictions": per_class_predictions(conf)})


def scores(runs: dict, seed: int = 0, tau: float = TAU) -> pd.DataFrame:
    """One row per (model, method): top-1, balanced accuracy, tail accuracy, Spearman correlations with
    frequency of #predictions and accuracy (with 95% bootstrap intervals over classes). ``runs``: label -> run
    (chapter 2's CLIP and SL, or any real-data runs)."""
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
            rows.append({"model": model, "method": method, "top1": float((z.argmax(1) == y).mean()),
                         "balanced": float(pc["accuracy"].mean()), "tail": float(pc["accuracy"][tail].mean()),
                         "r #pred": pred["r"], "r #pred lo": pred["lo"], "r #pred hi": pred["hi"],
                         "r acc": acc["r"], "r acc lo": acc["lo"], "r acc hi": acc["hi"]})
    return pd.DataFrame(rows)


def claims(runs_by_seed: dict, tau: float = TAU) -> pd.DataFrame:
    """C12's parts for CLIP. Still biased: the #predictions correlation with frequency above 0 (bootstrap over
    classes). Debiasing removes part of it: with the unlabelled and the labelled estimate, the correlation
    after − before below 0 (paired over classes), and tail accuracy after − before (reported)."""
    tables, counts = {}, {}
    for k, runs in runs_by_seed.items():             # each seed's adjustments, estimated once
        counts[k] = _counts(runs["CLIP"])
        adj = adjusted_logits(runs["CLIP"], k, tau)
        tables[k] = {m: per_class(*adj[m], len(counts[k])) for m in METHODS}
    per_seed = []
    for k in runs_by_seed:
        c = frequency_correlation(tables[k]["raw"]["predictions"], counts[k], seed=k)
        per_seed.append({"diff": c["r"], "lo": c["lo"], "hi": c["hi"]})
    d, basis = combine_seeds(per_seed)
    rows = [{"part": "CLIP is still biased", "comparison": "raw CLIP", "measure": "Spearman(#predictions, frequency)",
             "difference": d["diff"], "lo": d["lo"], "hi": d["hi"], "interval": basis.replace("paired ", ""),
             "claim": "above 0", "verdict": verdict(d, "above")}]
    for method in ("unlabelled", "labelled (GLA)", "oracle"):
        for measure in ("Spearman(#predictions, frequency)", "tail accuracy"):
            per_seed = []
            for k in runs_by_seed:
                after, before = tables[k][method], tables[k]["raw"]
                if measure == "tail accuracy":
                    tail = counts[k] <= np.quantile(counts[k], TAIL_SHARE)
                    per_seed.append(paired_mean_difference(after["accuracy"][tail], before["accuracy"][tail], seed=k))
                else:
                    per_seed.append(paired_difference(after["predictions"], before["predictions"], counts[k], seed=k))
            d, basis = combine_seeds(per_seed)
            decides = method != "oracle" and measure != "tail accuracy"
            claim = "above" if measure == "tail accuracy" else "below"
            rows.append({"part": "logit adjustment removes part of it" if decides else "reported",
                         "comparison": f"{method} − raw", "measure": measure, "difference": d["diff"], "lo": d["lo"],
                         "hi": d["hi"], "interval": basis, "claim": f"difference {claim} 0", "verdict": verdict(d, claim)})
    return pd.DataFrame(rows)


def c12_verdicts(table: pd.DataFrame) -> dict:
    return part_verdicts(table, table["part"] != "reported")


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
CONCEPT_SETS = {"ImageNet": ("imagenet_ori", "imagenet_1k"), "CUB-200": ("cub", "cub2011"), "DTD": ("dtd", "dtd"),
                "EuroSAT": ("eurosat", "eurosat"), "Flowers-102": ("flowers102", "flowers102"),
                "Food-101": ("food101", "food101"), "Oxford Pets": ("pets", "oxford_pets"),
                "Places365": ("places365", None)}
REAL_CORPORA = {"LAION-400M": "laion400m", "LAION-2B": "laion2b"}
NT_COLUMNS = ("matched", "relevant")


def estimator_agreement(shared_data) -> pd.DataFrame | None:
    """The paper's counts against Parashar et al.'s (``matched`` and ``relevant``), per concept set and corpus:
    classes matched (by line order or normalised name, :func:`studylib.captions.profiles.auto_alignment`), the
    unmatched ones, and the Spearman correlation. None when the shared folders are absent."""
    from pathlib import Path

    from studylib.captions.profiles import align_profiles, compare_profiles, read_profile

    freq, nt = Path(shared_data) / "frequencies", Path(shared_data) / "neglected_tails"
    if not (freq.is_dir() and nt.is_dir()):
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
                except ValueError as err:                      # e.g. EuroSAT has no 'relevant' counts
                    rows.append({"concept set": cset, "corpus": corpus, "estimate": column, "classes": len(ref),
                                 "matched": 0, "spearman": float("nan"), "lo": float("nan"), "hi": float("nan"),
                                 "unmatched": f"not available: {err}"})
                    continue
                r = compare_profiles(ref, [other], align="auto").iloc[1]
                a, b = align_profiles(ref, other, "auto")
                ci = frequency_correlation(b, a, "spearman", seed=0)
                rows.append({"concept set": cset, "corpus": corpus, "estimate": column, "classes": len(ref),
                             "matched": int(r["matched"]), "spearman": float(r["spearman"]), "lo": ci["lo"],
                             "hi": ci["hi"], "unmatched": r["unmatched"]})
    return pd.DataFrame(rows)


def dtd_is_the_exception(agreement: pd.DataFrame, estimate: str = "relevant") -> dict:
    """The paper's reading of Fig 14: the two estimators agree on every concept set except DTD. Per corpus,
    DTD's Spearman interval must lie wholly below every other set's (independent class sets, so separated 95%
    intervals, a conservative test). Uses ``estimate`` counts, or ``matched`` where a set has none."""
    from studylib.inference import WORDS, joint_verdict

    words = {}
    for corpus, g in agreement.groupby("corpus", sort=False):
        best = g[g["estimate"] == estimate].set_index("concept set")
        fallback = g[g["estimate"] == "matched"].set_index("concept set")
        best = best.where(best["spearman"].notna(), fallback.reindex(best.index))
        if "DTD" not in best.index or best["spearman"].isna().all():
            continue
        dtd, rest = best.loc["DTD"], best.drop(index="DTD").dropna(subset=["lo"])
        if dtd["hi"] < rest["lo"].min():
            words[corpus] = WORDS["reproduced"]
        elif dtd["lo"] > rest["hi"].min():
            words[corpus] = WORDS["opposite"]
        else:
            words[corpus] = WORDS["inconclusive"]
    return {"per corpus": words, "verdict": joint_verdict(words.values()) if words else "not run"}


def concept_set_imbalance(shared_data) -> pd.DataFrame | None:
    """Imbalance of each concept set's real profile per corpus (paper's counts): classes, max/median, Gini,
    Zipf α (Fig 12). None when the shared folder is absent."""
    from pathlib import Path

    from studylib.captions.profiles import imbalance_stats, read_profile

    freq = Path(shared_data) / "frequencies"
    if not freq.is_dir():
        return None
    rows = []
    for cset, (paper, _) in CONCEPT_SETS.items():
        for corpus, stem in REAL_CORPORA.items():
            f = freq / f"class_frequency_{stem}_{paper}.txt"
            if f.is_file():
                st = imbalance_stats(read_profile(f).to_numpy())
                rows.append({"concept set": cset, "corpus": corpus, **{k: st[k] for k in
                             ("classes", "max_over_median", "gini", "zipf_alpha")}})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the world: estimators against the truth
ESTIMATORS = ("exact name", "names + synonyms", "+ negative contexts", "+ MiniLM relevance filter")


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
    imagenet = imagenet_specs(negatives=True)                # indexed by ImageNet class index
    specs = {"exact name": [ConceptSpec(c.name, (c.name,)) for c in concepts],
             "names + synonyms": [ConceptSpec(c.name, tuple(c.synonyms) or (c.name,)) for c in concepts],
             "+ negative contexts": [imagenet[c.index] for c in concepts]}
    rows, counted = [], {}
    for name, spec in specs.items():
        counted[name] = count_captions(captions, spec, keep_matches=True)
        rows.append({"estimator": name,
                     **score_matches(counted[name], labels, len(concepts))["overall"].iloc[0].to_dict()})
    negatives = counted["+ negative contexts"]                # the filter refines the last estimator's matches
    mc, mk = negatives.match_caption.astype(np.int64), negatives.match_concept.astype(np.int64)
    keep = relevant_matches(mc, mk, embed_texts(list(captions)), semantic_vectors(concepts),
                            confusable_concepts([s.synonyms for s in specs["+ negative contexts"]]))
    per_caption = [[] for _ in range(len(captions))]
    for c, k in zip(mc[keep], mk[keep]):
        per_caption[c].append(int(k))
    rows.append({"estimator": ESTIMATORS[-1],
                 **score_matches(per_caption, labels, len(concepts))["overall"].iloc[0].to_dict()})
    return pd.DataFrame(rows)[["estimator", "captions", "predicted", "true", "precision", "recall", "f1",
                               "spearman"]]


def bin_trend(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and measure: the mean in the most frequent bin minus the mean in the rarest, in standard
    deviations of the rarest bin (how visible a trend is against the spread within bins)."""
    rows = []
    for (model, measure), g in table.groupby(["model", "measure"], sort=False):
        g = g.sort_values("centre")
        lo, hi = g.iloc[0], g.iloc[-1]
        rows.append({"model": model, "measure": measure, "rarest bin": lo["mean"], "most frequent bin": hi["mean"],
                     "difference": hi["mean"] - lo["mean"], "in rarest-bin stds": (hi["mean"] - lo["mean"]) / lo["std"]
                     if lo["std"] > 0 else float("nan")})
    return pd.DataFrame(rows)


def aligned_pairs(shared_data, corpus: str = "LAION-400M") -> dict:
    """concept set -> (paper's counts, Parashar et al.'s) aligned class by class (``relevant`` counts, or
    ``matched`` where a set has none), for the log-log panels of Fig 14."""
    from pathlib import Path

    from studylib.captions.profiles import align_profiles, read_profile

    freq, nt = Path(shared_data) / "frequencies", Path(shared_data) / "neglected_tails"
    stem = REAL_CORPORA[corpus]
    out = {}
    for cset, (paper, theirs) in CONCEPT_SETS.items():
        ref_file, nt_file = freq / f"class_frequency_{stem}_{paper}.txt", nt / f"{theirs}__{stem}.tsv"
        if theirs is None or not ref_file.is_file() or not nt_file.is_file():
            continue
        for column in ("relevant", "matched"):
            try:
                out[cset] = align_profiles(read_profile(ref_file), read_profile(f"{nt_file}:{column}"), "auto")
                break
            except ValueError:
                continue
    return out


# ---------------------------------------------------------------- the world: a coarse and a fine-grained set
CONCEPT_WORLDS = {"coarse (random concepts)": {}, "fine-grained (dogs)": {"subset": "subtree:dogs"}}


def concept_set_specs(s, seed: int | None = None) -> dict:
    """CLIP (scratch text tower, Zipf α=1) on chapter 2c's world and on the same world drawn from the dogs
    subtree; ``s`` is a session with chapter 2c's sizes (so the coarse run is 2c's own, from the registry)."""
    seed = s.params["seed"] if seed is None else seed
    return {name: s.spec(name, objective="clip", seed=seed, text_tower="scratch", zipf_alpha=1.0, **extra)
            for name, extra in CONCEPT_WORLDS.items()}


def fine_vs_coarse(runs_by_seed: dict) -> pd.DataFrame:
    """CLIP's Spearman(#predictions, frequency) on the fine-grained set minus on the coarse one: different classes,
    so an unpaired bootstrap (each set's classes resampled on their own); claim: above 0."""
    from studylib.inference import unpaired_difference

    per_seed = []
    for k, runs in runs_by_seed.items():
        fine, coarse = (id_table(runs[n]) for n in ("fine-grained (dogs)", "coarse (random concepts)"))
        per_seed.append(unpaired_difference(fine["predictions"], fine["train_count"], coarse["predictions"],
                                            coarse["train_count"], seed=k))
    d, basis = combine_seeds(per_seed)
    return pd.DataFrame([{"part": "CLIP is more biased on a fine-grained set",
                          "comparison": "fine-grained (dogs) − coarse", "measure": "Spearman(#predictions, frequency)",
                          "difference": d["diff"], "lo": d["lo"], "hi": d["hi"],
                          "interval": basis.replace("paired bootstrap over classes", "unpaired bootstrap over classes"),
                          "claim": "difference above 0", "verdict": verdict(d, "above")}])


def summary(registry, preset: str = "quick") -> list[dict]:
    """C12's parts and the fine-grained comparison, with computed verdicts from the registry's runs."""
    from studylib.chapters.ch02c import SIZES as WORLD_SIZES
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    cs = Session(NAME, preset, sizes=WORLD_SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, k))
    sets_by_seed = stored_by_seed(registry, cs, lambda k: concept_set_specs(cs, k))
    if missing := not_run(NAME, *runs_by_seed.values(), *sets_by_seed.values()):
        return missing
    t = claims(runs_by_seed)
    describe = lambda r: f"{r.comparison}, {r.measure} {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]"   # noqa: E731
    fine = fine_vs_coarse(sets_by_seed)
    return (part_rows(NAME, t[t["part"] != "reported"], c12_verdicts(t), prefix="C12: ", describe=describe)
            + part_rows(NAME, fine, part_verdicts(fine), describe=describe))
