"""Multi-byte separators and apostrophes of UTF-8 text, rewritten in place to spaces and ``'`` bytes.

Why one module: the numpy text path (:mod:`studylib.captions.fastscan`), the numpy Arrow and list path
(:mod:`studylib.captions.matching`) and the compiled pass (:mod:`studylib.captions.compiled`) all apply the
same rule before they split words, and a rewrite of equal length keeps every line's offsets. The characters
are those of :func:`studylib.captions.patterns.tokenize`: the acute accent and the curly single quotes are
apostrophes (deleted later); U+0080 to U+00BF, the multiplication and division signs, U+2000 to U+2BFF,
U+3000 to U+303F, variation selectors, the BOM, U+FFFD and everything above U+FFFF separate words.

Usage::

    import numpy as np
    from studylib.captions.specials import rewrite_specials
    buf = np.frombuffer(bytearray("a\u2014b\u2019s\n".encode() + bytes(3)), np.uint8)
    rewrite_specials(buf, len(buf) - 3)   # the dash is now three spaces, the quote three ' bytes
"""

from __future__ import annotations

import numpy as np


def specials(a: np.ndarray, lead_pos: np.ndarray, probe: bool) -> bool:
    """Blank the multi-byte separators of ``a`` (in place) and turn multi-byte apostrophes into ``'``
    bytes (deleted later), at the lead bytes ``lead_pos`` (valid UTF-8). With ``probe``, change
    nothing and return whether every non-ASCII character is such a special; else return True."""
    b0 = a[lead_pos]
    b1 = a[lead_pos + 1]
    b2 = a[lead_pos + 2]
    c2 = b0 == 0xC2
    acute = c2 & (b1 == 0xB4)
    quote = (b0 == 0xE2) & (b1 == 0x80) & ((b2 == 0x98) | (b2 == 0x99))
    sep2 = (c2 & ~acute) | ((b0 == 0xC3) & ((b1 == 0x97) | (b1 == 0xB7)))
    sep3 = (
        ((b0 == 0xE2) & (b1 <= 0xAF) & ~quote)
        | ((b0 == 0xE3) & (b1 == 0x80))
        | (
            (b0 == 0xEF)
            & (((b1 == 0xB8) & (b2 <= 0x8F)) | ((b1 == 0xBB) & (b2 == 0xBF)) | ((b1 == 0xBF) & (b2 == 0xBD)))
        )
    )
    sep4 = b0 >= 0xF0
    if probe:
        # U+2126, U+212A, U+212B separate words but lower-case to letters: the block needs lower-casing
        cased = (b0 == 0xE2) & (b1 == 0x84) & ((b2 == 0xA6) | (b2 == 0xAA) | (b2 == 0xAB))
        return bool((acute | quote | sep2 | (sep3 & ~cased) | sep4).all())
    for k, sel, val in ((2, acute, 39), (3, quote, 39), (2, sep2, 32), (3, sep3, 32), (4, sep4, 32)):
        p = lead_pos[sel]
        for j in range(k):
            a[p + j] = val
    return True


def rewrite_specials(buf: np.ndarray, n: int) -> None:
    """Rewrite, in place, the multi-byte separators of valid lower-cased UTF-8 ``buf[:n]`` to spaces and
    its multi-byte apostrophes to ``'`` bytes (``buf`` holds at least 3 more bytes after ``n``)."""
    lead = np.flatnonzero(buf[:n] >= 0xC0)
    if lead.size:
        specials(buf, lead, probe=False)
