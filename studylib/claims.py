"""Verdicts on claims: one rule per comparison, one word per claim, one way to print them.

A study's claim rests on one or more comparisons (its *parts*). Each part has an
estimate, an interval or an observed range, a one-line rule, and the manipulation
checks the claim needs (a model above chance, prototypes that moved, a baseline
that could lose). This module turns them into exactly one of five words:

* ``reproduced``: the part's interval lies on the claimed side (or, for a "no
  effect" claim, inside the stated equivalence margin);
* ``opposite``: it lies on the other side (or wholly outside the margin);
* ``inconclusive``: neither;
* ``untestable``: a manipulation check failed, or no interval exists (one seed
  of a seed-level statistic): the failed check is named;
* ``mixed``: a claim whose parts disagree; each part's own word is printed
  beside it.

    part = direction("CLIP − SL", diff, lo, hi, claim="below", basis="paired bootstrap over classes")
    row = claim_row("02_imbalance", "C1: CLIP is less biased than SL", "Spearman(#predictions, frequency)", [part])
    markdown([row])                                # a notebook's verdict cell
    table([row])                                   # the README's generated table

The words are computed here and nowhere else; no prose should be stronger than them.
Generic: nothing here names a chapter.

Long because the five words, the three kinds of part, the row and its two renderings are one
vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

VERDICTS = ("reproduced", "opposite", "mixed", "inconclusive", "untestable")
CLAIMED = {"below": "below 0", "above": "above 0"}


@dataclass(frozen=True)
class Check:
    """A manipulation check: what the claim needs the models to have learned, and whether they did."""

    name: str
    passed: bool
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.name} ({self.detail})" if self.detail else self.name


def check(name: str, passed, detail: str = "") -> Check:
    return Check(name, bool(passed), detail)


@dataclass(frozen=True)
class Part:
    """One comparison of a claim: its estimate and interval (or observed range), rule and verdict."""

    name: str
    estimate: float
    lo: float
    hi: float
    rule: str
    verdict: str
    basis: str = ""
    kind: str = "interval"  # "interval": a 95% confidence interval; "range": an observed min … max
    checks: tuple = field(default_factory=tuple)
    digits: int = 3
    note: str = ""  # what the rule needs of this part alone, e.g. its equivalence margin

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def result(self) -> str:
        """The estimate with its interval or range, labelled as what it is."""
        value = format_value(self.estimate, self.lo, self.hi, self.kind, self.digits)
        return f"{self.name}: {value}" + (f", {self.note}" if self.note else "")


def _num(x: float, digits: int, sign: bool = True) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def format_value(estimate: float, lo: float, hi: float, kind: str = "interval", digits: int = 3) -> str:
    """``+0.070 [95% CI +0.036, +0.110]`` for an interval, ``0.98 (observed range 0.95 … 1.00)`` for a range,
    the estimate alone where no interval exists. Never prints a ``nan`` bracket."""
    if kind == "range":  # observed values (shares, counts): printed plain, never as an interval
        return (
            f"{_num(estimate, digits, sign=False)} (observed range {_num(lo, digits, sign=False)} … "
            f"{_num(hi, digits, sign=False)})"
        )
    est = _num(estimate, digits)
    if kind != "interval":
        raise ValueError(f"kind must be 'interval' or 'range', got {kind!r}")
    if any(v is None or math.isnan(v) for v in (lo, hi)):
        return f"{est} (no interval)"
    return f"{est} [95% CI {_num(lo, digits)}, {_num(hi, digits)}]"


def _checked(
    checks, lo: float, hi: float, basis: str, exists: str = "an interval exists"
) -> tuple[tuple, bool]:
    """A part's checks, with ``exists`` failed where a bound is NaN, and whether any check failed."""
    checks = tuple(checks)
    if np.isnan(lo) or np.isnan(hi):
        checks += (check(exists, False, basis or "no interval could be computed"),)
    return checks, any(not c.passed for c in checks)


