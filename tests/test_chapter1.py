"""Chapter 1's claims: the SL line rests on models above chance, "no ER" is an equivalence claim, Fang
et al.'s SL-web vs SL-curated test has its own row, and the module keeps the chapter contract. Constructed
runs only."""

import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from studylib import claims as C
from studylib.chapters import ch01

K, PER = 100, 20  # quick's classes and test images per class: 2000 per domain
N = K * PER
DOMAINS = ("photo", *ch01.SHIFTS)


class FakeRun:
    """A run's top-1 per domain, as the metrics, the confusion matrices and the per-class table hold it."""

    def __init__(self, acc: dict):
        self.metrics = {f"top1_{d}": a for d, a in acc.items()} | {"top1": acc["photo"], "id_domain": "photo"}
        self.arrays = {
            f"confusion_{d}": np.array([[round(a * N), N - round(a * N)], [0, 0]]) for d, a in acc.items()
        }
        self.per_class = pd.DataFrame({"domain": "photo", "class_index": range(K), "accuracy": acc["photo"]})
        self.key = str(acc)

    def array(self, name):
        return self.arrays[name]


@pytest.fixture
def session(tmp_path, monkeypatch):
    from studylib.session import Session

    monkeypatch.setenv("STUDYLIB_RESULTS", str(tmp_path))
    return Session(ch01.NAME, "quick", sizes=ch01.SIZES, progress=False, extras=dict(n_boot=(300, int)))


PHOTO = (0.10, 0.14, 0.18, 0.22, 0.26, 0.30)  # the family's ID top-1, in baseline_specs' order
FAMILY_OOD = {
    "v2": lambda p: 0.8 * p,  # all six above chance
    "sketch": lambda p: 0.01 if p < 0.2 else 0.15 * p,  # the three weakest at chance
    "rendition": lambda p: 0.04 if p > 0.27 else 0.01,  # one model above chance: no line
    "objectnet": lambda p: 0.5 * p,
}


def family(session) -> dict:
    labels = list(ch01.baseline_specs(session)[0])
    return {
        lab: FakeRun({"photo": p, **{s: f(p) for s, f in FAMILY_OOD.items()}})
        for lab, p in zip(labels, PHOTO)
    }


def test_above_chance_needs_both_the_factor_and_the_binomial_test():
    assert not ch01.above_chance(0.015, N, K)  # 1.5x chance is not above it
    assert ch01.above_chance(0.02, N, K)  # 40 of 2000 where chance gives 20
    assert not ch01.above_chance(0.02, 100, K)  # 2 of 100: a lucky guess, not learning
    assert not ch01.above_chance(0.01, N, K)


def test_each_shift_line_is_fitted_on_the_models_above_chance_there_only(session):
    line = ch01.baseline_line(session, family(session), n_boot=200)
    labels = list(ch01.baseline_specs(session)[0])
    assert line["anchors"]["v2"] == labels and line["anchors"]["sketch"] == labels[3:]
    assert line["anchors"]["rendition"] == labels[5:]
    assert set(line["trends"]) == {"v2", "sketch", "objectnet"}  # rendition: 1 model, no line
    assert line["trends"]["sketch"].n_models == 3
    # the at-chance models would have tilted the line: fitted on all six, its slope is far steeper
    everyone = ch01.fit_trends(line["acc"], ["sketch"], n_boot=0)["sketch"]
    assert everyone.slope > line["trends"]["sketch"].slope + 0.4
    info = line["info"]
    assert list(info["line_models"]) == [6, 3, 1, 6]
    assert list(info["informative"]) == [True, True, False, True]


def test_a_shift_without_a_line_is_untestable_naming_the_check(session):
    runs = {
        **family(session),
        "CLIP (web)": FakeRun(
            {"photo": 0.2, "v2": 0.16, "sketch": 0.03, "rendition": 0.02, "objectnet": 0.1}
        ),
    }
    line = ch01.baseline_line(session, runs, n_boot=200)
    part = ch01.er_part("above", "CLIP (web)", "rendition", line, {0: runs}, n_boot=200)
    failed = str(part.failed[0])
    assert part.verdict == "untestable" and "rendition rests on ≥ 3 baseline models above chance" in failed
    assert "1 of 6" in failed


