"""Command line: ``python -m studylib …`` or ``studylib …``.

studylib run [CHAPTER ...] [--preset quick] [-p key=value ...]   execute chapters
studylib results [--where k=v] [--columns a,b] [--csv] [--wide]  the results table (fit to the terminal)
studylib show RUN_ID                                             one run's config, metrics, files
studylib diff RUN_ID RUN_ID                                      where two runs differ
studylib gc [--yes]                                              remove runs made by other code
studylib summary [--markdown]                                    claims and computed verdicts
studylib freq count|compare ...                                  caption toolbox
studylib check-data|train|submit --preset paper -p train_data=...  real data on GPUs
studylib train --preset smoke -p objective=sl                      one run on the concept world

Long because the dispatch of every subcommand and its argparse declaration; each command is a few
lines.
"""

from __future__ import annotations

import argparse
import os
import sys


def _cmd_run(args) -> int:
    import time

    from studylib.chapters import after
    from studylib.config import PRESETS
    from studylib.execute import ChapterFailed, parse_assignment
    from studylib.outputs import published
    from studylib.runner import run_chapters

    if args.preset not in PRESETS:
        print(f"error: unknown preset {args.preset!r}; choose from {', '.join(PRESETS)}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"error: --jobs must be >= 1, got {args.jobs}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    try:
        overrides = dict(parse_assignment(p) for p in args.param)
        done = run_chapters(
            args.chapters,
            args.preset,
            overrides,
            progress=not args.quiet,
            jobs=args.jobs,
            after=after(),
            force=args.force,
        )
    except (ValueError, ChapterFailed) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"{len(done)} chapter(s) in {time.perf_counter() - t0:.1f}s ({args.jobs} at a time)")
    if published(args.preset, overrides):  # a published study: an index of its pages and claims
        print(f"index of the chapters and their claims: {write_study_index(args.preset)}")
    return 0


def write_study_index(preset: str):
    """``index.html`` beside the chapters' pages (``<results>/html/``, ``<results>/full/html/``): the pages, the
    claims table (each claim linked to its chapter) and this machine's minutes; the claim rows are kept for
    the summary ``make study`` writes next."""
    from studylib.chapters import summary
    from studylib.export import write_index
    from studylib.outputs import folders
    from studylib.profiling import read_timings
    from studylib.registry import Registry

    html_dir = folders(preset, {}).executed.parent / "html"
    html_dir.mkdir(parents=True, exist_ok=True)
    minutes = summary.minutes_markdown(read_timings(preset), preset)
    return write_index(html_dir, summary.table(Registry(), preset), preset, minutes)