def direction(
    name: str,
    estimate: float,
    lo: float,
    hi: float,
    claim: str,
    basis: str = "",
    checks=(),
    digits: int = 3,
    threshold: float = 0.0,
) -> Part:
    """A directional part: reproduced when the 95% interval lies ``claim`` ("below"/"above") ``threshold``,
    opposite when it lies on the other side, inconclusive when it straddles it. A failed check, or no interval
    (NaN bounds), makes it untestable."""
    if claim not in CLAIMED:
        raise ValueError(f"claim must be 'below' or 'above', got {claim!r}")
    rule = (
        f"reproduced if the 95% interval lies {claim} {threshold:.3g}, opposite if it lies on the other side"
    )
    checks, failed = _checked(checks, lo, hi, basis)
    on_claimed = hi < threshold if claim == "below" else lo > threshold
    on_other = lo > threshold if claim == "below" else hi < threshold
    word = (
        "untestable" if failed else "reproduced" if on_claimed else "opposite" if on_other else "inconclusive"
    )
    return Part(name, float(estimate), float(lo), float(hi), rule, word, basis, "interval", checks, digits)


def equivalence(
    name: str,
    estimate: float,
    lo: float,
    hi: float,
    margin: float,
    basis: str = "",
    checks=(),
    digits: int = 3,
) -> Part:
    """A "no effect" part, judged against a stated equivalence margin (never by a non-significant difference):
    reproduced when the whole 95% interval lies within ±``margin``, opposite when it lies wholly outside it on
    one side, else inconclusive."""
    if not margin > 0:
        raise ValueError(f"an equivalence margin must be > 0, got {margin!r}")
    rule = "reproduced if the 95% interval lies within the equivalence margin, opposite if wholly beyond it"
    checks, failed = _checked(checks, lo, hi, basis)
    inside, beyond = -margin <= lo and hi <= margin, lo > margin or hi < -margin
    word = "untestable" if failed else "reproduced" if inside else "opposite" if beyond else "inconclusive"
    return Part(
        name,
        float(estimate),
        float(lo),
        float(hi),
        rule,
        word,
        basis,
        "interval",
        checks,
        digits,
        note=f"margin ±{margin:.{digits}f}",
    )


def observed(
    name: str, values, claim: str, threshold: float, basis: str = "", checks=(), digits: int = 3
) -> Part:
    """A part judged on observed values without an interval (e.g. a share per run): reproduced when every value
    lies ``claim`` the threshold, opposite when none does, else inconclusive. Printed as an observed range."""
    v = np.asarray(values, dtype=float)
    if claim not in CLAIMED:
        raise ValueError(f"claim must be 'below' or 'above', got {claim!r}")
    rule = f"reproduced if every observed value lies {claim} {threshold:.3g}, opposite if none does"
    v = v[~np.isnan(v)]
    mid, lo, hi = (float(np.median(v)), float(v.min()), float(v.max())) if v.size else (np.nan,) * 3
    checks, failed = _checked(checks, lo, hi, "every value is NaN", exists="a value exists")
    hit = v < threshold if claim == "below" else v > threshold
    word = (
        "untestable"
        if failed
        else "reproduced"
        if hit.all()
        else "opposite"
        if not hit.any()
        else "inconclusive"
    )
    return Part(
        name,
        mid,
        lo,
        hi,
        rule,
        word,
        basis or f"{v.size} observed value(s), median shown",
        "range",
        checks,
        digits,
    )


def untestable(name: str, failed: Check | str, basis: str = "") -> Part:
    """A part that cannot be asked at all (e.g. its baseline is zero by construction)."""
    c = failed if isinstance(failed, Check) else check(failed, False)
    return Part(
        name,
        float("nan"),
        float("nan"),
        float("nan"),
        "not judged: a manipulation check failed",
        "untestable",
        basis,
        "interval",
        (c,),
    )


