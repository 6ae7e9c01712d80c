"""Command line: ``python -m studylib …`` or ``studylib …``.

    studylib run [CHAPTER ...] [--preset quick] [-p key=value ...]   execute chapters
    studylib results [--csv]                                         the results table
    studylib freq count|compare ...                                  caption toolbox
"""
from __future__ import annotations

import argparse
import sys


def _cmd_run(args) -> int:
    from studylib.config import PRESETS
    from studylib.runner import ChapterFailed, parse_assignment, run_chapters

    if args.preset not in PRESETS:
        print(f"error: unknown preset {args.preset!r}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    try:
        overrides = dict(parse_assignment(p) for p in args.param)
        done = run_chapters(args.chapters, args.preset, overrides, progress=not args.quiet)
    except (ValueError, ChapterFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    total = sum(dt for _, dt in done)
    print(f"{len(done)} chapter(s) in {total:.1f}s")
    return 0


def _cmd_results(args) -> int:
    import pandas as pd

    from studylib.registry import TABLE_COLUMNS, Registry

    table = Registry(args.root).table()
    cols = list(table.columns) if args.all else TABLE_COLUMNS
    if args.csv:
        table[cols].to_csv(sys.stdout, index=False)
    else:
        with pd.option_context("display.max_rows", None, "display.width", 200):
            print(table[cols].to_string(index=False) if len(table) else "no runs yet")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studylib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill")
    run.add_argument("chapters", nargs="*", help="chapter prefixes, e.g. 02 (default: all)")
    run.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    run.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                     help="override a notebook parameter (value parsed as JSON if possible)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    run.set_defaults(func=_cmd_run)
    res = sub.add_parser("results", help="print the results table (one row per run)")
    res.add_argument("--csv", action="store_true", help="CSV instead of an aligned table")
    res.add_argument("--all", action="store_true", help="every metric column, not just the main ones")
    res.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    res.set_defaults(func=_cmd_results)
    try:
        from studylib import freq_cli
    except ImportError:
        freq_cli = None
    if freq_cli is not None:
        freq_cli.add_parser(sub)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
