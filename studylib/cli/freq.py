"""``freq`` subcommands: count concept mentions in captions, compare profiles.

Why: the two caption-toolbox jobs a user runs from a shell, on their own
data, without opening a notebook. ``studylib.cli`` mounts :func:`add_parser`;
this module also runs standalone.

Run::

    python -m studylib freq count --concepts imagenet --input 'caps/*.parquet' \\
        --column TEXT --out freqs.tsv [--workers 8] [--matches matches.parquet]
    python -m studylib freq compare --reference laion400m.txt cc12m.txt yfcc15m.txt --csv
    python -m studylib.cli.freq count --input caps.txt --out freqs.tsv     # standalone
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``freq`` (with ``count`` and ``compare``) to an argparse subparsers object."""
    freq = subparsers.add_parser(
        "freq",
        help="concept frequencies of caption corpora",
        description="Concept frequencies of caption corpora.",
    )
    _fill(freq)
    freq.set_defaults(func=run)  # studylib.cli dispatches on args.func(args)
    return freq


def _fill(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="freq_command", metavar="{count,compare}")
    sub.required = True
    c = sub.add_parser(
        "count",
        help="count, per concept, the captions that mention it",
        description="Count, per concept, the captions that mention it.",
    )
    c.add_argument(
        "--concepts",
        default="imagenet",
        help="'imagenet' (default) or a JSON/TSV concept file: name -> synonyms [+ negatives, common synonyms, attributes]",
    )
    c.add_argument(
        "--input",
        nargs="+",
        required=True,
        help="caption files or quoted glob patterns: .txt (a caption a line), "
        ".tsv/.csv, .parquet, webdataset .tar",
    )
    c.add_argument("--column", help="caption column (TSV/CSV/parquet) or JSON key (tar)")
    c.add_argument(
        "--format",
        dest="fmt",
        choices=["text", "tsv", "csv", "parquet", "tar"],
        help="input format (default: from the extension)",
    )
    c.add_argument(
        "--out", required=True, help="counts file: classname<TAB>count (.tsv/.txt) or parquet (.parquet)"
    )
    c.add_argument("--parquet-out", help="also write the counts as parquet here")
    c.add_argument(
        "--matches", help="write per-caption matches (caption id -> concept ids) as parquet, for curation"
    )
    c.add_argument(
        "--single-label", action="store_true", help="drop captions naming several concepts (LAIONet)"
    )
    c.add_argument("--no-negatives", action="store_true", help="ignore negative contexts")
    c.add_argument(
        "--negative-window",
        type=int,
        default=None,
        help="a negative phrase blocks mentions within this many words (default: anywhere in the caption)",
    )
    c.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help="processes (shard-parallel; default: all CPUs)",
    )
    c.add_argument("--dask", metavar="ADDRESS", help="run on a Dask cluster: scheduler address, or 'local'")
    c.add_argument("--batch-size", type=int, default=16384, help="captions per vectorised batch")
    c.add_argument(
        "--kernel",
        choices=("auto", "compiled", "numpy"),
        default="auto",
        help="matcher: the compiled pass (numba), the numpy path, or auto: compiled from 256 MiB of input "
        "on (same counts)",
    )
    c.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none either when stderr is not a terminal)",
    )
    c.add_argument(
        "--allow-empty",
        action="store_true",
        help="write all-zero counts when the inputs hold no readable caption (default: refuse)",
    )
    c.set_defaults(freq_func=_count)

    p = sub.add_parser(
        "compare",
        help="correlate and summarise count files",
        description="One row per file: classes, total, Spearman and Kendall "
        "with the reference, max/median, Gini, Zipf alpha.",
    )
    p.add_argument("--reference", required=True, help="reference count file")
    p.add_argument(
        "files", nargs="*", help="count files (classname<TAB>count), or FILE:column of a headed TSV"
    )
    p.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.add_argument(
        "--align",
        choices=["auto", "name", "order"],
        default="auto",
        help="auto (default): by line order when the files list the same classes in the same order, "
        "else by normalised name, reporting the matched count and the unmatched classes; "
        "name: exact names, the sets must be equal; order: by line",
    )
    p.add_argument("--figure", help="also save the ranked log-frequency figure (png/pdf/svg)")
    p.set_defaults(freq_func=_compare)


def run(args: argparse.Namespace) -> int:
    """Execute parsed ``freq`` arguments; returns the exit code."""
    return args.freq_func(args)


