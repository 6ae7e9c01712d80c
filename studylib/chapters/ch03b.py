"""Chapter 3b · DINO on imbalanced data: does prototype subsampling rescue it? (paper Fig 10, Table 1; C9, C10)

DINO (:mod:`studylib.objectives.dino`) pretrains without labels on one concept pool, the
WordNet *artifacts* (notebook ``03b_dino``):

* on a **balanced, curated** world (the ``imagenet`` source: centred photos, a balanced
  profile), the stand-in for ImageNet;
* on a **long-tailed, web-like** world (the ``web`` source, a Zipf profile), the stand-in
  for web data (as in the paper, the two differ in style as well as in balance);

each with and without **prototype subsampling** (``dino_proto_k`` prototypes per step).
Every pretrained backbone is then probed, frozen, on downstream tasks from a disjoint pool,
the *animals*: a coarse task (random animals), a fine-grained one (the dogs subtree), and
the coarse task's classes rendered as sketches (a shifted domain). The probe is a
nearest-class-mean classifier (:mod:`studylib.objectives.probe`: a one-centroid kNN, one
pass over the data, far cheaper than a linear probe).

C9: imbalance hurts DINO's transfer, and prototype subsampling recovers most of it.
C10 (the paper's Table 1): far fewer than all prototypes are unique
(:func:`studylib.metrics.unique_prototypes`, eps 0.025), and fewer on imbalanced data.

Run::

    python -m studylib run 03b --preset quick
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from studylib.chapters.ch02 import id_table, part_rows, part_verdicts
from studylib.inference import WORDS, combine_seeds, over_seeds, paired_mean_difference, verdict

NAME = "03b_dino"
# The pretraining pool and model: DINO's own sizes (the world's scale: prototypes in the hundreds to thousands).
SIZES = {
    "smoke": dict(n_classes=16, n_train=640, test_per_class=4, epochs=1, batch_size=32, dino_prototypes=64,
                  dino_local_crops=1),
    "quick": dict(n_classes=100, n_train=5000, test_per_class=10, epochs=3, batch_size=64, dino_prototypes=1024),
    "full": dict(n_classes=300, n_train=60000, test_per_class=20, epochs=30, batch_size=128, dino_prototypes=4096),
}
PROTO_K = {"smoke": 16, "quick": 128, "full": 512}
POOL = "subtree:artifacts"
PRETRAIN = {"balanced, curated": dict(profile="balanced", source="imagenet"),
            "long-tailed, web": dict(profile="zipf", zipf_alpha=1.0, source="web")}
# Downstream tasks from the disjoint animal pool: (world, test domain), balanced, probe images per class.
DOWNSTREAM = {"coarse": "subtree:animals", "fine": "subtree:dogs"}
TASKS = {"coarse": ("coarse", "photo"), "fine-grained": ("fine", "photo"), "shifted": ("coarse", "sketch")}
DOWNSTREAM_CLASSES = {"smoke": 8, "quick": 50, "full": 100}
PROBE_PER_CLASS = {"smoke": 4, "quick": 10, "full": 30}
DOWNSTREAM_SEED_OFFSET = 2000


def pretrain_label(data: str, subsampled: bool) -> str:
    return f"DINO, {data}" + (", prototype subsampling" if subsampled else "")


def pretrained_labels() -> list[str]:
    """The four DINO pretraining runs' labels, in :func:`pretrain_specs`' order."""
    return [pretrain_label(data, sub) for data in PRETRAIN for sub in (False, True)]


def probe_label(pretrained: str, world: str) -> str:
    return f"{pretrained} → {world} probe"


def pretrain_specs(s, seed: int | None = None) -> dict:
    seed = s.params["seed"] if seed is None else seed
    out = {}
    for data, world in PRETRAIN.items():
        for sub in (False, True):
            name = pretrain_label(data, sub)
            out[name] = s.spec(name, objective="dino", seed=seed, subset=POOL, test_domains=("photo",),
                               dino_proto_k=PROTO_K[s.preset] if sub else 0, **world)
    return out


def specs(s, seed: int | None = None) -> dict:
    """The four DINO pretraining runs and a probe of each on each downstream world."""
    pre = pretrain_specs(s, seed)
    n, per = DOWNSTREAM_CLASSES[s.preset], PROBE_PER_CLASS[s.preset]
    out = dict(pre)
    for name, dino in pre.items():
        for world, subset in DOWNSTREAM.items():
            domains = tuple(dict.fromkeys(d for w, d in TASKS.values() if w == world))
            out[probe_label(name, world)] = s.spec(
                probe_label(name, world), objective="probe", subset=subset, n_classes=n, n_train=n * per,
                min_per_class=per, profile="balanced", source="imagenet", test_domains=domains,
                world_seed=s.params["world_seed"] + DOWNSTREAM_SEED_OFFSET, batch_size=n * per,
                seed=dino.params["seed"], deps={"backbone": dino})
    return out


def _accuracy(run, domain: str) -> np.ndarray:
    return id_table(run, domain)["accuracy"].to_numpy()


def transfer(runs: dict) -> pd.DataFrame:
    """Probe top-1 of every pretrained backbone on every downstream task."""
    rows = []
    for name in pretrained_labels():
        for task, (world, domain) in TASKS.items():
            rows.append({"pretrained": name, "task": task,
                         "top1": runs[probe_label(name, world)].metrics[f"top1_{domain}"]})
    return pd.DataFrame(rows)


def claims(runs_by_seed: dict) -> pd.DataFrame:
    """C9's parts on every downstream task, paired over its classes (per seed, then over seeds):
    imbalance hurts (balanced − web > 0, no subsampling), and subsampling recovers most of the loss
    ((web+sub − web) − (balanced − web+sub) > 0, i.e. more than half the gap closed)."""
    bal, web, web_sub = (pretrain_label("balanced, curated", False), pretrain_label("long-tailed, web", False),
                         pretrain_label("long-tailed, web", True))
    rows = []
    for task, (world, domain) in TASKS.items():
        for part, comparison, values in (
                ("imbalance hurts transfer", "balanced − web", lambda a: (a[bal], a[web])),
                ("prototype subsampling recovers most of it", "(web+sub − web) − (balanced − web+sub)",
                 lambda a: (2 * a[web_sub] - a[web], a[bal]))):
            per_seed = []
            for k, runs in runs_by_seed.items():
                acc = {m: _accuracy(runs[probe_label(m, world)], domain) for m in (bal, web, web_sub)}
                per_seed.append(paired_mean_difference(*values(acc), seed=k))
            d, basis = combine_seeds(per_seed)
            rows.append({"part": part, "task": task, "comparison": comparison, "measure": "probe top-1",
                         "difference": d["diff"], "lo": d["lo"], "hi": d["hi"],
                         "interval": basis.replace("classes", "downstream classes"), "claim": "difference above 0",
                         "verdict": verdict(d, "above")})
    return pd.DataFrame(rows)


# C10's first part: "far fewer than all" read as fewer than half, fixed before any run (the paper finds well
# under 1% of DINO ViT-B/16's 65,536 prototypes unique).
FAR_FEWER = 0.5


def prototypes(runs_by_seed: dict) -> pd.DataFrame:
    """Unique prototypes (eps 0.025) of every DINO run, per seed."""
    rows = []
    for k, runs in runs_by_seed.items():
        for name in pretrained_labels():
            m = runs[name].metrics
            rows.append({"seed": k, "pretrained": name, "unique": m["unique_prototypes"],
                         "prototypes": m["n_prototypes"], "share": m["unique_prototypes"] / m["n_prototypes"]})
    return pd.DataFrame(rows)


def c10(table: pd.DataFrame) -> pd.DataFrame:
    """C10's parts. Far fewer unique: every run's observed share below :data:`FAR_FEWER` (a count of a trained
    model, observed, not estimated). Fewer on imbalanced data: web − balanced unique share, mean and t interval
    over seeds, with and without subsampling (one seed gives no interval: inconclusive)."""
    below = table["share"] < FAR_FEWER
    word = WORDS["reproduced"] if below.all() else WORDS["opposite"] if not below.any() else WORDS["inconclusive"]
    rows = [{"part": "far fewer than all prototypes are unique", "comparison": f"unique share < {FAR_FEWER:g}",
             "difference": float(table["share"].max()), "lo": float(table["share"].min()),
             "hi": float(table["share"].max()), "interval": "observed shares of every run (min, max)",
             "verdict": word}]
    for sub in (False, True):
        diffs = [g.set_index("pretrained")["share"] for _, g in table.groupby("seed")]
        d = over_seeds([x[pretrain_label("long-tailed, web", sub)] - x[pretrain_label("balanced, curated", sub)]
                        for x in diffs])
        rows.append({"part": "fewer unique on imbalanced data",
                     "comparison": "web − balanced" + (", subsampled" if sub else ""), "difference": d["mean"],
                     "lo": d["lo"], "hi": d["hi"], "interval": f"t interval over {d['n']} seed(s)",
                     "verdict": verdict({"lo": d["lo"], "hi": d["hi"]}, "below")})
    return pd.DataFrame(rows)


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset`` (the notebook says it)."""
    f, p = SIZES["full"], SIZES[preset]
    return (f"{f['n_classes']} pretraining concepts and {f['n_train']} images (here {p['n_classes']} and "
            f"{p['n_train']}), {f['epochs']} epochs (here {p['epochs']}), {f['dino_prototypes']} prototypes; three seeds")


def summary(registry, preset: str = "quick") -> list[dict]:
    """C9 and C10 with their computed verdicts from the registry's runs."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, k))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    c9, t10 = claims(runs_by_seed), c10(prototypes(runs_by_seed))
    rows = part_rows(NAME, c9, part_verdicts(c9), prefix="C9: ",
                     describe=lambda r: f"{r.task}: {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]")
    return rows + part_rows(NAME, t10, part_verdicts(t10), prefix="C10: ",
                            describe=lambda r: f"{r.comparison}: {r.difference:.3f} [{r.lo:.3f}, {r.hi:.3f}]")
