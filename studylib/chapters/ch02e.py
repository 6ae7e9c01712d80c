"""Chapter 2e · open-world concepts: do captions naming other concepts help CLIP, and not SL? (claim C7)

CLIP and SL trained on the evaluated classes alone, and on the same images of those classes
plus pairs of concepts from a disjoint pool of real ImageNet concepts, rendered in the same
world (notebook ``02e_open_world``). SL's label space grows with the pool; both are
evaluated on the evaluated classes only. The world is chapter 2b's, so the closed-world runs
are shared with it.

Run::

    python -m studylib run 02e --preset quick
"""
from __future__ import annotations

import pandas as pd

from studylib.chapters.ch02 import paired_tables
from studylib.chapters.ch02b import SIZES
from studylib.inference import combine_seeds, joint_verdict, paired_mean_difference, verdict

NAME = "02e_open_world"
# The open pool: as many concepts as the evaluated classes, and pairs (balanced over the pool) as a share of
# theirs: as many again at full, half as many at quick (to fit the study's 15 minutes).
OPEN_CLASSES = 1.0
OPEN_PAIRS = {"smoke": 1.0, "quick": 0.5, "full": 1.0}


def open_params(s) -> dict:
    return {"open_world": round(s.params["n_classes"] * OPEN_CLASSES),
            "open_world_pairs": round(s.params["n_train"] * OPEN_PAIRS.get(s.preset, 1.0))}


def specs(s, seed: int | None = None) -> dict:
    """CLIP and SL, closed world and with the open pool (same images of the evaluated classes)."""
    seed = s.params["seed"] if seed is None else seed
    out = {}
    for obj in ("clip", "sl"):
        out[f"{obj.upper()}, closed"] = s.spec(f"{obj.upper()}, closed", objective=obj, seed=seed)
        out[f"{obj.upper()}, open world"] = s.spec(f"{obj.upper()}, open world", objective=obj, seed=seed,
                                                   **open_params(s))
    return out


def _per_class_delta(runs: dict, obj: str):
    """Per-class top-1 of the open-world run minus the closed one (same classes and counts, checked)."""
    a, b = paired_tables(runs[f"{obj}, open world"], runs[f"{obj}, closed"])
    return a["accuracy"].to_numpy() - b["accuracy"].to_numpy()


def deltas(runs_by_seed: dict) -> pd.DataFrame:
    """Per-class top-1 gains from the open pool: CLIP's, SL's, and CLIP's minus SL's (paired over classes;
    mean and t interval over seeds where there are several)."""
    rows = []
    for name, claim in (("CLIP: open − closed", "above"), ("SL: open − closed", None),
                        ("CLIP's gain − SL's gain", "above")):
        per_seed = []
        for seed, runs in runs_by_seed.items():
            clip, sl = _per_class_delta(runs, "CLIP"), _per_class_delta(runs, "SL")
            values = {"CLIP: open − closed": (clip, 0 * clip), "SL: open − closed": (sl, 0 * sl),
                      "CLIP's gain − SL's gain": (clip, sl)}[name]
            per_seed.append(paired_mean_difference(*values, seed=seed))
        d, basis = combine_seeds(per_seed)
        rows.append({"comparison": name, "measure": "top-1", "difference": d["diff"], "lo": d["lo"], "hi": d["hi"],
                     "interval": basis, "claim": f"difference {claim} 0" if claim else "reported",
                     "verdict": verdict(d, claim) if claim else ""})
    return pd.DataFrame(rows)


def c7_verdict(table: pd.DataFrame) -> str:
    """C7 holds when the open pool raises CLIP's top-1 and raises it more than SL's."""
    return joint_verdict(table.loc[table["claim"] != "reported", "verdict"])


def summary(registry, preset: str = "quick") -> list[dict]:
    """C7 and its verdict from the registry's runs at the default parameters."""
    from studylib.chapters.stored import not_run, stored_by_seed
    from studylib.session import Session

    s = Session(NAME, preset, sizes=SIZES, progress=False)
    runs_by_seed = stored_by_seed(registry, s, lambda k: specs(s, k))
    if missing := not_run(NAME, *runs_by_seed.values()):
        return missing
    table = deltas(runs_by_seed)
    return [{"chapter": NAME, "claim": "C7: open-world concepts raise CLIP's top-1, more than SL's",
             "result": "; ".join(f"{r.comparison} {r.difference:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]"
                                 for r in table.itertuples()), "verdict": c7_verdict(table)}]
