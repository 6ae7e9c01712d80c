"""The schedules (studylib.schedules) keep, bit for bit, the formulas every stored run was trained with."""

import math

from studylib import schedules


def _old_lr(step, lr, warmup, total):
    if step < warmup:
        return lr * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.5 * lr * (1 + math.cos(math.pi * min(1.0, t)))


def _old_momentum(step, m0, total):
    return 1 - (1 - m0) * (math.cos(math.pi * min(step, total) / total) + 1) / 2


def _old_teacher_temp(step, warm, final, warmup):
    if step < warmup:
        return warm + (final - warm) * step / warmup
    return final


def test_learning_rate_momentum_and_temperature_round_exactly_as_before():
    for total in (1, 7, 30, 120, 937, 2811):
        for step in range(total + 2):
            for lr, warmup in ((2e-3, 50), (5e-4, 5), (1e-3, 0), (3e-4, 1)):
                assert schedules.warmup_cosine(step, total, lr, warmup) == _old_lr(step, lr, warmup, total)
            for m0 in (0.996, 0.9, 0.99):
                assert schedules.cosine_to(step, total, m0, 1.0) == _old_momentum(step, m0, total)
            for warm, final, warmup in ((0.04, 0.04, 0), (0.02, 0.04, 10), (0.04, 0.07, 30)):
                assert schedules.warmup_constant(step, warmup, warm, final) == _old_teacher_temp(
                    step, warm, final, warmup
                )


def test_shapes_start_and_end_where_they_say():
    assert schedules.linear(0, 4, 1.0, 3.0) == 1.0 and schedules.linear(4, 4, 1.0, 3.0) == 3.0
    assert schedules.cosine(0, 10, 0.9, 1.0) == 0.9 and schedules.cosine(10, 10, 0.9, 1.0) == 1.0
    assert (
        schedules.warmup_cosine(0, 100, 1.0, 10) == 0.1 and schedules.warmup_cosine(10, 100, 1.0, 10) == 1.0
    )