def _cmd_gc(args) -> int:
    import shutil

    from studylib.registry import Registry

    reg = Registry(args.root)
    stale = reg.stale()
    if not stale:
        print(f"nothing to remove in {reg.root}: every run there was made by this code")
        return 0
    size = sum(f.stat().st_size for p in stale for f in p.rglob("*") if f.is_file())
    print(
        f"{len(stale)} run folder(s) in {reg.root} were made by other code, or are damaged or unfinished "
        f"({size / 2**20:.1f} MiB); nothing current reuses them."
    )
    if not args.yes:
        try:
            answer = input("remove them? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("kept them")
            return 1
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    print(f"removed {len(stale)} run folder(s)")
    return 0


def _cmd_summary(args) -> int:
    import time

    from studylib.chapters import summary
    from studylib.profiling import read_timings, record_summary_seconds
    from studylib.registry import Registry

    t0 = time.perf_counter()
    full = args.preset == "full"
    table = summary.table(Registry(args.root), args.preset, seeds=full)
    if args.write:
        if full:  # its own block, beside the quick verdicts of the same file (make study-full)
            summary.write_full(args.write, table)
        else:
            summary.write_into(args.write, summary.markdown(table, args.preset))
        record_summary_seconds(args.preset, time.perf_counter() - t0)  # shown by the next minutes table
        print(f"wrote the results table at {args.preset} into {args.write}")
        if args.timings:
            text = summary.minutes_markdown(read_timings(args.preset), args.preset)
            marks = (
                (summary.FULL_MINUTES_START, summary.FULL_MINUTES_END)
                if full
                else (summary.MINUTES_START, summary.MINUTES_END)
            )
            summary.write_into(args.write, text, *marks)
            print(f"wrote this machine's minutes per chapter into {args.write}")
    elif args.markdown:
        print(summary.markdown(table, args.preset, read_timings(args.preset)))
    else:
        from studylib.cli.results import terminal_width

        print(summary.terminal(table, terminal_width()))
    return 0


def _real_params(args) -> dict:
    from studylib.execute import parse_assignment
    from studylib.spec import resolve

    params = dict(parse_assignment(p) for p in args.param)
    if getattr(args, "verify_data", False):
        params["verify_data"] = True
    return resolve(args.preset, **params)


def _cmd_check_data(args) -> int:
    from studylib.config import ConfigError
    from studylib.data.real_data import check_data

    try:
        problems = check_data(_real_params(args))
    except (ConfigError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if problems:
        print(f"preset {args.preset}: {len(problems)} thing(s) to fix before training:")
        for p in problems:
            print(f"- {p}")
        return 1
    print(f"preset {args.preset}: the data is in place")
    return 0


def _cmd_train(args) -> int:
    from studylib.cli.distributed import init_distributed
    from studylib.config import ConfigError
    from studylib.pipeline import run
    from studylib.spec import RunSpec

    try:
        params = _real_params(args)
        init_distributed()
        result = run(
            RunSpec(params, label=args.label, preset=args.preset, chapter="train"),
            progress=not args.quiet,
            keep_model=True,
        )
    except (ConfigError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if result is not None:
        tops = ", ".join(f"{k[5:]} {v:.4f}" for k, v in result.metrics.items() if k.startswith("top1_"))
        print(f"run {result.key}: top-1 {tops}  ({result.path})")
    return 0


def _cmd_submit(args) -> int:
    from studylib.cli.submit import submit
    from studylib.config import ConfigError

    try:
        job = submit(
            _real_params(args),
            label=args.label,
            preset=args.preset,
            nodes=args.nodes,
            gpus_per_node=args.gpus_per_node,
            partition=args.partition,
            minutes=args.minutes,
            cluster=args.cluster,
        )
    except (ConfigError, ValueError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"submitted job {job.job_id}; logs in {job.paths.folder}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studylib", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute chapters with papermill")
    run.add_argument(
        "chapters",
        nargs="*",
        help="chapters by number (02 is chapter 2 alone, 02b), file name or pattern (02*) (default: all)",
    )
    run.add_argument("--preset", default="quick", help="smoke | quick | full (default quick)")
    run.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a notebook parameter (value parsed as JSON if possible)",
    )
    run.add_argument(
        "-q", "--quiet", action="store_true", help="no run-by-run progress (chapter start and end lines only)"
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="execute every selected chapter, even those whose executed notebook is up to date",
    )
    run.add_argument(
        "-j",
        "--jobs",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="chapters at a time, each kernel on one thread (default: the cores, at most 4)",
    )
    run.set_defaults(func=_cmd_run)
    from studylib.cli import results as results_cli

    results_cli.add_parsers(sub)
    gc = sub.add_parser("gc", help="remove runs that nothing current refers to (asks first)")
    gc.add_argument("--yes", action="store_true", help="do not ask")
    gc.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    gc.set_defaults(func=_cmd_gc)
    summ = sub.add_parser("summary", help="the study's claims and computed verdicts, from the registry")
    summ.add_argument("--preset", default="quick", help="the preset whose runs to read (default quick)")
    summ.add_argument("--markdown", action="store_true", help="a Markdown table (as in the README)")
    summ.add_argument(
        "--write",
        metavar="FILE",
        help="write the Markdown table between FILE's summary markers (at --preset full: between its full "
        "markers, beside the quick verdicts of FILE's own table; make study-full)",
    )
    summ.add_argument(
        "--timings",
        action="store_true",
        help="with --write: also write this machine's minutes per chapter between FILE's minutes markers "
        "(make publish; at --preset full its own minutes-full markers, make study-full)",
    )
    summ.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    summ.set_defaults(func=_cmd_summary)
    for name, func, text in (
        ("check-data", _cmd_check_data, "say what the real-data parameters still lack"),
        ("train", _cmd_train, "train and evaluate on real data (torchrun-aware)"),
        ("submit", _cmd_submit, "submit `train` to Slurm through submitit"),
    ):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--preset", default="paper", help="preset (default paper)")
        cmd.add_argument(
            "-p",
            "--param",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a parameter (value parsed as JSON if possible)",
        )
        if name != "check-data":
            cmd.add_argument(
                "--verify-data",
                action="store_true",
                help="key the run by the content of shards and evaluation folders (hashes every "
                "file; slow), not by their names, sizes and modification times",
            )
            cmd.add_argument("--label", default="real", help="the run's label in the results table")
            cmd.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        if name == "submit":
            cmd.add_argument("--nodes", type=int, default=1)
            cmd.add_argument("--gpus-per-node", type=int, default=8)
            cmd.add_argument("--partition", default=None)
            cmd.add_argument("--minutes", type=int, default=24 * 60)
            cmd.add_argument(
                "--cluster", default=None, help="submitit cluster: slurm (default), local or debug"
            )
        cmd.set_defaults(func=func)
    from studylib.cli import freq as freq_cli
    from studylib.cli import prototypes as prototypes_cli

    freq_cli.add_parser(sub)
    prototypes_cli.add_parser(sub)
    return parser


# Exit codes of errors that reach the top (sysexits.h where one fits): bad input 2, a run whose loss diverged 3,
# unreadable or damaged data 65 (EX_DATAERR), the file system refused a read or write 74 (EX_IOERR), Ctrl-C 130,
# SIGTERM while `run` executes chapters 143 (128 + 15, as a shell reports a process the signal ended;
# studylib.processes.Terminated).
EXIT_CODES = (
    ("Terminated", 143),
    ("KeyboardInterrupt", 130),
    ("TrainingDiverged", 3),
    ("ShardError", 65),
    ("OverflowError", 65),
    ("OSError", 74),
    ("ConfigError", 2),
    ("ValueError", 2),
)


def exit_code(err: BaseException) -> int | None:
    """The exit code for an error that ends a command (None: not one the command line reports by itself)."""
    names = {c.__name__ for c in type(err).__mro__}
    return next((code for name, code in EXIT_CODES if name in names), None)


def main(argv=None) -> int:
    """Run one command; an error it reports ends in one line on stderr and its exit code (``--debug``: the
    traceback instead)."""
    parser = build_parser()
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except BaseException as err:
        code = exit_code(err)
        if args.debug or code is None:
            raise
        if code in (130, 143):
            print("interrupted" if code == 130 else "terminated", file=sys.stderr)
        else:
            text = " ".join(str(err).split()) or "(no message)"
            print(f"error: {type(err).__name__}: {text} (--debug shows the traceback)", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
