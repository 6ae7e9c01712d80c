"""``studylib results`` and ``studylib show``: the run registry for people.

Why: after a study a researcher wants to see which runs exist, with what settings, made when,
and to pick one out, without opening parquet files. ``results`` prints one line per run in 80
columns: the key configuration values (objective, preset, seed, zipf_alpha, n_train, caption
level, vocab_k), the date and top-1, with the label cut to the width left; a value shared by
every row moves to a header line. ``--columns`` picks other columns (any metric or
configuration key), ``--where key=value`` filters, ``--csv`` writes everything whole. ``show``
prints one run's configuration, metrics and files; ``diff`` the configuration values and metrics
where two runs differ. The table fits ``--width`` columns (default: the terminal's, else 80), or
none with ``--wide``; a label too long for its column loses its middle, where runs of one chapter
share words, so the end that tells them apart stays.

Run::

    studylib results [--where chapter=02 --where objective=sl] [--columns top1,lr] [--csv] [--all]
    studylib results --width 120        # or --wide: labels whole
    studylib show 3f2a91c0
    studylib diff 3f2a91c0 77b0e2d4

Long because the run table, its filters and its terminal rendering belong to the one
`results`/`show`/`diff` commands.
"""

from __future__ import annotations

import difflib
import os
import sys
from datetime import datetime

KEY = ["objective", "preset", "seed", "zipf_alpha", "n_train", "caption", "vocab_k"]
SHORT = {
    "run_id": "id",
    "chapter": "ch",
    "objective": "obj",
    "zipf_alpha": "zipf",
    "caption": "caption",
    "vocab_k": "vocab",
    "n_train": "n_train",
}
CAPTION_SHORT = {
    "template_name": "name",
    "template_synonym": "synonym",
    "description": "descr",
    "full_text": "full",
}
WIDTH = 80
PREFIX_MATCH = ("run_id", "chapter")  # --where chapter=02 matches 02_imbalance


def add_parsers(sub) -> None:
    res = sub.add_parser("results", help="the results table (one row per run, fit to the terminal)")
    res.add_argument("--csv", action="store_true", help="CSV with every column whole")
    res.add_argument("--all", action="store_true", help="every metric and configuration column")
    res.add_argument(
        "--columns",
        default=None,
        metavar="A,B,...",
        help="columns to show after the id (metrics or configuration keys, e.g. top1,lr,epochs)",
    )
    res.add_argument(
        "--where",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="keep the runs whose KEY equals VALUE (repeatable; chapter and run_id match a prefix)",
    )
    res.add_argument(
        "--width", type=int, default=None, help="columns to fit (default: the terminal's width, else 80)"
    )
    res.add_argument("--wide", action="store_true", help="never cut a label (as wide as it takes)")
    res.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    res.set_defaults(func=cmd_results)
    diff = sub.add_parser("diff", help="where two runs' configurations and metrics differ")
    diff.add_argument("run_a", help="a run id or a unique prefix of one")
    diff.add_argument("run_b", help="another run id or prefix")
    diff.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    diff.set_defaults(func=cmd_diff)
    show = sub.add_parser("show", help="one run's configuration, metrics and files")
    show.add_argument("run_id", help="a run id or a unique prefix of one (see `studylib results`)")
    show.add_argument("--root", default=None, help="registry folder (default <results>/runs)")
    show.set_defaults(func=cmd_show)


def caption_level(mix) -> str:
    """The caption level a world's ``caption_mix`` puts all weight on, else ``mix``."""
    from studylib.config import CAPTION_LEVELS

    if mix is None:
        return "source"
    weights = list(mix)
    return CAPTION_LEVELS[weights.index(max(weights))] if sorted(weights)[-2:-1] == [0] else "mix"


def flat_config(config: dict) -> dict:
    out = {k: v for part in config.values() if isinstance(part, dict) for k, v in part.items()}
    out["caption"] = caption_level(config.get("world", {}).get("caption_mix")) if "world" in config else None
    return out


def finished(folder) -> str:
    """When the run in ``folder`` was completed (its ``metrics.json``, the commit marker, was written)."""
    return datetime.fromtimestamp((folder / "metrics.json").stat().st_mtime).strftime("%Y-%m-%d %H:%M")


def table(reg):
    """One row per complete run: id, when, chapter, label, current, the key configuration values, every
    scalar metric, then every other configuration value (``cfg`` lists those names)."""
    import pandas as pd

    from studylib.fingerprint import code_fingerprint

    code, rows, metric_names, config_names = code_fingerprint(), [], {}, {}
    for r in reg.runs():
        cfg = flat_config(r.config)
        metrics = {k: v for k, v in r.metrics.items() if isinstance(v, (int, float, str))}
        rows.append(
            {
                "run_id": r.key,
                "when": finished(reg.path(r.key)),
                "chapter": r.meta.get("chapter"),
                "label": r.meta.get("label"),
                "current": r.meta.get("code") == code,
                **{k: cfg.get(k) for k in KEY},
                "preset": r.meta.get("preset"),
                **metrics,
                **{f"cfg:{k}": v for k, v in cfg.items() if k not in KEY},
            }
        )
        metric_names.update(dict.fromkeys(metrics))
        config_names.update(dict.fromkeys(k for k in cfg if k not in KEY))
    head = ["run_id", "when", "chapter", "label", "current", *KEY]
    df = pd.DataFrame(rows, columns=head + list(metric_names) + [f"cfg:{k}" for k in config_names])
    df.columns = [
        c.removeprefix("cfg:") if c.removeprefix("cfg:") not in df.columns else c for c in df.columns
    ]
    return df.sort_values(["chapter", "label", "seed"], na_position="last", kind="stable").reset_index(
        drop=True
    )


