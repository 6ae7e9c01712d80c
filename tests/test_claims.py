"""The claims toolkit: five verdict words, computed; intervals never confused with ranges."""

import math

import numpy as np
import pytest

from studylib import claims
from studylib.claims import check, claim_row, combine, direction, equivalence, observed


def test_direction_gives_reproduced_opposite_inconclusive():
    assert direction("a − b", -0.3, -0.4, -0.2, "below").verdict == "reproduced"
    assert direction("a − b", -0.3, -0.4, -0.2, "above").verdict == "opposite"
    assert direction("a − b", 0.0, -0.1, 0.1, "below").verdict == "inconclusive"
    assert direction("a − b", 0.9, 0.6, 1.0, "above", threshold=0.5).verdict == "reproduced"
    part = direction("CLIP − SL", -0.3, -0.4, -0.2, "below")
    assert "lies below 0" in part.rule and part.rule.count("\n") == 0


def test_disagreeing_parts_are_mixed_and_each_part_keeps_its_word():
    bias = direction("bias", -0.3, -0.5, -0.1, "below")
    top1 = direction("top-1", -0.1, -0.14, -0.07, "above")
    row = claim_row("ch", "C2", "robustness and discriminability", [bias, top1])
    assert row["verdict"] == "mixed"
    assert "→ reproduced" in row["result"] and "→ opposite" in row["result"]
    assert combine(["reproduced", "inconclusive"]) == "mixed"
    assert combine(["opposite", "opposite"]) == "opposite"
    with pytest.raises(ValueError, match="unknown verdict"):
        combine(["not reproduced (the opposite holds)"])


def test_a_failed_manipulation_check_makes_a_part_untestable_and_names_the_check():
    moved = check("prototypes moved from their initialisation", False, "drift 0.001 < 0.025")
    part = direction("web − balanced", -0.5, -0.6, -0.4, "below", checks=(moved,))
    assert part.verdict == "untestable"  # however clear the interval
    row = claim_row("ch", "C10", "unique prototypes", [part])
    assert row["verdict"] == "untestable" and "prototypes moved from their initialisation" in row["result"]
    md = claims.markdown([row])
    assert md.lower().count("failed check") == 1 and "prototypes moved" in md
    ok = direction("x", -0.5, -0.6, -0.4, "below", checks=(check("model above chance", True),))
    assert ok.verdict == "reproduced"


def test_no_interval_is_untestable_and_never_printed_as_a_nan_bracket():
    part = direction("web − balanced", 0.0, math.nan, math.nan, "below", basis="t interval over 1 seed(s)")
    assert part.verdict == "untestable" and "an interval exists" in str(part.failed[0])
    text = claim_row("ch", "C10", "q", [part])["result"]
    assert "nan" not in text.lower() and "no interval" in text


def test_an_observed_range_is_never_formatted_as_an_interval():
    part = observed("unique share", [1.0, 1.0, 0.98, 1.0], "below", 0.5)
    assert part.kind == "range" and part.verdict == "opposite"
    text = part.result()
    assert "observed range 0.980 … 1.000" in text and "CI" not in text and "[" not in text
    assert observed("share", [0.1, 0.7], "below", 0.5).verdict == "inconclusive"
    assert observed("share", [0.1, 0.2], "below", 0.5).verdict == "reproduced"
    interval = claims.format_value(0.07, 0.036, 0.11)
    assert interval == "+0.070 [95% CI +0.036, +0.110]"


def test_a_no_effect_claim_needs_an_equivalence_margin_not_a_wide_interval():
    assert equivalence("ER", 0.001, -0.004, 0.006, margin=0.01).verdict == "reproduced"
    wide = equivalence("ER", 0.001, -0.05, 0.06, margin=0.01)  # not significant, but not shown to be 0
    assert wide.verdict == "inconclusive"
    assert equivalence("ER", 0.05, 0.03, 0.07, margin=0.01).verdict == "opposite"
    assert "equivalence margin" in wide.rule and "margin ±0.010" in wide.result()
    with pytest.raises(ValueError, match="margin"):
        equivalence("ER", 0, -1, 1, margin=0)


def test_a_baseline_zero_by_construction_is_refused():
    with pytest.raises(ValueError, match="cannot lose"):
        claims.baseline_can_lose(np.zeros(12), "SL, linear head on unseen classes")
    with pytest.raises(ValueError, match="cannot lose"):
        claims.baseline_can_lose([1.0, 1.0, np.nan], "certain baseline")
    assert claims.baseline_can_lose([0.0, 0.1], "fine").tolist() == [0.0, 0.1]


def test_the_table_uses_only_the_five_words_and_names_each_quantity():
    rows = [
        claim_row("ch", "C1", "robustness to imbalance", [direction("d", -1, -2, -0.5, "below")]),
        claim_row("ch", "C2", "discriminability", [claims.untestable("d", "baseline can lose")]),
    ]
    t = claims.table(rows)
    assert list(t.columns) == claims.COLUMNS and set(t["verdict"]) <= set(claims.VERDICTS)
    assert (t["quantity"] != "").all()
    md = claims.markdown(rows)
    assert md.count("*Rule:*") == 2 and "**reproduced**" in md and "**untestable**" in md