def _refusal(args) -> str | None:
    """Why ``freq count`` cannot count these inputs as asked (None if it can): an option out of range, an output
    that is also an input, an input named twice, a format that contradicts a file's extension, or a table
    format without ``--column``. Checked before any caption is read, so nothing is written."""
    from studylib.captions.readers import detect_format, expand_inputs

    for option, value, low in (
        ("--workers", args.workers, 1),
        ("--batch-size", args.batch_size, 1),
        ("--negative-window", args.negative_window, 0),
    ):
        if value is not None and value < low:
            return f"{option} must be >= {low}, got {value}"
    paths = expand_inputs(args.input)
    resolved = [Path(p).resolve() for p in paths]
    twice = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if twice:
        return f"input {twice[0]} is named more than once (it would be counted twice)"
    for out in (args.out, args.parquet_out, args.matches):
        if out and Path(out).resolve() in resolved:
            return f"output {out} is also an input: it would overwrite the captions"
    for p in paths:
        try:
            found = detect_format(p)
        except ValueError:
            continue
        if args.fmt and args.fmt != found:
            return f"--format {args.fmt} contradicts {p}, whose extension says {found}"
        if (args.fmt or found) in ("tsv", "csv", "parquet") and not args.column:
            return f"{p} is a {(args.fmt or found).upper()} table: name its caption column with --column"
    return None


def _unusable(res, allow_empty: bool) -> str | None:
    """Why a finished count must not be written: a named column missing from an input, or no readable
    caption at all (unless ``allow_empty``)."""
    if res.problems.get("missing_column"):
        return "; ".join(m for m in res.messages if "column" in m) or "a caption column is missing"
    if res.n_captions == 0 and not allow_empty:
        why = "; ".join(res.messages[:3])
        return (
            "the inputs hold no readable caption"
            + (f" ({why})" if why else "")
            + "; check --format and --column, or pass --allow-empty to write all-zero counts"
        )
    return None


def _count(args) -> int:
    from studylib.captions.counting import count_files
    from studylib.captions.patterns import build_patterns
    from studylib.captions.results import write_counts_parquet, write_counts_tsv, write_matches_parquet

    try:
        refused = _refusal(args)
    except (FileNotFoundError, ValueError) as e:
        refused = str(e)
    if refused:
        print(f"freq count: {refused}", file=sys.stderr)
        return 2
    try:
        pat = build_patterns(args.concepts, negatives=not args.no_negatives)
    except (OSError, ValueError) as e:
        print(f"freq count: {e}", file=sys.stderr)
        return 2
    client = None
    if args.dask:
        try:
            from dask.distributed import Client
        except ImportError:
            print(
                "freq count: --dask needs the optional extra: pip install 'dask[distributed]'",
                file=sys.stderr,
            )
            return 2
        client = None if args.dask == "local" else Client(args.dask)
    try:
        res = count_files(
            args.input,
            pat,
            column=args.column,
            fmt=args.fmt,
            single_label=args.single_label,
            negative_window=args.negative_window,
            keep_matches=bool(args.matches),
            workers=args.workers,
            engine="dask" if args.dask else "processes",
            client=client,
            batch_size=args.batch_size,
            kernel=args.kernel,
            progress=not args.no_progress and sys.stderr.isatty(),
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"freq count: {e}", file=sys.stderr)
        return 2
    finally:
        if client is not None:
            client.close()
    if unusable := _unusable(res, args.allow_empty):
        print(f"freq count: {unusable}; nothing written", file=sys.stderr)
        return 2
    if str(args.out).lower().endswith((".parquet", ".pq")):
        write_counts_parquet(res, args.out)
    else:
        write_counts_tsv(res, args.out)
    if args.parquet_out:
        write_counts_parquet(res, args.parquet_out)
    if args.matches:
        write_matches_parquet(res, args.matches)
    print(res.summary(), file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _compare(args) -> int:
    from studylib.captions.profiles import compare_profiles, plot_ranked_frequencies, read_profile

    try:
        ref = read_profile(args.reference)
        others = [read_profile(f) for f in args.files if str(f) != str(args.reference)]
        table = compare_profiles(ref, others, align=args.align)
    except (OSError, ValueError) as e:
        print(f"freq compare: {e}", file=sys.stderr)
        return 2
    if args.csv:
        print(table.to_csv(index=False, float_format="%.6g"), end="")
    else:
        print(table.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.figure:
        import io

        import matplotlib.pyplot as plt

        from studylib.fileio import atomic_write_bytes

        kind = Path(args.figure).suffix.lstrip(".").lower() or "png"
        known = plt.gcf().canvas.get_supported_filetypes()
        plt.close("all")
        if kind not in known:
            print(
                f"freq compare: --figure {args.figure}: unknown figure format {kind!r}; use one of "
                f"{', '.join(sorted(known))}",
                file=sys.stderr,
            )
            return 2
        fig = plot_ranked_frequencies([ref] + others, reference=ref, align=args.align)
        buf = io.BytesIO()
        fig.savefig(buf, format=kind, dpi=150)
        atomic_write_bytes(args.figure, buf.getvalue())
        print(f"wrote {args.figure}", file=sys.stderr)
    return 0


def main(argv=None) -> int:
    """Standalone entry point: ``python -m studylib.cli.freq {count,compare} ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m studylib.cli.freq", description="Concept frequencies of caption corpora."
    )
    _fill(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