def _close(name: str, names) -> str:
    near = difflib.get_close_matches(name, list(names), n=1)
    return f" (did you mean {near[0]!r}?)" if near else ""


def _column(df, name: str) -> str:
    if name not in df.columns:
        raise ValueError(
            f"unknown column {name!r}{_close(name, df.columns)}; {len(df.columns)} columns, "
            "listed by `studylib results --all --csv | head -1`"
        )
    return name


def where(df, conditions):
    """Rows matching every ``KEY=VALUE`` (numbers compare as numbers; chapter and run_id as prefixes)."""
    for cond in conditions:
        key, sep, value = cond.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--where needs KEY=VALUE, got {cond!r}")
        col = df[_column(df, key)]
        value = value.strip()
        try:
            num = float(value)
            keep = [_equal_number(v, num) for v in col]
        except ValueError:
            keep = [str(v) == value for v in col]
        if key in PREFIX_MATCH:
            keep = [k or str(v).startswith(value) for k, v in zip(keep, col)]
        df = df[keep]
    return df


def _equal_number(v, num: float) -> bool:
    try:
        return v is not None and not isinstance(v, bool) and float(v) == num
    except (TypeError, ValueError):
        return False


def _cell(name: str, v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if name == "run_id":
        return str(v)[:8]
    if name == "chapter":
        return str(v).split("_")[0]
    if name == "when":
        return str(v)[5:]  # MM-DD HH:MM
    if name == "vocab_k" and v == 0:
        return "all"
    if name == "caption":
        return CAPTION_SHORT.get(v, str(v))
    if isinstance(v, bool):
        return "yes" if v else "no"
    if name in KEY and isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def cut_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters: its start and its end, an ellipsis for the middle."""
    if len(text) <= width:
        return text
    head = (width - 1) // 2
    return text[:head] + "…" + text[len(text) - (width - 1 - head) :]


def terminal_width() -> int:
    """The terminal's columns (``COLUMNS`` first), else :data:`WIDTH`."""
    import shutil

    return shutil.get_terminal_size((WIDTH, 24)).columns


def render(df, columns=None, filtered: bool = False, width: int | None = WIDTH) -> str:
    """An aligned text table: ``columns`` (default: the key ones) and the label cut (in its middle) to fill
    ``width`` (None: labels whole).

    A key column whose value is the same in every row is stated once above the table instead.
    """
    if not len(df):
        return "no runs match" if filtered else "no runs yet"
    shared = []
    if columns is None:
        columns = ["run_id", "when", "chapter", *KEY, "top1"]
        for c in KEY:
            values = {_cell(c, v) for v in df[c]}
            if len(values) == 1 and len(df) > 1:
                shared.append(f"{SHORT.get(c, c)} {values.pop()}")
                columns.remove(c)
        columns.append("label")
    else:
        columns = ["run_id", *[c for c in columns if c != "run_id"]]
    cells = {c: [_cell(c, v) for v in df[c]] for c in columns if c in df.columns}
    stale = [not bool(v) for v in df["current"]] if "current" in df.columns else [False] * len(df)
    if any(stale):  # runs made by older code: marked, never reused
        cells["run_id"] = [x + ("*" if old else " ") for x, old in zip(cells["run_id"], stale)]
    heads = {c: SHORT.get(c, c) for c in cells}
    widths = {c: max(len(heads[c]), *(len(x) for x in cells[c])) for c in cells}
    if "label" in cells and columns[-1] == "label" and width is not None:
        room = width - sum(w + 1 for c, w in widths.items() if c != "label")
        widths["label"] = max(12, min(widths["label"], room))
        cells["label"] = [cut_middle(x, widths["label"]) for x in cells["label"]]
    right = {
        c for c in cells if c not in ("label", "chapter", "objective", "preset", "caption", "when", "run_id")
    }

    def line(values):
        return " ".join(
            v.rjust(widths[c]) if c in right else v.ljust(widths[c]) for c, v in zip(cells, values)
        ).rstrip()

    out = ["same in every row: " + ", ".join(shared)] if shared else []
    out.append(line([heads[c] for c in cells]))
    out += [line([cells[c][i] for c in cells]) for i in range(len(df))]
    if any(stale):
        out.append("* made by older code: never reused; `studylib gc` removes it")
    return "\n".join(out)


def _quiet_pipe(write) -> int:
    try:
        write()
        sys.stdout.flush()
    except BrokenPipeError:  # `studylib results --csv | head`: the reader stopped early
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_results(args) -> int:
    from studylib.registry import Registry

    df = table(Registry(args.root))
    try:
        df = where(df, args.where)
        columns = (
            None
            if args.columns is None
            else [_column(df, c.strip()) for c in args.columns.split(",") if c.strip()]
        )
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.csv:
        keep = (
            list(df.columns)
            if args.all
            else (
                ["run_id"] + columns
                if columns
                else ["run_id", "when", "chapter", "label", "current", *KEY, "top1"]
            )
        )
        return _quiet_pipe(lambda: df[[c for c in keep if c in df.columns]].to_csv(sys.stdout, index=False))
    if args.all:
        columns = [c for c in df.columns if c != "run_id"]
    if args.width is not None and args.width < 40:
        print(f"error: --width must be at least 40, got {args.width}", file=sys.stderr)
        return 2
    width = None if args.wide else (args.width or terminal_width())
    return _quiet_pipe(lambda: print(render(df, columns, filtered=bool(args.where), width=width)))


def _find(reg, prefix: str):
    """The run whose id starts with ``prefix``, or an error message."""
    keys = (
        [p.name for p in reg.root.iterdir() if p.is_dir() and p.name.startswith(prefix)]
        if reg.root.exists() and prefix
        else []
    )
    if len(keys) != 1:
        what = "no run" if not keys else f"{len(keys)} runs ({', '.join(sorted(keys)[:5])})"
        return None, f"{what} in {reg.root} with an id starting {prefix!r}; see `studylib results`"
    run = reg.load(keys[0])
    if run is None:
        return None, f"run {keys[0]} in {reg.root} is incomplete or damaged"
    return run, ""


def run_differences(a, b) -> list[tuple[str, str, str]]:
    """(name, value in a, value in b) for every configuration value (``part.key``) and scalar metric that
    differs between runs ``a`` and ``b``, configuration first; a missing value shows as ``-``."""

    def flat(run):
        cfg = {
            f"{part}.{k}": v
            for part, values in run.config.items()
            if isinstance(values, dict)
            for k, v in values.items()
        }
        cfg.update({f"{part}": v for part, v in run.config.items() if not isinstance(v, dict)})
        metrics = {k: v for k, v in run.metrics.items() if isinstance(v, (int, float, str))}
        return cfg, metrics

    out = []
    for da, db in zip(flat(a), flat(b)):
        for k in sorted(set(da) | set(db)):
            va, vb = da.get(k), db.get(k)
            if va != vb and not (isinstance(va, float) and isinstance(vb, float) and va != va and vb != vb):
                out.append((k, _cell(k, va), _cell(k, vb)))
    return out


def cmd_diff(args) -> int:
    from studylib.registry import Registry

    reg = Registry(args.root)
    runs = []
    for prefix in (args.run_a, args.run_b):
        run, err = _find(reg, prefix)
        if run is None:
            print(f"error: {err}", file=sys.stderr)
            return 1
        runs.append(run)
    a, b = runs
    rows = run_differences(a, b)
    head = [f"a: {a.key}  {a.meta.get('label')}", f"b: {b.key}  {b.meta.get('label')}", ""]
    if not rows:
        return _quiet_pipe(
            lambda: print("\n".join([*head, "the two runs' configurations and metrics are equal"]))
        )
    w = max(len(r[0]) for r in rows)
    wa = max(len(r[1]) for r in rows + [("", "a", "")])
    lines = [f"{'':{w}}  {'a':>{wa}}  b"] + [f"{k:{w}}  {va:>{wa}}  {vb}" for k, va, vb in rows]
    return _quiet_pipe(lambda: print("\n".join(head + lines)))


def cmd_show(args) -> int:
    from studylib.registry import Registry

    reg = Registry(args.root)
    run, err = _find(reg, args.run_id)
    if run is None:
        print(f"error: {err}", file=sys.stderr)
        return 1
    folder = reg.path(run.key)
    when = finished(folder)
    lines = [
        f"run {run.key}  ·  {run.meta.get('label')}  ·  chapter {run.meta.get('chapter')}  ·  preset "
        f"{run.meta.get('preset')}  ·  finished {when}",
        f"folder: {folder}",
        "",
        "configuration:",
    ]
    for part, values in run.config.items():
        if isinstance(values, dict):
            lines += [f"  {part}.{k} = {v}" for k, v in sorted(values.items())]
    lines += ["", "metrics:"]
    lines += [f"  {k} = {_cell(k, v)}" for k, v in run.metrics.items() if isinstance(v, (int, float, str))]
    lines += ["", "files:"]
    lines += [f"  {p.name}  ({p.stat().st_size:,} bytes)" for p in sorted(folder.iterdir()) if p.is_file()]
    return _quiet_pipe(lambda: print("\n".join(lines)))