def combine(words) -> str:
    """The word for a claim made of parts: theirs when they all agree, else ``mixed``."""
    words = list(words)
    if not words:
        raise ValueError("a claim needs at least one part")
    unknown = set(words) - set(VERDICTS)
    if unknown:
        raise ValueError(f"unknown verdict word(s) {sorted(unknown)}; the words are {', '.join(VERDICTS)}")
    return words[0] if len(set(words)) == 1 else "mixed"


def baseline_can_lose(values, name: str) -> np.ndarray:
    """Refuse a baseline that cannot lose: one whose values are the same everywhere (e.g. a linear head's
    accuracy on classes it never saw, zero by construction). Returns the values as an array."""
    v = np.asarray(values, dtype=float)
    finite = v[~np.isnan(v)]
    if finite.size == 0 or np.ptp(finite) == 0:
        const = "no finite value" if finite.size == 0 else f"every value is {finite[0]:g}"
        raise ValueError(
            f"baseline {name!r} cannot lose ({const}): a comparison against it is decided before "
            "any training; compare against chance or another model instead"
        )
    return v


def claim_row(chapter: str, claim: str, quantity: str, parts: list[Part]) -> dict:
    """One claim: its parts, the combined verdict, the rule and the result in words."""
    parts = list(parts)
    word = combine(p.verdict for p in parts)
    rules = list(dict.fromkeys(p.rule for p in parts))
    if len(parts) == 1:
        result = parts[0].result()
    else:
        result = "; ".join(f"{p.result()} → {p.verdict}" for p in parts)
    failed = [str(c) for p in parts for c in p.failed]
    if failed:
        result += "; failed check: " + "; ".join(dict.fromkeys(failed))
    return {
        "chapter": chapter,
        "claim": claim,
        "quantity": quantity,
        "rule": " / ".join(rules),
        "result": result,
        "verdict": word,
        "parts": parts,
    }


COLUMNS = ["chapter", "claim", "quantity", "result", "verdict"]

LEGEND = """Verdicts, computed by `studylib.claims`:

* **reproduced**: every part's 95% interval lies on the paper's side (for a "no effect" claim: inside the
  equivalence margin the chapter states);
* **opposite**: it lies on the other side (for a "no effect" claim: wholly beyond the margin);
* **mixed**: the claim's parts disagree; each part's own word is printed beside it (→);
* **inconclusive**: the interval straddles the boundary;
* **untestable**: a manipulation check failed (a model at chance where the claim needs a trained one,
  prototypes that never left their initialisation, no interval from one seed); the failed check is named.

Intervals are 95% paired bootstrap intervals over classes (one seed) or t intervals over seeds; an observed
spread over runs is printed as an "observed range", never as an interval."""


def table(rows: list[dict]) -> pd.DataFrame:
    """The claims as a table (the README's columns)."""
    return pd.DataFrame([{k: r.get(k, "") for k in COLUMNS} for r in rows], columns=COLUMNS)


def markdown(rows: list[dict]) -> str:
    """A notebook's verdict cell: each claim with its quantity, its rule on one line, then its verdict and parts."""
    out = []
    for r in rows:
        parts = r.get("parts") or []
        out.append(
            f"**{r['claim']}** ({r['quantity']})  \n*Rule:* {r.get('rule', '')}  \n"
            f"*Verdict:* **{r['verdict']}**" + ("" if len(parts) > 1 else f": {r['result']}")
        )
        if len(parts) > 1:
            out.extend(
                f"* {p.result()} ({p.basis}) → **{p.verdict}**"
                if p.basis
                else f"* {p.result()} → **{p.verdict}**"
                for p in parts
            )
        elif parts and parts[0].basis:
            out[-1] += f" ({parts[0].basis})"
        failed = [str(c) for p in parts for c in p.failed]
        if failed and len(parts) > 1:  # a single part's result already names its failed check
            out.append("*Failed check:* " + "; ".join(dict.fromkeys(failed)))
        out.append("")
    return "\n".join(out).strip() + "\n"
