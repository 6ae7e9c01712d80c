"""Chapter 3a · SL under an extreme long tail: can SL get CLIP's reach into the tail? (paper Figs 8-9; C8)

The training set's rarest classes are trimmed to one pair each (one-shot) or none
(zero-shot); every model is evaluated on all classes, and accuracy is reported on the
trimmed tail and on the other classes separately (notebook ``03a_extreme_tail``):

* SL with a linear head;
* SL with **fixed class prototypes**: the class-prompt embeddings of the pretraining-world
  CLIP (:func:`studylib.chapters.pretraining.pretraining_spec`: a world holding every
  ImageNet concept, so its text tower has seen each class named; chapter 2c trains it);
* the same with **vocabulary subsampling** (``vocab_k`` classes scored per step);
* SL with the concepts' MiniLM vectors as prototypes, a labelled **oracle** control (those
  vectors generate this world's pixels);
* **CLIP with that text tower frozen**.

C8: CLIP with the frozen pretrained tower reaches the zero-/one-shot tail, and SL gets there
with fixed CLIP prototypes *and* vocabulary subsampling, not with the prototypes alone. Fig 9
asks why: the heads' cosine affinities (do SL's tail weights collapse together?) and the
per-class accuracy and #predictions of head and tail. The world is chapter 2c's.

Run::

    python -m studylib run 03a --preset quick
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters.ch02 import beyond, id_table, part_rows, part_verdicts
from studylib.chapters.ch02c import SIZES
from studylib.chapters.pretraining import pretraining_spec
from studylib.inference import combine_seeds, paired_mean_difference, verdict

NAME = "03a_extreme_tail"
TAIL_SHARES = {"smoke": (0.25,), "quick": (0.3,), "full": (0.1, 0.3, 0.5)}   # share of classes trimmed
SHOTS = {"one-shot": 1, "zero-shot": 0}                                       # pairs each trimmed class keeps
VOCAB_K = {"smoke": 8, "quick": 32, "full": 64}
MODELS = ("SL, linear", "SL, CLIP prototypes", "SL, CLIP prototypes + vocab", "SL, MiniLM prototypes (oracle)",
          "CLIP, frozen text tower")
# SL's fixed CLIP prototypes *are* the frozen-tower CLIP's class embeddings (same tower, same prompts), so one
# panel shows both; the oracle's prototypes are the third.
AFFINITY_MODELS = ("SL, linear", "CLIP, frozen text tower", "SL, MiniLM prototypes (oracle)")


def tail_classes(counts, share: float) -> np.ndarray:
    """Sorted indices of the rarest ``round(share · C)`` classes (ties: lower class index first)."""
    counts = np.asarray(counts)
    n = int(round(share * len(counts)))
    if not 0 < n < len(counts):
        raise ValueError(f"a tail share of {share} trims {n} of {len(counts)} classes; it must trim some, not all")
    return np.sort(np.argsort(counts, kind="stable")[:n])


def trimmed_keep(labels, tail, shots: int, seed: int = 0) -> np.ndarray:
    """Training indices kept: every pair of the other classes and ``shots`` seeded pairs of each tail class."""
    labels = np.asarray(labels)
    in_tail = np.isin(labels, tail)
    keep = [np.flatnonzero(~in_tail)]
    rng = np.random.default_rng([seed, shots])
    for c in tail:
        members = np.flatnonzero(labels == c)
        if len(members) < shots:
            raise ValueError(f"class {c} has {len(members)} training pairs, fewer than the {shots} it should keep")
        keep.append(rng.choice(members, size=shots, replace=False))
    return np.sort(np.concatenate(keep))


def tails_of(world, preset: str) -> dict:
    """tail share -> the trimmed classes of ``world`` (the same for every training seed)."""
    return {share: tail_classes(world.class_counts, share) for share in TAIL_SHARES[preset]}


def label(model: str, mode: str, share: float) -> str:
    return f"{model} · {mode} {share:g}"


def specs(s, world, seed: int | None = None) -> dict:
    """Every model at every (tail share, one-/zero-shot) trim of ``world``'s training set."""
    seed = s.params["seed"] if seed is None else seed
    pre = pretraining_spec(s, seed)
    heads = {"SL, linear": dict(objective="sl"),
             "SL, CLIP prototypes": dict(objective="sl", head="prototype", deps={"prototypes": pre}),
             "SL, CLIP prototypes + vocab": dict(objective="sl", head="prototype", vocab_k=VOCAB_K[s.preset],
                                                 deps={"prototypes": pre}),
             "SL, MiniLM prototypes (oracle)": dict(objective="sl", head="prototype"),
             "CLIP, frozen text tower": dict(objective="clip", text_tower="frozen", deps={"text_init": pre})}
    out = {}
    for share in TAIL_SHARES[s.preset]:
        tail = tail_classes(world.class_counts, share)
        for mode, shots in SHOTS.items():
            keep = trimmed_keep(world.train.labels, tail, shots, seed=s.params["world_seed"])
            for model in MODELS:
                name = label(model, mode, share)
                out[name] = s.spec(name, keep=keep, seed=seed, **heads[model])
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
                frames.append(pc[["class_index", "tail", "train_count", "accuracy", "predictions"]]
                              .assign(model=model, mode=mode, share=share))
    return pd.concat(frames, ignore_index=True)


