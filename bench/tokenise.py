"""Benchmark: building a CLIP run's compact vocabulary and caption tokens, with and without the per-process
BPE memo of ``studylib.models.vocabulary`` (each distinct text tokenised once per process).

Why: in a cold ``make study`` this work ran outside the timed training and evaluation phases and made up
much of "analysis and other" (a new world's captions were tokenised twice, for the vocabulary and for the
encoding, by a freshly built tokenizer). Measured in one run on chapter 2's quick world (20k captions):

* one new world: ``Vocabulary(captions + prompts)`` then ``encode(captions)``, as a CLIP run does;
* then a second world sharing half of its captions (a subset or mixture, as chapters 1 and 2b train on).

"before" clears the memo and builds a new tokenizer for every call (the old behaviour); "after" is the
code as it is. The token ids are checked equal. Output also goes to ``bench/results/tokenise.txt``.

    python bench/tokenise.py
"""

from __future__ import annotations

import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from studylib.chapters import ch02  # noqa: E402
from studylib.evaluate import prompts_for  # noqa: E402
from studylib.fileio import atomic_write_text  # noqa: E402
from studylib.models import vocabulary  # noqa: E402
from studylib.session import Session  # noqa: E402

CONTEXT = 24


def one_run(captions, names, fresh: bool):
    """What a CLIP run on a new world does; ``fresh``: no memo and a new tokenizer (the old code)."""
    if fresh:
        vocabulary._ROWS.clear()
        vocabulary._tokenizer.cache_clear()
    vocab = vocabulary.Vocabulary(list(captions) + prompts_for(names), CONTEXT)
    if fresh:
        vocabulary._ROWS.clear()
    return vocab.encode(captions)


def main():
    torch.set_num_threads(1)
    world = Session(ch02.NAME, "quick", sizes=ch02.SIZES, progress=False).world()
    captions, names = list(world.train.captions), list(world.class_names)
    half = len(captions) // 2
    second = captions[:half] + [c + " today" for c in captions[half:]]  # half shared, half new
    vocabulary._tokenizer(CONTEXT)  # open_clip imported outside the timing
    out = {}
    for label, fresh in (("before", True), ("after", False)):
        vocabulary._ROWS.clear()
        t0 = time.perf_counter()
        a = one_run(captions, names, fresh)
        t1 = time.perf_counter()
        b = one_run(second, names, fresh)
        t2 = time.perf_counter()
        out[label] = (t1 - t0, t2 - t1, a, b)
    same = all(torch.equal(out["before"][k], out["after"][k]) for k in (2, 3))
    lines = [
        f"# tokenise  {len(captions)} captions, {len(names)} classes, context {CONTEXT}, 1 thread, "
        f"{platform.machine()}"
    ]
    for label in ("before", "after"):
        new_world, half_shared = out[label][:2]
        lines.append(
            f"{label:7s} new world {new_world:6.2f} s   second world, half shared {half_shared:6.2f} s"
        )
    lines.append(
        f"ratio before/after: new world {out['before'][0] / out['after'][0]:.2f}x, "
        f"half-shared world {out['before'][1] / out['after'][1]:.2f}x; token ids identical: {same}"
    )
    text = "\n".join(lines) + "\n"
    print(text, end="")
    atomic_write_text(Path(__file__).resolve().parent / "results" / "tokenise.txt", text)


if __name__ == "__main__":
    main()
