"""Chapter 2e · open-world concepts: do captions naming other concepts help CLIP, and not SL? (claim C7)

CLIP and SL trained on the evaluated classes alone, and on the same images of those classes
plus pairs of concepts from a disjoint pool of real ImageNet concepts, rendered in the same
world (notebook ``02e_open_world``). SL's label space grows with the pool; both are
evaluated on the evaluated classes only. The world is chapter 2b's
(:data:`studylib.chapters.worlds.LANGUAGE`), so the closed-world runs are chapter 2b's.

C7 is about discriminability (top-1 on the balanced in-distribution test set): CLIP gains from
the pool, and gains more than SL (a paired difference of the two gains over the same classes).
SL's own gain is shown beside them, not judged.

Run::

    python -m studylib run 02e --preset quick
"""

from __future__ import annotations

import pandas as pd

from studylib.chapters import worlds
from studylib.chapters.evidence import QUANTITY, learned_checks, paired_part, paired_tables
from studylib.claims import claim_row, direction
from studylib.inference import combine_seeds, paired_mean_difference

NAME = "02e_open_world"
SIZES = worlds.LANGUAGE
SEEDS = worlds.SEEDS
AFTER = ("02b_language_and_vocabulary",)  # its closed-world CLIP and SL
# The open pool: as many concepts as the evaluated classes, and pairs (balanced over the pool) as a share of
# theirs: as many again at full, half as many at quick (to fit the study's 15 minutes).
OPEN_CLASSES = 1.0
OPEN_PAIRS = {"smoke": 1.0, "quick": 0.5, "full": 1.0}
C7 = "C7: open-world concepts raise CLIP's top-1, more than SL's"


def open_params(session) -> dict:
    return {
        "open_world": round(session.params["n_classes"] * OPEN_CLASSES),
        "open_world_pairs": round(session.params["n_train"] * OPEN_PAIRS.get(session.preset, 1.0)),
    }


def specs(session, seed: int | None = None) -> dict:
    """CLIP and SL, closed world and with the open pool (same images of the evaluated classes)."""
    seed = session.params["seed"] if seed is None else seed
    out = {}
    for obj in ("clip", "sl"):
        out[f"{obj.upper()}, closed"] = session.spec(f"{obj.upper()}, closed", objective=obj, seed=seed)
        out[f"{obj.upper()}, open world"] = session.spec(
            f"{obj.upper()}, open world", objective=obj, seed=seed, **open_params(session)
        )
    return out


def _per_class_gain(runs: dict, obj: str):
    """Per-class top-1 of the open-world run minus the closed one (same classes and counts, checked)."""
    a, b = paired_tables(runs[f"{obj}, open world"], runs[f"{obj}, closed"])
    return a["accuracy"].to_numpy() - b["accuracy"].to_numpy()


def gain_difference(runs_by_seed: dict) -> tuple[dict, str]:
    """CLIP's per-class gain minus SL's on the same classes: a paired bootstrap over classes per seed,
    combined over seeds."""
    return combine_seeds(
        [
            paired_mean_difference(_per_class_gain(runs, "CLIP"), _per_class_gain(runs, "SL"), seed=seed)
            for seed, runs in runs_by_seed.items()
        ]
    )


def gains(runs_by_seed: dict) -> pd.DataFrame:
    """The open pool's top-1 gains, shown beside the verdict: CLIP's, SL's, and CLIP's minus SL's."""
    rows = []
    for obj in ("CLIP", "SL"):
        p = paired_part(
            runs_by_seed, f"{obj}: open − closed", f"{obj}, open world", f"{obj}, closed", "top-1", "above"
        )
        rows.append(
            {"comparison": p.name, "difference": p.estimate, "lo": p.lo, "hi": p.hi, "basis": p.basis}
        )
    d, basis = gain_difference(runs_by_seed)
    rows.append(
        {
            "comparison": "CLIP's gain − SL's gain, top-1",
            "difference": d["diff"],
            "lo": d["lo"],
            "hi": d["hi"],
            "basis": basis,
        }
    )
    return pd.DataFrame(rows)


def claims(session, runs_by_seed: dict) -> list[dict]:
    """C7's two parts: CLIP gains from the pool, and gains more than SL; every model must have learned."""
    clip_checks = learned_checks(runs_by_seed, "CLIP, closed", "CLIP, open world")
    clip = paired_part(
        runs_by_seed,
        "CLIP: open − closed",
        "CLIP, open world",
        "CLIP, closed",
        "top-1",
        "above",
        checks=clip_checks,
    )
    d, basis = gain_difference(runs_by_seed)
    more = direction(
        "CLIP's gain − SL's gain, top-1",
        d["diff"],
        d["lo"],
        d["hi"],
        "above",
        basis=basis,
        checks=(*clip_checks, *learned_checks(runs_by_seed, "SL, closed", "SL, open world")),
    )
    return [claim_row(NAME, C7, QUANTITY["top-1"], [clip, more])]


def full_adds(preset: str) -> str:
    """What the ``full`` preset runs beyond ``preset``'s (the notebook says it)."""
    full = SIZES["full"]
    return (
        f"a larger world ({full['n_classes']} classes, {full['n_train']} pairs), an open pool with as "
        f"many pairs as the evaluated classes (here {OPEN_PAIRS.get(preset, 1.0):g}×)"
    )
