"""Chapter 3a · SL under an extreme long tail: can SL get CLIP's reach into the tail? (paper Figs 8-9; C8)

The training set's rarest classes are trimmed to one pair each (one-shot) or none
(zero-shot); every model is evaluated on all classes, and accuracy is reported on the
trimmed tail and on the other classes separately (notebook ``03a_extreme_tail``):

* SL with a linear head (shown, never a baseline: it scores 0 on classes it never saw, by
  construction);
* SL with **fixed class prototypes**: the class-prompt embeddings of the pretraining-world
  CLIP (:func:`studylib.chapters.pretraining.pretraining_spec`: a world holding every
  ImageNet concept, so its text tower has seen each class named; chapter 2c trains it);
* the same with **vocabulary subsampling** (``vocab_k`` classes scored per step);
* SL with the concepts' MiniLM vectors as prototypes, a labelled control (once an oracle, when those
  vectors generated most of each class's look; with ``semantic_share`` = 0.5 they know half of it),
  without and with vocabulary subsampling;
* **CLIP with that text tower frozen**.

C8: CLIP with the frozen pretrained tower reaches the zero-/one-shot tail, and SL gets there
with fixed CLIP prototypes *and* vocabulary subsampling, not with the prototypes alone. Each
model's tail top-1 is judged against chance; CLIP with the frozen tower, whose class embeddings are
SL's CLIP prototypes, is the manipulation check that these fixed prototypes can be reached in this
world's tail at all. Fig 9 asks why: the
heads' absolute cosine affinities and the effective rank of the tail rows (do SL's tail
weights collapse together?) and the per-class accuracy and #predictions of head and tail.
The world is chapter 2c's (:data:`studylib.chapters.worlds.DISTRIBUTION`).

Run::

    python -m studylib run 03a --preset quick

Long because the trims, six heads, tail statistics, head geometry and C8's rows read one set of
runs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters.evidence import beyond, chance, id_table, learned
from studylib.chapters.pretraining import pretraining_spec
from studylib.chapters.worlds import DISTRIBUTION, SEEDS
from studylib.claims import baseline_can_lose, check, claim_row, direction, format_value, untestable
from studylib.inference import combine_seeds, paired_mean_difference
from studylib.metrics import class_resamples, percentile_interval
from studylib.seeds import substream

NAME = "03a_extreme_tail"
SIZES = DISTRIBUTION  # chapter 2c's world, tested on photos only: the tail is measured in distribution
SEEDS = SEEDS  # (re-exported: the chapter contract names it)
AFTER = ("02c_data_distribution",)  # its world and the pretraining-world CLIP are chapter 2c's runs
TAIL_SHARES = {"smoke": (0.25,), "quick": (0.3,), "full": (0.1, 0.3)}  # share of classes trimmed
SHOTS = {"one-shot": 1, "zero-shot": 0}  # pairs each trimmed class keeps
# classes scored per step: above the distinct classes of one batch (about 100 of 256 pairs at quick), so that
# subsampling adds extra classes as negatives, not only the batch's own
VOCAB_K = {"smoke": 8, "quick": 160, "full": 320}
LINEAR, PROTOS, PROTOS_VOCAB = "SL, linear", "SL, CLIP prototypes", "SL, CLIP prototypes + vocab"
ORACLE, ORACLE_VOCAB = "SL, MiniLM prototypes (oracle)", "SL, MiniLM prototypes + vocab (oracle)"
CLIP_FROZEN = "CLIP, frozen text tower"
MODELS = (LINEAR, PROTOS, PROTOS_VOCAB, ORACLE, ORACLE_VOCAB, CLIP_FROZEN)
# SL's fixed CLIP prototypes *are* the frozen-tower CLIP's class embeddings (same tower, same prompts), so one
# panel shows both; the oracle's prototypes are the third.
AFFINITY_MODELS = (LINEAR, CLIP_FROZEN, ORACLE)
QUANTITY = {
    "tail": "tail top-1: mean per-class accuracy on the trimmed classes, against chance (1 / #classes)",
    "difference": "tail top-1: mean per-class accuracy on the trimmed classes, against chance (the prototypes "
    "alone) and paired over them (subsampling's gain)",
    "collapse": "geometry of the trimmed classes' head rows: mean cosine between them (absolute, not "
    "relative to the head's mean) and their effective rank (exp entropy of normalised "
    "singular values)",
}


def tail_classes(counts, share: float) -> np.ndarray:
    """Sorted indices of the rarest ``round(share · C)`` classes (ties: lower class index first)."""
    counts = np.asarray(counts)
    n = int(round(share * len(counts)))
    if not 0 < n < len(counts):
        raise ValueError(
            f"a tail share of {share} trims {n} of {len(counts)} classes; it must trim some, not all"
        )
    return np.sort(np.argsort(counts, kind="stable")[:n])


def trimmed_keep(labels, tail, shots: int, seed: int = 0) -> np.ndarray:
    """Training indices kept: every pair of the other classes and ``shots`` seeded pairs of each tail class."""
    labels = np.asarray(labels)
    in_tail = np.isin(labels, tail)
    keep = [np.flatnonzero(~in_tail)]
    rng = np.random.default_rng(
        substream(seed, shots)
    )  # one sub-stream per trim: one-shot and zero-shot differ
    for c in tail:
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(
                f"class {c} has {len(members)} training pairs, fewer than the {shots} it should keep"
            )
        keep.append(rng.choice(members, size=shots, replace=False))
    return np.sort(np.concatenate(keep))


def tails_of(world, preset: str) -> dict:
    """tail share -> the trimmed classes of ``world`` (the same for every training seed)."""
    return {share: tail_classes(world.class_counts, share) for share in TAIL_SHARES[preset]}


def label(model: str, mode: str, share: float) -> str:
    return f"{model} · {mode} {share:g}"


def specs(session, seed: int | None = None) -> dict:
    """Every model at every (tail share, one-/zero-shot) trim of the session's world (chapter 2c's)."""
    seed = session.params["seed"] if seed is None else seed
    world, pre, k = session.world(), pretraining_spec(session, seed), VOCAB_K[session.preset]
    heads = {
        LINEAR: dict(objective="sl"),
        PROTOS: dict(objective="sl", head="prototype", deps={"prototypes": pre}),
        PROTOS_VOCAB: dict(objective="sl", head="prototype", vocab_k=k, deps={"prototypes": pre}),
        ORACLE: dict(objective="sl", head="prototype"),
        ORACLE_VOCAB: dict(objective="sl", head="prototype", vocab_k=k),
        CLIP_FROZEN: dict(objective="clip", text_tower="frozen", deps={"text_init": pre}),
    }
    out = {}
    for share, tail in tails_of(world, session.preset).items():
        for mode, shots in SHOTS.items():
            keep = trimmed_keep(world.train.labels, tail, shots, seed=session.params["world_seed"])
            for model in MODELS:
                name = label(model, mode, share)
                out[name] = session.spec(name, train_subset=keep, seed=seed, **heads[model])
    return out


def per_class(run, tail) -> pd.DataFrame:
    """A run's per-class accuracy and #predictions on its in-distribution test set, every class (those trimmed
    to nothing included), with ``tail`` marking the trimmed ones."""
    table = id_table(run)
    return table.assign(tail=table["class_index"].isin(tail).to_numpy())


def table(runs: dict, tails: dict, preset: str) -> pd.DataFrame:
    """Per-class rows of every run: model, mode, tail share, class, tail flag, accuracy, #predictions."""
    frames = []
    for share in TAIL_SHARES[preset]:
        for mode in SHOTS:
            for model in MODELS:
                pc = per_class(runs[label(model, mode, share)], tails[share])
                frames.append(
                    pc[["class_index", "tail", "train_count", "accuracy", "predictions"]].assign(
                        model=model, mode=mode, share=share
                    )
                )
    return pd.concat(frames, ignore_index=True)


