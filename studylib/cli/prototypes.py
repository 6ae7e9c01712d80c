"""``prototypes`` subcommand: count the unique prototypes of a DINO checkpoint.

DINO's projection head ends in a weight-normalised linear layer whose rows are the
prototypes. Many of them collapse onto the same direction; :func:`studylib.metrics.unique_prototypes`
counts the groups left after merging rows closer than ``eps`` in cosine distance.

Run::

    python -m studylib prototypes count dino_vitbase16_pretrain_full_checkpoint.pth
    python -m studylib prototypes count ckpt.pth --key student --eps 0.025

The checkpoint is the official DINO training format: a dict with ``student`` and
``teacher`` state dicts, the prototypes at ``head.last_layer.weight_v`` (student keys
prefixed ``module.``), or ``head.last_layer.parametrizations.weight.original1`` where
newer PyTorch saved weight norm as a parametrization. It is loaded with
``weights_only=True`` (only ``argparse.Namespace``, DINO's saved ``args``, is allowed
besides tensors), so no code in the file runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SUFFIXES = ("head.last_layer.weight_v", "head.last_layer.parametrizations.weight.original1")


def add_parser(subparsers) -> argparse.ArgumentParser:
    protos = subparsers.add_parser(
        "prototypes",
        help="DINO prototypes: count the unique ones",
        description="DINO prototypes: count the unique ones.",
    )
    sub = protos.add_subparsers(dest="prototypes_command", metavar="{count}")
    sub.required = True
    count = sub.add_parser("count", help="number, dimension and unique count of a checkpoint's prototypes")
    count.add_argument("checkpoint", help="a DINO training checkpoint (.pth)")
    count.add_argument("--key", default="teacher", help="state dict to read: teacher (default) or student")
    count.add_argument(
        "--eps",
        type=float,
        default=0.025,
        help="two prototypes are the same when 1 - cos < eps (default 0.025)",
    )
    count.set_defaults(func=run)
    return protos


def load_prototypes(path, key: str = "teacher"):
    """The (n, d) prototype matrix of a DINO checkpoint's ``key`` state dict; ValueError naming what was found."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a corrupt file, or one that would run code to load
        first = (str(err).splitlines() or ["(no message)"])[0][:200]
        empty = " (the file is empty)" if path.stat().st_size == 0 else ""
        raise ValueError(
            f"{path}: cannot be read as a weights-only checkpoint{empty} ({type(err).__name__}: {first})"
        ) from None
    if not isinstance(ckpt, dict):
        raise ValueError(
            f"{path}: expected a dict with 'student' and 'teacher' state dicts, got {type(ckpt).__name__}"
        )
    if key not in ckpt:
        state_dicts = [k for k, v in ckpt.items() if isinstance(v, dict)]
        raise ValueError(
            f"{path}: no state dict {key!r}; the checkpoint holds {sorted(map(str, ckpt))[:20]}"
            + (f" (state dicts: {state_dicts})" if state_dicts else "")
        )
    state = ckpt[key]
    if not isinstance(state, dict):
        raise ValueError(f"{path}: {key!r} is a {type(state).__name__}, not a state dict")
    for suffix in SUFFIXES:
        for prefix in ("", "module."):
            if prefix + suffix in state:
                w = state[prefix + suffix]
                if not hasattr(w, "ndim") or w.ndim != 2:
                    raise ValueError(f"{path}: {key}[{prefix + suffix!r}] is not a 2-d weight matrix")
                return _countable(w.float().numpy(), f"{path}: {key}[{prefix + suffix!r}]"), prefix + suffix
    near = [k for k in state if "last_layer" in k or "head" in k][:20]
    raise ValueError(
        f"{path}: no prototypes in {key!r}: looked for {', '.join(SUFFIXES)} (with or without "
        f"'module.'); found keys {near or sorted(state)[:20]}"
    )


def _countable(w, where: str):
    """The matrix, refused when a unique count would mean nothing: no prototypes (or no dimensions), or
    non-finite entries (NaN rows would each count as unique)."""
    import numpy as np

    if w.shape[0] == 0 or w.shape[1] == 0:
        raise ValueError(f"{where} has no prototypes to count (shape {tuple(w.shape)})")
    bad = np.flatnonzero(~np.isfinite(w).all(axis=1))
    if bad.size:
        rows = ", ".join(map(str, bad[:5])) + (", …" if bad.size > 5 else "")
        raise ValueError(f"{where} holds non-finite values in {bad.size} of {w.shape[0]} rows (rows {rows})")
    return w


def run(args) -> int:
    from studylib.metrics import unique_prototypes

    if not 0 < args.eps < 2:
        print(f"error: --eps must lie in (0, 2), got {args.eps}", file=sys.stderr)
        return 2
    try:
        w, where = load_prototypes(args.checkpoint, args.key)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    unique = unique_prototypes(w, eps=args.eps)
    print(f"{args.checkpoint} [{args.key}: {where}]")
    print(
        f"prototypes: {w.shape[0]}, dimension: {w.shape[1]}, unique at eps={args.eps:g}: {unique} "
        f"({unique / w.shape[0]:.1%})"
    )
    return 0
