"""Chapter 2 · imbalance: is CLIP less biased by class frequency than supervised learning?

SL, SL with vocabulary subsampling and CLIP trained on the same long-tailed
concept world (notebook ``02_imbalance``); per-class accuracy and
#predictions against training frequency, with bootstrap intervals; how well
frequency can be counted from captions, scored against the world's truth.

Run::

    python -m studylib run 02 --preset quick

At ``quick`` (300 classes, Zipf 1, batch 128, seed 0, 3 models, about 5 minutes on
2 CPU cores) it produced: Spearman(frequency, #predictions) 0.87 [0.83, 0.90] for
SL, 0.30 [0.19, 0.40] for CLIP, 0.59 [0.51, 0.66] for SL with vocabulary
subsampling (k=64), which also raised SL's top-1 from 0.398 to 0.448; CLIP's
zero-shot top-1 0.24. The notebook recomputes and states these on every run.
"""
from __future__ import annotations

from studylib.captions.scoring import estimation_scores, estimation_section
from studylib.config import CAPTION_LEVELS

NAME = "02_imbalance"
SIZES: dict = {}           # the preset's own world: many more classes than a batch


def model_specs(s, vocab_k: int) -> dict:
    """label -> RunSpec: SL, SL with vocabulary subsampling, CLIP, on the same images."""
    return {"SL": s.spec("SL", objective="sl"),
            f"SL + vocab {vocab_k}": s.spec(f"SL + vocab {vocab_k}", objective="sl", vocab_k=vocab_k),
            "CLIP": s.spec("CLIP", objective="clip")}


def frequency_estimation(world) -> dict:
    """Precision/recall of caption-based frequency estimation on the world, per caption level."""
    tr = world.train
    return estimation_scores(tr.captions, tr.labels, list(world.concepts), levels=tr.caption_level,
                             level_names=list(CAPTION_LEVELS))


def frequency_estimation_card_section(scores: dict, world) -> dict:
    """The data-card section on frequency estimation."""
    return {"Frequency estimation from captions": estimation_section(scores, world.class_names)}