def group_means(per_class_rows: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy on the trimmed tail and on the other classes, per model, mode and share."""
    g = per_class_rows.assign(group=np.where(per_class_rows["tail"], "tail", "others"))
    return g.pivot_table(
        index=["share", "mode", "model"], columns="group", values="accuracy", sort=False
    ).reset_index()


def tail_accuracy(run, tail) -> np.ndarray:
    """Per-class accuracy of ``run`` on the ``tail`` classes."""
    pc = per_class(run, tail)
    return pc.loc[pc["tail"], "accuracy"].to_numpy()


def mean_interval(values, seed: int = 0, n_boot: int = 2000) -> dict:
    """The mean of per-class values with a 95% percentile bootstrap interval over the classes."""
    v = np.asarray(values, dtype=float)
    lo, hi = percentile_interval(v[class_resamples(len(v), n_boot, seed)].mean(1))
    return {"diff": float(v.mean()), "lo": lo, "hi": hi}


def tail_difference(runs: dict, a: str, b: str, tail, seed: int = 0) -> dict:
    """Tail top-1 of ``a`` − ``b`` paired over the tail classes, refusing a baseline ``b`` that cannot lose
    (:func:`studylib.claims.baseline_can_lose`: e.g. a linear head on classes it never saw, 0 by construction,
    against which every difference is ≥ 0 before any training)."""
    base = baseline_can_lose(tail_accuracy(runs[b], tail), f"{b} on the trimmed tail")
    return paired_mean_difference(tail_accuracy(runs[a], tail), base, seed=seed)


def tail_top1(runs_by_seed: dict, model: str, mode: str, share: float, tail) -> tuple[dict, str, float, list]:
    """``model``'s tail top-1 with its interval (bootstrap over tail classes; t over seeds where several),
    what the interval rests on, chance, and a "learned" check per seed (top-1 over all classes > 1.5×
    chance)."""
    per_seed, floor, learnt = [], [], []
    for k, runs in runs_by_seed.items():
        run = runs[label(model, mode, share)]
        per_seed.append(mean_interval(tail_accuracy(run, tail), seed=k))
        floor.append(chance(run))
        learnt.append(learned(f"{model} ({mode} {share:g}, seed {k})", run))
    d, basis = combine_seeds(per_seed)
    # a level, not a difference: say so (combine_seeds words its basis for paired differences)
    basis = basis.replace("paired bootstrap over classes", "bootstrap over tail classes").replace(
        "per-seed paired differences", "per-seed values"
    )
    return d, basis, max(floor), learnt


def reaches_tail(runs_by_seed: dict, model: str, mode: str, share: float, tail, checks=(), claim="above"):
    """Part: ``model``'s tail top-1 above chance (``claim="below"``: the claim that it does *not* reach the
    tail, reproduced only where its interval lies below chance). A tail accuracy at or below chance is not
    reaching the tail, whatever a baseline scores."""
    d, basis, floor, learnt = tail_top1(runs_by_seed, model, mode, share, tail)
    return direction(
        f"{model}, {mode} {share:g}: tail top-1",
        d["diff"],
        d["lo"],
        d["hi"],
        claim,
        basis=f"{basis}; chance {floor:.3f}",
        checks=(*learnt, *checks),
        threshold=floor,
    )


def reachable_check(runs_by_seed: dict, mode: str, share: float, tail):
    """Manipulation check: the fixed CLIP prototypes can be reached in this world's tail at all (CLIP with the
    frozen tower, whose class embeddings are those very prototypes, has a tail top-1 interval above chance). If
    not even CLIP reaches them, a failure of SL with those prototypes says nothing about the recipe. (The MiniLM
    prototypes were this check while MiniLM generated most of each class's look; with ``semantic_share`` = 0.5
    they are no ceiling.)"""
    d, _, floor, _ = tail_top1(runs_by_seed, CLIP_FROZEN, mode, share, tail)
    return check(
        f"the CLIP prototypes can be reached in the tail: CLIP with them frozen does ({mode} {share:g})",
        d["lo"] > floor,
        f"tail top-1 {format_value(d['diff'], d['lo'], d['hi'])}, chance {floor:.3f}",
    )


def prototypes_alone(runs_by_seed: dict, mode: str, share: float, tail, checks=()):
    """Part: SL with CLIP prototypes + subsampling − the prototypes alone, tail top-1 paired over tail
    classes, above 0; untestable where the baseline cannot lose (constant over the tail classes)."""
    name = f"{PROTOS_VOCAB} − {PROTOS}, {mode} {share:g}: tail top-1"
    try:
        per_seed = [
            tail_difference(runs, label(PROTOS_VOCAB, mode, share), label(PROTOS, mode, share), tail, seed=k)
            for k, runs in runs_by_seed.items()
        ]
    except ValueError as err:
        return untestable(name, check("the baseline could lose", False, str(err).split(":")[0]))
    d, basis = combine_seeds(per_seed)
    return direction(
        name,
        d["diff"],
        d["lo"],
        d["hi"],
        "above",
        basis=basis.replace("classes", "tail classes"),
        checks=checks,
    )


def c8_rows(runs_by_seed: dict, tails: dict, preset: str) -> list[dict]:
    """C8's three claim rows, each with one part per (tail share, one-/zero-shot trim)."""
    grid = [(share, mode) for share in TAIL_SHARES[preset] for mode in SHOTS]
    reachable = {(s, m): reachable_check(runs_by_seed, m, s, tails[s]) for s, m in grid}
    clip = [reaches_tail(runs_by_seed, CLIP_FROZEN, m, s, tails[s]) for s, m in grid]
    sl = [
        reaches_tail(runs_by_seed, PROTOS_VOCAB, m, s, tails[s], checks=(reachable[s, m],)) for s, m in grid
    ]
    # "not with the prototypes alone": they do not reach the tail by themselves, and subsampling adds to them
    alone = [
        part
        for s, m in grid
        for part in (
            reaches_tail(runs_by_seed, PROTOS, m, s, tails[s], checks=(reachable[s, m],), claim="below"),
            prototypes_alone(runs_by_seed, m, s, tails[s], checks=(reachable[s, m],)),
        )
    ]
    return [
        claim_row(
            NAME,
            "C8: CLIP with a frozen pretrained text tower reaches the trimmed tail",
            QUANTITY["tail"],
            clip,
        ),
        claim_row(
            NAME,
            "C8: SL reaches the tail with fixed CLIP prototypes and vocabulary subsampling",
            QUANTITY["tail"],
            sl,
        ),
        claim_row(
            NAME,
            "C8: not with the CLIP prototypes alone (they miss the tail; subsampling adds to them)",
            QUANTITY["difference"],
            alone,
        ),
    ]


