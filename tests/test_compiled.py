"""The compiled caption pass (studylib.captions.compiled) counts exactly what the numpy path counts."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest
from test_fastscan import SPECS, _captions

from studylib.captions import compiled
from studylib.captions.counting import count_files
from studylib.captions.fastscan import match_block
from studylib.captions.matching import match_batch
from studylib.captions.patterns import build_patterns
from studylib.config import world_config
from studylib.world import make_world

pytestmark = pytest.mark.skipif(not compiled.enabled(), reason="numba is not installed")

EDGES = [
    "Two TENCH, and a tench's fin",
    "a crane on a construction site",
    "a crane: construction (no bird)",
    "whooping crane in flight, crane",
    "the jack-o\u2019-lantern and a jack o lantern",
    "man-eater \u2014 maneater \u2014 man eater",
    "caf\u00e9 cr\u00e8me \u00b7 CAF\u00c9 CR\u00c8ME \u2126mega \u03c9mega",
    "hippopotamuses-and-rhinoceroses kelvinometer kelvinometers",
    "puppy\u00b4s puppies puppys Puppy\u2019s",
    "",
    "\r",
    "ram\tRAM\u00a0rams; memory ddr4 ram",
    "emoji \U0001f436 puppy\U0001f436puppy",
    "tomatoes, tomatos: tomato's tomato\u2019s",
    "puppy-like tomato-red -puppy puppy- puppy--tomato man-'eater great-white-shark white-shark's",
    "jack-o'-lantern-shaped puppy-\u00e9 \u00e9-puppy 4-puppy puppy\u2010ram ram-",
    "lemons and an ear",
    "a puppy with floppy ears and a lemon",
    "an ear of corn, an ear and a lemon",
    "an ear with a ring, a lemon",
    "a ring, then far away: an ear",
    "a crane on a construction site, lemons",
    "ears lemons lemon squeezer",  # a kept common key sorted in before the names once hid them
    "a lemon squeezer, a puppy's ears and a tomato with lemons",
]


def _both(fn):
    with compiled.engine("numpy"):
        ref = fn()
    with compiled.engine("compiled"):
        out = fn()
    return ref, out


@pytest.fixture(scope="module")
def pat():
    return build_patterns(SPECS)


@pytest.mark.parametrize("window", [None, 0, 2])
def test_text_blocks_equal_the_numpy_path(pat, window):
    for seed, ascii_only in ((0, True), (1, False), (2, False)):
        caps = _captions(3000, seed, ascii_only) + EDGES
        block = ("\n".join(c.replace("\n", " ") for c in caps) + "\n").encode("utf-8", "replace")
        ref, out = _both(lambda: match_block(block, pat, window))  # noqa: B023
        assert out.n_captions == ref.n_captions
        assert np.array_equal(out.keys, ref.keys)
        assert out.problems == ref.problems


@pytest.mark.parametrize("window", [None, 1])
def test_lists_and_arrow_equal_the_numpy_path(pat, window):
    caps = _captions(2000, 5) + EDGES + [None, "line\nbreak crane", "\ud800 lone surrogate puppy"]
    ref, out = _both(lambda: match_batch(caps, pat, window))
    assert np.array_equal(out.keys, ref.keys) and out.problems == ref.problems
    arr = pa.array([c if c is None or "\ud800" not in c else "x" for c in caps], pa.string())
    ref, out = _both(lambda: match_batch(arr, pat, window))
    assert np.array_equal(out.keys, ref.keys) and out.problems == ref.problems


def test_edge_cases_equal_the_reference_definition(pat):
    """The compiled pass against match_reference (tokenize's regular expressions), caption by caption."""
    from studylib.captions.matching import match_reference

    with compiled.engine("compiled"):
        out = match_batch(EDGES, pat, None)
    got = [set() for _ in EDGES]
    for key in out.keys.tolist():
        got[key // pat.n_concepts].add(key % pat.n_concepts)
    assert got == [match_reference(c, pat) for c in EDGES]


def test_imagenet_and_the_world_captions_equal_the_numpy_path(tiny_params):
    w = make_world(world_config(tiny_params, n_train=2000))
    caps = list(w.train.captions)
    for p in (build_patterns("imagenet"), build_patterns(list(w.concepts) + list(w.open_concepts))):
        ref, out = _both(lambda: match_batch(caps, p, None))  # noqa: B023
        assert ref.keys.size > 100 and np.array_equal(out.keys, ref.keys)


def test_count_files_kernels_agree_with_workers(tmp_path, pat):
    path = tmp_path / "caps.txt"
    path.write_text("\n".join(_captions(20000, 3)) + "\n", encoding="utf-8")
    kw = dict(workers=2, progress=False)
    ref = count_files([str(path)], pat, kernel="numpy", **kw)
    out = count_files([str(path)], pat, kernel="compiled", **kw)
    assert np.array_equal(out.counts, ref.counts) and out.counts.sum() > 1000
    assert out.n_captions == ref.n_captions and out.problems == ref.problems
    assert not compiled.active()  # the engine is switched back off afterwards


def test_auto_stays_numpy_below_the_threshold_and_bad_kinds_are_refused(monkeypatch):
    with compiled.engine("auto", compiled.MIN_BYTES - 1) as use:
        assert not use and not compiled.active()
    with compiled.engine("auto", compiled.MIN_BYTES) as use:
        assert use and compiled.active()
    with pytest.raises(ValueError, match="kernel must be one of"):
        with compiled.engine("fast"):
            pass
    monkeypatch.setenv("STUDYLIB_COMPILED", "0")
    with pytest.raises(ValueError, match="needs numba"):
        with compiled.engine("compiled"):
            pass


@pytest.mark.parametrize("window", [None, 2])
def test_captions_with_thousands_of_mentions_equal_the_numpy_path(pat, window):
    """The loops make room for a caption's mentions before it, never inside their inner loops: captions of
    thousands of phrases (multi-word ones, negatives, shared names) between short and one-word captions."""
    long = " ".join(["great white shark crane construction", "whooping crane", "puppy ram ddr4"] * 700)
    caps = ["a puppy", long, "tomato", long + " kelvinometer", "", "crane"] * 3
    block = ("\n".join(caps) + "\n").encode()
    ref, out = _both(lambda: match_block(block, pat, window))
    assert np.array_equal(out.keys, ref.keys) and ref.keys.size > 20


def test_the_loops_are_loaded_once_before_any_worker_forks(pat):
    """compiled's loader runs each loop once, so forked workers inherit loaded machine code, and every input
    (bytes, bytearray, a writable array) reaches the loops as one argument type: no second version."""
    bounds_kernel, match_kernel = compiled._kernels()
    assert len(bounds_kernel.signatures) == 1 and len(match_kernel.signatures) == 1
    for data in (b"a puppy\n", bytearray(b"a puppy\n"), np.frombuffer(bytearray(b"a puppy\n"), np.uint8)):
        bounds, _ = compiled.line_bounds(data)
        assert compiled.match(data, bounds, pat, None).tolist() == [pat.names.index("puppy")]
    assert len(bounds_kernel.signatures) == 1 and len(match_kernel.signatures) == 1


def test_loading_the_loops_leaves_scipy_linalg_unimported_but_importable():
    """numba's probe for BLAS is skipped while the loops load (0.17 s of start-up), and nothing else."""
    import subprocess
    import sys

    code = (
        "import sys; from studylib.captions import compiled; compiled.line_bounds(b'a puppy\\n'); "
        "assert 'scipy.linalg' not in sys.modules, 'imported'; import scipy.linalg; scipy.linalg.inv([[2.0]]); "
        "print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_captions_packed_with_one_letter_words_equal_the_numpy_path(pat):
    """As many words as bytes allow (one letter, one separator), in text blocks and in lists, where captions
    meet with no separator between them: the word ids are sized ahead for exactly this case."""
    caps = ["t " * 3000 + "puppy", "t", "x", "puppy", "t-t-t t'-t", "a" * 3] * 50
    block = ("\n".join(caps) + "\n").encode()
    ref, out = _both(lambda: match_block(block, pat, None))
    assert np.array_equal(out.keys, ref.keys) and ref.keys.size == 100
    ref, out = _both(lambda: match_batch(caps, pat, None))
    assert np.array_equal(out.keys, ref.keys) and ref.keys.size == 100


def test_the_loops_stay_in_bounds_where_numba_checks_every_index(tmp_path):
    """The loops run without bounds checks; here numba checks every index (NUMBA_BOUNDSCHECK=1, compiled
    afresh into a temporary cache) on the cases that fill their arrays most: an overrun raises IndexError."""
    import subprocess
    import sys

    code = """
import numpy as np
from test_compiled import EDGES, SPECS, _both
from studylib.captions.fastscan import match_block
from studylib.captions.matching import match_batch
from studylib.captions.patterns import build_patterns
pat = build_patterns(SPECS)
long = " ".join(["great white shark crane construction", "whooping crane", "puppy ram ddr4"] * 300)
for caps in (["t " * 3000 + "puppy", "t", "t-t-t t'-t", "x"] * 5, [long, "puppy", ""] * 5 + EDGES):
    for window in (None, 2):
        ref, out = _both(lambda: match_block(("\\n".join(caps) + "\\n").encode(), pat, window))
        assert np.array_equal(out.keys, ref.keys)
        ref, out = _both(lambda: match_batch(caps, pat, window))
        assert np.array_equal(out.keys, ref.keys)
print("ok")
"""
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join([os.path.dirname(__file__), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert out.stdout.strip().endswith("ok"), out.stderr[-3000:]