@pytest.mark.parametrize(
    "interval, word",
    [
        ((0.002, -0.010, 0.012), "reproduced"),
        ((0.002, -0.050, 0.054), "inconclusive"),  # merely n.s.
        ((0.100, 0.080, 0.120), "opposite"),
    ],
)
def test_no_er_is_an_equivalence_claim_not_a_non_significant_difference(session, monkeypatch, interval, word):
    runs = {**family(session), "CLIP (curated)": FakeRun({"photo": 0.2, **{s: 0.1 for s in ch01.SHIFTS}})}
    line = ch01.baseline_line(session, runs, n_boot=200)
    est, lo, hi = interval
    monkeypatch.setattr(ch01, "er_interval", lambda *a, **k: ({"er": est, "lo": lo, "hi": hi}, "constructed"))
    part = ch01.er_part("none", "CLIP (curated)", "v2", line, {0: runs})
    margin = ch01.equivalence_margin(line["trends"]["v2"], 0.2, 1 / K)
    assert margin == pytest.approx(0.25 * (float(line["trends"]["v2"].predict(0.2)) - 0.01), abs=5e-4)
    assert 0.012 < margin < 0.05 and f"margin ±{margin:.3f}" in part.result()
    assert part.verdict == word


def test_no_er_is_untestable_where_the_line_predicts_chance(session, monkeypatch):
    runs = {**family(session), "CLIP (curated)": FakeRun({"photo": 0.2, **{s: 0.1 for s in ch01.SHIFTS}})}
    line = ch01.baseline_line(session, runs, n_boot=0)
    monkeypatch.setattr(ch01, "equivalence_margin", lambda *a: 0.0)
    part = ch01.er_part("none", "CLIP (curated)", "v2", line, {0: runs}, n_boot=200)
    assert part.verdict == "untestable" and "predicts OOD top-1 above chance" in str(part.failed[0])


def test_claims_judge_each_shift_and_give_fang_sl_web_its_own_row(session):
    on = {
        s: float(ch01.baseline_line(session, family(session), n_boot=0)["trends"][s].predict(0.2))
        for s in ("v2", "sketch", "objectnet")
    }
    web_sl = FakeRun(
        {
            "photo": 0.2,
            "v2": on["v2"] + 0.05,
            "sketch": on["sketch"],
            "rendition": 0.02,
            "objectnet": on["objectnet"] - 0.05,
        }
    )
    runs = {
        **family(session),
        **{
            m: web_sl
            for m in (
                "CLIP (web)",
                "CLIP (curated)",
                "SL, true labels (web)",
                "SL, caption-mined labels (web)",
            )
        },
    }
    rows = ch01.claims(session, {0: runs})
    assert [r["claim"] for r in rows] == [c for _, c, _ in ch01.CLAIMS]
    fang = next(r for r in rows if r["claim"].startswith("SL trained on web-like images"))
    assert fang["quantity"] == ch01.ER_QUANTITY and "effective robustness" in fang["quantity"]
    words = {p.name: p.verdict for p in fang["parts"]}
    assert words == {
        "ER on v2": "reproduced",
        "ER on sketch": "inconclusive",
        "ER on rendition": "untestable",
        "ER on objectnet": "opposite",
    }
    assert fang["verdict"] == "mixed" and all(r["verdict"] in C.VERDICTS for r in rows)
    text = C.markdown(rows)
    assert "→ **reproduced**" in text and "→ **opposite**" in text and "Failed check" in text


def test_chapter_one_keeps_the_contract(session):
    assert ch01.NAME == "01_robustness_origins" and ch01.AFTER == ()
    assert (Path(__file__).resolve().parents[1] / "notebooks" / f"{ch01.NAME}.py").exists()
    assert not hasattr(ch01, "summary") and "inference import WORDS" not in inspect.getsource(ch01)
    assert not hasattr(ch01, "er_verdict") and not hasattr(ch01, "WORDS")
    s0, s1 = ch01.specs(session), ch01.specs(session, 1)
    assert set(s0) == set(ch01.baseline_specs(session)[0]) | {m for m, _, _ in ch01.CLAIMS} | {
        "CLIP (web)",
        "CLIP (curated)",
        "SL, caption-mined labels (web)",
        "SL, true labels (web)",
    }
    assert s0["SL n=6000 ep=3 w=32"].params == s1["SL n=6000 ep=3 w=32"].params  # one line for every seed
    assert s1["CLIP (web)"].params["seed"] == 1 and s1["SL, true labels (web)"].params["seed"] == 1
    assert "10 training seeds" in ch01.full_adds("quick")