# ---------------------------------------------------------------- Fig 9: why
def affinity(weights, order=None) -> np.ndarray:
    """Cosine similarities between the rows of a classification head (classes in ``order``)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[order] if order is not None else w
    w = w / np.linalg.norm(w, axis=1, keepdims=True).clip(1e-12)
    return w @ w.T


def tail_cosine(weights, tail) -> np.ndarray:
    """Per tail class: its mean cosine to the other tail classes' head rows, as is (not minus the head's mean
    cosine: a head whose rows all sit at cosine 0.9 is collapsed, however uniformly)."""
    a = affinity(weights)[np.ix_(tail, tail)]
    return (a.sum(1) - np.diag(a)) / (len(tail) - 1)


def effective_rank(rows) -> float:
    """exp(entropy) of the normalised singular values of the unit-normalised rows: about how many directions
    they span (1 when all rows are parallel, the row count when they are orthogonal; Roy & Vetterli 2007)."""
    w = np.asarray(rows, dtype=np.float64)
    w = w / np.linalg.norm(w, axis=1, keepdims=True).clip(1e-12)
    return spectral_rank(np.linalg.svd(w, compute_uv=False))


def spectral_rank(singular_values) -> float:
    """exp(entropy) of singular values normalised to sum to 1."""
    s = np.asarray(singular_values, dtype=np.float64)
    p = s[s > 1e-12] / s.sum()
    return float(np.exp(-(p * np.log(p)).sum()))


def rank_difference(a, b) -> dict:
    """effective_rank(a) − effective_rank(b) of two heads' rows of the same classes, with a paired jackknife
    interval over those classes (leave one class out of both heads; estimate ± 1.96 jackknife SE). Not the
    class bootstrap: a resample repeats rows, and repeated rows lower a rank by themselves, so its interval
    would sit below the estimate."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n = len(a)
    full = effective_rank(a) - effective_rank(b)
    loo = np.array(
        [effective_rank(np.delete(a, i, 0)) - effective_rank(np.delete(b, i, 0)) for i in range(n)]
    )
    se = float(np.sqrt((n - 1) / n * ((loo - loo.mean()) ** 2).sum()))
    return {
        "diff": full,
        "lo": full - 1.96 * se,
        "hi": full + 1.96 * se,
        "a": effective_rank(a),
        "b": effective_rank(b),
    }