def group_means(per_class_rows: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy on the trimmed tail and on the other classes, per model, mode and share."""
    g = per_class_rows.assign(group=np.where(per_class_rows["tail"], "tail", "others"))
    return g.pivot_table(index=["share", "mode", "model"], columns="group", values="accuracy",
                         sort=False).reset_index()


def _tail_accuracy(run, tail) -> np.ndarray:
    pc = per_class(run, tail)
    return pc.loc[pc["tail"], "accuracy"].to_numpy()


# (part, comparison a − b, claim): each on the tail classes' accuracy, paired over those classes
PARTS = (("CLIP with a frozen pretrained tower reaches the tail", "CLIP, frozen text tower", "SL, linear", "above"),
         ("SL reaches it with CLIP prototypes and vocabulary subsampling", "SL, CLIP prototypes + vocab",
          "SL, linear", "above"),
         ("not with the prototypes alone", "SL, CLIP prototypes + vocab", "SL, CLIP prototypes", "above"),
         ("oracle control (reported)", "SL, MiniLM prototypes (oracle)", "SL, linear", None))


def claims(runs_by_seed: dict, tails: dict, preset: str) -> pd.DataFrame:
    """C8's parts at every (share, mode): tail accuracy a − b, paired over the tail classes (per seed, then a t
    interval over seeds where there are several)."""
    rows = []
    for share in TAIL_SHARES[preset]:
        for mode in SHOTS:
            for part, a, b, claim in PARTS:
                per_seed = [paired_mean_difference(_tail_accuracy(runs[label(a, mode, share)], tails[share]),
                                                   _tail_accuracy(runs[label(b, mode, share)], tails[share]),
                                                   seed=k) for k, runs in runs_by_seed.items()]
                d, basis = combine_seeds(per_seed)
                rows.append({"part": part, "share": share, "mode": mode, "comparison": f"{a} − {b}",
                             "measure": "tail top-1", "difference": d["diff"], "lo": d["lo"], "hi": d["hi"],
                             "interval": basis.replace("classes", "tail classes"),
                             "claim": f"difference {claim} 0" if claim else "reported",
                             "verdict": verdict(d, claim) if claim else ""})
    return pd.DataFrame(rows)


def c8_verdicts(claims_table: pd.DataFrame, collapse_table: pd.DataFrame) -> dict:
    """part -> verdict over every share and mode, the collapse of SL's tail included (the oracle control
    decides nothing)."""
    t = pd.concat([claims_table, collapse_table], ignore_index=True)
    return part_verdicts(t, t["claim"] != "reported")


# ---------------------------------------------------------------- Fig 9: why
def affinity(weights, order=None) -> np.ndarray:
    """Cosine similarities between the rows of a classification head (classes in ``order``)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w[order] if order is not None else w
    w = w / np.linalg.norm(w, axis=1, keepdims=True).clip(1e-12)
    return w @ w.T


