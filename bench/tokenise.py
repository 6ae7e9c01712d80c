"""Benchmark: building a CLIP run's compact vocabulary and caption tokens (``studylib.models.vocabulary``), as
the code stood at each of its four cuts, measured in one run.

Why: in a cold ``make study`` this work runs outside the timed training and evaluation phases, in "analysis
and other" (issue 30: the study's time outside training). On chapter 2's quick world (40k captions):

* one new world: ``Vocabulary(captions + prompts)`` then ``encode(captions)``, as a CLIP run does;
* then a second world sharing half of its captions (a subset or mixture, as chapters 1 and 2b train on);
* then the first world again in a new process (an empty memo), as the next chapter kernel does.

Rows: "no memo" clears the memo and builds a new tokenizer for every call (the first code); "memo" keeps
each distinct text's row per process, open_clip's own cleaning; "disk" adds ftfy skipped on plain ASCII and a
corpus of ``DISK_MIN`` or more new texts kept in the token cache (a temporary folder per row here) for the
next process, with open_clip's own call per text; "now" is the code as it is: that, with each distinct word's
BPE ids kept (``vocabulary.WordMemoTokenizer``). All four find distinct texts as the code does now (by
hashing). The token ids are checked equal. Output also goes to
``bench/results/tokenise.txt``.

    python bench/tokenise.py
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import RESULTS, header, publish  # noqa: E402

from studylib.chapters import ch02  # noqa: E402
from studylib.evaluate import prompts_for  # noqa: E402
from studylib.models import vocabulary  # noqa: E402
from studylib.session import Session  # noqa: E402

CONTEXT = 24
MODES = ("no memo", "memo", "disk", "now")


def plain_tokenizer(context_length: int):
    """open_clip's tokenizer with its own cleaning (ftfy on every text), as before the ASCII shortcut."""
    from studylib.models.openclip_parts import part

    return part("tokenizer").SimpleTokenizer(context_length=context_length)


def one_run(captions, names, mode: str):
    """What a CLIP run on a new world does under ``mode`` (no memo, memo, now)."""
    if mode == "no memo":
        vocabulary._ROWS.clear()
    vocab = vocabulary.Vocabulary(list(captions) + prompts_for(names), CONTEXT)
    if mode == "no memo":
        vocabulary._ROWS.clear()
    return vocab.encode(captions)


def timed(mode: str, captions, second, names) -> tuple:
    """Seconds for a new world, a half-shared one and the first again in a new process, and their ids."""
    real_tokenizer, real_min = vocabulary._tokenizer, vocabulary.DISK_MIN
    os.environ["STUDYLIB_CACHE"] = tempfile.mkdtemp(prefix="tokenise-bench-")  # an empty token cache per row
    # "no memo": a new tokenizer for every vocabulary, as the first code built one
    if mode in ("no memo", "memo"):
        vocabulary._tokenizer = plain_tokenizer if mode == "no memo" else functools.cache(plain_tokenizer)
        vocabulary.DISK_MIN = 10**12  # no token cache
    elif mode == "disk":  # the ASCII shortcut and the token cache, open_clip's call per text
        vocabulary._tokenizer = functools.cache(lambda n: real_tokenizer(n).inner)
    try:
        vocabulary._tokenizer(CONTEXT)  # open_clip's files loaded outside the timing
        vocabulary._ROWS.clear()
        times, ids = [], []
        for corpus, new_process in ((captions, False), (second, False), (captions, True)):
            if new_process:
                vocabulary._ROWS.clear()
            t0 = time.perf_counter()
            ids.append(one_run(corpus, names, mode))
            times.append(time.perf_counter() - t0)
        return times, ids
    finally:
        vocabulary._tokenizer, vocabulary.DISK_MIN = real_tokenizer, real_min


def main():
    torch.set_num_threads(1)
    os.environ["STUDYLIB_CACHE"] = tempfile.mkdtemp(prefix="tokenise-bench-")  # the world is made here
    world = Session(ch02.NAME, "quick", sizes=ch02.SIZES, progress=False).world()
    captions, names = list(world.train.captions), list(world.class_names)
    half = len(captions) // 2
    second = captions[:half] + [c + " today" for c in captions[half:]]  # half shared, half new
    out = {mode: timed(mode, captions, second, names) for mode in MODES}
    same = all(torch.equal(a, b) for mode in MODES for a, b in zip(out[mode][1], out["no memo"][1]))
    lines = [
        header("tokenise", threads=1, context=CONTEXT) + f"; {len(captions)} captions, {len(names)} classes"
    ]
    for mode in MODES:
        a, b, c = out[mode][0]
        lines.append(
            f"{mode:8s} new world {a:6.2f} s   second world, half shared {b:6.2f} s   "
            f"first world in a new process {c:6.2f} s"
        )
    base, now = out["no memo"][0], out["now"][0]
    lines.append(
        f"ratio no memo/now: new world {base[0] / now[0]:.2f}x, half-shared world {base[1] / now[1]:.2f}x, "
        f"new process {base[2] / now[2]:.1f}x; memo/now on a new world {out['memo'][0][0] / now[0]:.2f}x; "
        f"disk/now: new world {out['disk'][0][0] / now[0]:.2f}x, half-shared world "
        f"{out['disk'][0][1] / now[1]:.2f}x; token ids identical: {same}"
    )
    publish(lines, RESULTS / "tokenise.txt")


if __name__ == "__main__":
    main()