def collapse_parts(heads_by_seed: dict, tail, learner: str = LINEAR, fixed: str = CLIP_FROZEN) -> list:
    """Does ``learner``'s head collapse its tail rows more than the ``fixed`` prototypes? Per seed, the tail
    rows' absolute mean cosine (paired bootstrap over tail classes, above 0) and their effective rank (paired
    jackknife over tail classes, below 0); ``heads_by_seed``: seed -> model -> head weights. Each part's
    basis gives both heads' values."""
    cos, rank, shown = [], [], {"cos": [], "rank": []}
    for k, heads in heads_by_seed.items():
        a, b = heads[learner], heads[fixed]
        c = paired_mean_difference(tail_cosine(a, tail), tail_cosine(b, tail), seed=k)
        r = rank_difference(a[tail], b[tail])
        cos.append(c), rank.append(r)
        shown["cos"].append(f"{c['a']:.2f} vs {c['b']:.2f}")
        shown["rank"].append(f"{r['a']:.1f} vs {r['b']:.1f} of {len(tail)} rows")
    out = []
    for key, per_seed, what, claim in (
        ("cos", cos, "mean cosine between tail rows", "above"),
        ("rank", rank, "effective rank of the tail rows", "below"),
    ):
        d, basis = combine_seeds(per_seed)
        basis = basis.replace("classes", "tail classes") + f"; {learner} vs {fixed}: " + ", ".join(shown[key])
        basis = basis if key == "cos" else basis.replace("paired bootstrap", "paired jackknife")
        out.append(direction(f"{learner} − {fixed}: {what}", d["diff"], d["lo"], d["hi"], claim, basis=basis))
    return out