def tail_cohesion(weights, tail) -> np.ndarray:
    """Per tail class: its mean cosine to the other tail classes' head rows minus its mean cosine to the other
    classes' rows. Above 0: the tail rows sit closer to each other than to the rest (they collapse together);
    the subtraction removes how spread the head is overall."""
    a = affinity(weights)
    rest = np.setdiff1d(np.arange(len(a)), tail)
    within = (a[np.ix_(tail, tail)].sum(1) - np.diag(a)[tail]) / (len(tail) - 1)
    return within - a[np.ix_(tail, rest)].mean(1)


def collapse(runs_by_seed: dict, tails: dict, preset: str) -> pd.DataFrame:
    """Do SL's tail head rows collapse together? Per tail class, its :func:`tail_cohesion` in SL's learned
    linear head minus in CLIP's class embeddings (zero-shot trim, largest share), paired over tail classes."""
    share = max(TAIL_SHARES[preset])
    per_seed = []
    for k, runs in runs_by_seed.items():
        w = {m: runs[label(m, "zero-shot", share)].array("classifier_weights") for m in ("SL, linear",
                                                                                           "CLIP, frozen text tower")}
        per_seed.append(paired_mean_difference(tail_cohesion(w["SL, linear"], tails[share]),
                                               tail_cohesion(w["CLIP, frozen text tower"], tails[share]), seed=k))
    d, basis = combine_seeds(per_seed)
    return pd.DataFrame([{"part": "SL's tail head rows collapse together", "share": share, "mode": "zero-shot",
                          "comparison": "SL, linear − CLIP, frozen text tower", "measure": "tail cohesion (cosine)",
                          "difference": d["diff"], "lo": d["lo"], "hi": d["hi"],
                          "interval": basis.replace("classes", "tail classes"), "claim": "difference above 0",
                          "verdict": verdict(d, "above")}])


def affinities(runs: dict, tail, preset: str) -> dict:
    """model -> head affinity matrix (zero-shot trim, largest share), other classes first, then the tail."""
    share = max(TAIL_SHARES[preset])
    n = len(runs[label(MODELS[0], "zero-shot", share)].array("classifier_weights"))
    order = np.concatenate([np.setdiff1d(np.arange(n), tail), tail])
    return {m: affinity(runs[label(m, "zero-shot", share)].array("classifier_weights"), order)
            for m in AFFINITY_MODELS}


def head_geometry(matrices: dict, n_tail: int) -> pd.DataFrame:
    """Mean off-diagonal cosine within the tail, within the other classes and between them, per head (matrices
    from :func:`affinities`: other classes first, the ``n_tail`` tail classes last)."""
    rows = []
    for model, a in matrices.items():
        n = len(a)
        off = ~np.eye(n, dtype=bool)
        t, r = slice(n - n_tail, n), slice(0, n - n_tail)
        rows.append({"model": model, "tail-tail": float(a[t, t][off[t, t]].mean()),
                     "others-others": float(a[r, r][off[r, r]].mean()), "tail-others": float(a[t, r].mean())})
    return pd.DataFrame(rows)


def tail_predictions(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean #predictions per class, trimmed tail and other classes, per model, mode and share."""
    g = rows.assign(group=np.where(rows["tail"], "tail", "others"))
    return g.pivot_table(index=["share", "mode", "model"], columns="group", values="predictions",
                         sort=False).reset_index()


def full_adds(preset: str) -> str:
    return f"tail shares {beyond(TAIL_SHARES['full'], TAIL_SHARES[preset])}; three seeds"


def summary(registry, preset: str = "quick") -> list[dict]:
    """C8's parts and the collapse of SL's tail, with computed verdicts from the registry's runs."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    world = s.world()
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, world, k))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    tails = tails_of(world, preset)
    c, why = claims(runs_by_seed, tails, preset), collapse(runs_by_seed, tails, preset)
    t = pd.concat([c[c["claim"] != "reported"], why], ignore_index=True)
    return part_rows(NAME, t, c8_verdicts(c, why), prefix="C8: ",
                     describe=lambda r: f"{r.mode} {r.share:g}: {r.comparison} {r.difference:+.3f} "
                                        f"[{r.lo:+.3f}, {r.hi:+.3f}]")
