"""Schedules over training steps: the learning rate, DINO's teacher momentum and teacher temperature.

Two shapes, :func:`linear` and :func:`cosine`, each from ``start`` at ``done = 0`` to ``end`` at
``done = span``, and the three schedules built from them (as DINO's ``cosine_scheduler`` serves its learning
rate, weight decay and momentum):

* :func:`warmup_cosine`: linear warm-up to the peak, then half a cosine to 0 (open_clip's learning rate);
* :func:`cosine_to`: half a cosine over the whole run (DINO's teacher momentum, rising to 1);
* :func:`warmup_constant`: linear warm-up, then constant (DINO's teacher temperature).

Every stored run was trained with these exact floating-point operations; they are written so that a
schedule rounds as it always has (the learning rate's angle is pi times a fraction, the momentum's pi
times a step count divided by the run's length: two roundings of one angle that differ in the last bit).
"""

from __future__ import annotations

import math


def linear(done: float, span: float, start: float, end: float) -> float:
    """``start`` at ``done = 0``, ``end`` at ``done = span``, in a straight line."""
    return start + (end - start) * done / span


def cosine(done: float, span: float, start: float, end: float) -> float:
    """``start`` at ``done = 0``, ``end`` at ``done = span``, along half a cosine (angle ``pi * done / span``)."""
    return end - (end - start) * (1 + math.cos(math.pi * done / span)) / 2


def warmup_cosine(step: int, total: int, peak: float, warmup: int) -> float:
    """The learning rate of 0-based ``step`` of ``total``: ``peak * (step + 1) / warmup`` for the first ``warmup``
    steps, then half a cosine from ``peak`` to 0 over the remaining steps."""
    if step < warmup:
        return linear(step + 1, warmup, 0.0, peak)
    return cosine(min(1.0, (step - warmup) / max(1, total - warmup)), 1, peak, 0.0)


def cosine_to(step: int, total: int, start: float, end: float) -> float:
    """Half a cosine from ``start`` at step 0 to ``end`` at step ``total`` (and after)."""
    return cosine(min(step, total), total, start, end)


def warmup_constant(step: int, warmup: int, start: float, end: float) -> float:
    """From ``start`` in a straight line to ``end`` over the first ``warmup`` steps, then ``end``."""
    return linear(step, warmup, start, end) if step < warmup else end