def head_weights(runs_by_seed: dict, share: float, mode: str = "zero-shot") -> dict:
    """seed -> model -> classifier weights of the affinity models at one trim."""
    return {
        k: {m: runs[label(m, mode, share)].array("classifier_weights") for m in AFFINITY_MODELS}
        for k, runs in runs_by_seed.items()
    }


def collapse_row(runs_by_seed: dict, tails: dict, preset: str) -> dict:
    """Fig 9's explanation as a claim row: SL's learned tail rows collapse together, fixed CLIP prototypes do
    not (zero-shot trim, largest share)."""
    share = max(TAIL_SHARES[preset])
    parts = collapse_parts(head_weights(runs_by_seed, share), tails[share])
    return claim_row(
        NAME,
        "Fig 9: SL's tail head rows collapse together, fixed CLIP prototypes do not",
        QUANTITY["collapse"],
        parts,
    )


def claims(session, runs_by_seed: dict) -> list[dict]:
    """C8's rows and Fig 9's collapse row, from the runs of :func:`specs` per seed."""
    tails = tails_of(session.world(), session.preset)
    return [*c8_rows(runs_by_seed, tails, session.preset), collapse_row(runs_by_seed, tails, session.preset)]


def tail_reach(runs: dict, tails: dict, preset: str) -> pd.DataFrame:
    """Per model and trim: tail top-1, chance, and the tail top-1 above chance as a share of frozen CLIP's
    (whose class embeddings are SL's CLIP prototypes): how much of what those prototypes allow a model reaches."""
    rows = []
    for share in TAIL_SHARES[preset]:
        for mode in SHOTS:
            top = {m: float(tail_accuracy(runs[label(m, mode, share)], tails[share]).mean()) for m in MODELS}
            c = chance(runs[label(CLIP_FROZEN, mode, share)])
            span = top[CLIP_FROZEN] - c
            rows += [
                {
                    "share": share,
                    "mode": mode,
                    "model": m,
                    "tail top-1": t,
                    "chance": c,
                    "share of frozen CLIP's reach": (t - c) / span if span > 0 else float("nan"),
                }
                for m, t in top.items()
            ]
    return pd.DataFrame(rows)


def affinities(runs: dict, tail, preset: str) -> dict:
    """model -> head affinity matrix (zero-shot trim, largest share), other classes first, then the tail."""
    share = max(TAIL_SHARES[preset])
    n = len(runs[label(MODELS[0], "zero-shot", share)].array("classifier_weights"))
    order = np.concatenate([np.setdiff1d(np.arange(n), tail), tail])
    return {
        m: affinity(runs[label(m, "zero-shot", share)].array("classifier_weights"), order)
        for m in AFFINITY_MODELS
    }


def head_geometry(matrices: dict, n_tail: int) -> pd.DataFrame:
    """Mean off-diagonal cosine (absolute) within the tail, within the other classes and between them, and the
    effective rank of the tail rows, per head (matrices from :func:`affinities`: other classes first, the
    ``n_tail`` tail classes last; the rank from the tail block's eigenvalues, the squared singular values)."""
    rows = []
    for model, a in matrices.items():
        n = len(a)
        off = ~np.eye(n, dtype=bool)
        t, r = slice(n - n_tail, n), slice(0, n - n_tail)
        rank = spectral_rank(np.sqrt(np.linalg.eigvalsh(a[t, t]).clip(0)))
        rows.append(
            {
                "model": model,
                "tail-tail": float(a[t, t][off[t, t]].mean()),
                "others-others": float(a[r, r][off[r, r]].mean()),
                "tail-others": float(a[t, r].mean()),
                f"effective rank of the {n_tail} tail rows": rank,
            }
        )
    return pd.DataFrame(rows)


def tail_predictions(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean #predictions per class, trimmed tail and other classes, per model, mode and share."""
    g = rows.assign(group=np.where(rows["tail"], "tail", "others"))
    return g.pivot_table(
        index=["share", "mode", "model"], columns="group", values="predictions", sort=False
    ).reset_index()


def full_adds(preset: str) -> str:
    return f"tail shares {beyond(TAIL_SHARES['full'], TAIL_SHARES[preset])}; a larger world (500 classes)"
