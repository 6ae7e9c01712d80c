"""Caption file readers: formats, globs, shards and per-shard batch readers.

Why: :func:`studylib.captions.counting.count_files` reads text (one caption a
line), TSV/CSV, parquet and webdataset tar files shard by shard (a shard is a
file or a parquet row group), so that shards can run on processes or Dask
workers. Bad input is tallied in a problems Counter and explained in
messages, never raised: one broken file must not stop a web-scale scan.

Usage::

    from collections import Counter
    from studylib.captions.readers import expand_inputs, iter_shard, list_shards
    shards, msgs = list_shards(expand_inputs("caps/*.parquet"), column="TEXT")
    problems, notes = Counter(), []
    for batch in iter_shard(shards[0], 16384, problems, notes):
        ...      # a CaptionLines block, an Arrow string array or a list of str

Long because one reader per caption format (text, TSV/CSV, parquet, tar) behind one shard interface.
"""

from __future__ import annotations

import glob as _glob
import json
import os
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np

from studylib.fileio import tar_end_missing

# --- file inputs -------------------------------------------------------------

_FORMATS = {
    ".txt": "text",
    ".text": "text",
    ".tsv": "tsv",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".tar": "tar",
}


def detect_format(path: str | Path) -> str:
    """Input format from the file name: text, tsv, csv, parquet or tar."""
    name = str(path).lower()
    for suffix in (".tar.gz", ".tgz"):
        if name.endswith(suffix):
            return "tar"
    ext = os.path.splitext(name)[1]
    if ext in _FORMATS:
        return _FORMATS[ext]
    raise ValueError(
        f"{path}: cannot tell the format from the extension; pass fmt= (one of text, tsv, csv, parquet, tar)"
    )


def expand_inputs(inputs) -> list[str]:
    """Expand glob patterns (in order, each sorted); error on a pattern matching nothing and on a named file
    that does not exist (a misspelled path must not count as an empty input)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    out = []
    for item in inputs:
        item = str(item)
        if any(ch in item for ch in "*?["):
            hits = sorted(_glob.glob(item))
            if not hits:
                raise FileNotFoundError(f"input pattern {item!r} matches no file")
        elif not os.path.isfile(item):
            raise FileNotFoundError(
                f"input {item!r} does not exist"
                if not os.path.exists(item)
                else f"input {item!r} is not a file"
            )
        else:
            hits = [item]
        out += hits
    return out


def list_shards(
    paths: list[str], fmt: str | None = None, column: str | None = None
) -> tuple[list[tuple], list[str]]:
    """Work units: one per parquet row group, one per other file.

    A shard is a tuple ``(path, format, row group or 0, column)``; a text
    shard may instead hold a ``(start, end)`` byte range of whole lines
    (:func:`studylib.captions.fastscan.line_ranges`). Returns
    (shards, messages); unreadable parquet footers become messages.
    """
    shards, msgs = [], []
    for p in paths:
        f = fmt or detect_format(p)
        if f == "parquet":
            import pyarrow.parquet as pq

            try:
                md = pq.ParquetFile(p).metadata
            except Exception as e:  # noqa: BLE001 - any unreadable file is reported
                msgs.append(f"{p}: unreadable parquet file ({type(e).__name__}: {e}); skipped")
                shards.append((p, "unreadable", 0, column))
                continue
            shards += [(p, f, i, column) for i in range(md.num_row_groups)] or [(p, f, -1, column)]
        else:
            shards.append((p, f, 0, column))
    return shards, msgs


def iter_shard(shard, batch_size: int, probs: Counter, msgs: list):
    """Yield caption batches of one shard (from :func:`list_shards`).

    A batch is a :class:`CaptionLines` block (text files), an Arrow string or
    binary array (TSV/CSV/parquet) or a list of str (tar). Problems are
    added to ``probs`` and explained in ``msgs``.
    """
    path, fmt, part, column = shard
    if fmt == "unreadable":
        probs["unreadable"] += 1
        return
    if not os.path.exists(path):
        probs["unreadable"] += 1
        msgs.append(f"{path}: file does not exist; skipped")
        return
    if fmt == "text":
        yield from _iter_text(path, probs, *(part if isinstance(part, tuple) else (0, None)))
    elif fmt in ("tsv", "csv"):
        yield from _iter_table(path, fmt, column, batch_size, probs, msgs)
    elif fmt == "parquet":
        yield from _iter_parquet(path, part, column, batch_size, probs, msgs)
    elif fmt == "tar":
        yield from _iter_tar(path, column, batch_size, probs, msgs)
    else:
        raise ValueError(f"{path}: unknown format {fmt!r}")


def split_long_line(data: bytes) -> tuple[bytes, bytes]:
    """A line of at least one block without a newline, cut into (piece, rest): at its last space or tab, else
    at its last UTF-8 character boundary. Such a "caption" (a file with another line ending, a serialised blob)
    would otherwise be held whole in memory, then in the matcher's arrays several times over: a 200 MB line
    peaked at 4.7 GB. Each piece counts as one caption, and the pieces are reported (``long_line_piece``)."""
    cut = max(data.rfind(b" "), data.rfind(b"\t"))
    if cut > 0:
        return data[:cut], data[cut + 1 :]
    cut = len(data)
    while cut > 0 and (data[cut - 1] & 0xC0) == 0x80:  # back over continuation bytes
        cut -= 1
    if cut > 0 and data[cut - 1] >= 0xC0:  # to the lead byte of the last character
        cut -= 1
    cut = cut or len(data)
    return data[:cut], data[cut:]


def _iter_text(path, probs, start: int = 0, end: int | None = None, chunk_bytes: int = 1 << 20):
    """One caption per line (of bytes ``[start, end)``, line starts), in ~1 MB chunks cut at newlines; a line
    longer than a chunk is cut into pieces (:func:`split_long_line`)."""
    with open(path, "rb") as f:
        f.seek(start)
        left = None if end is None else end - start
        rest = b""
        while True:
            data = f.read(chunk_bytes if left is None else min(chunk_bytes, left))
            if left is not None:
                left -= len(data)
            if not data:
                if rest:
                    yield from _text_chunk(rest, probs)
                return
            data = rest + data
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) < chunk_bytes:
                    rest = data
                    continue
                piece, rest = split_long_line(data)  # bounded memory, as the fast path
                probs["long_line_piece"] += 1
                yield from _text_chunk(piece + b"\n", probs)
                continue
            rest = data[cut + 1 :]
            yield from _text_chunk(data[: cut + 1], probs)


class CaptionLines(bytes):
    """A block of newline-terminated UTF-8 caption lines (one caption a line)."""


def _text_chunk(data: bytes, probs):
    import pyarrow as pa

    if not data.endswith(b"\n"):
        data += b"\n"
    arr = pa.StringArray.from_buffers(1, pa.py_buffer(np.array([0, len(data)], np.int32)), pa.py_buffer(data))
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        lines = data[:-1].split(b"\n")
        fixed = []
        for line in lines:
            try:
                line.decode("utf-8")
                fixed.append(line)
            except UnicodeDecodeError:
                probs["bad_utf8"] += 1
                fixed.append(line.decode("utf-8", "replace").encode("utf-8"))
        data = b"\n".join(fixed) + b"\n"
    yield CaptionLines(data)


def _iter_table(path, fmt, column, batch_size, probs, msgs):
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if not column:
        probs["missing_column"] += 1
        msgs.append(f"{path}: a {fmt.upper()} input needs --column (the caption column); skipped")
        return
    bad_rows = [0]

    def on_bad(row):
        bad_rows[0] += 1
        return "skip"

    parse = pcsv.ParseOptions(
        delimiter="\t" if fmt == "tsv" else ",",
        quote_char=False if fmt == "tsv" else '"',
        newlines_in_values=fmt == "csv",
        invalid_row_handler=on_bad,
    )
    try:
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=1 << 22),
            parse_options=parse,
            convert_options=pcsv.ConvertOptions(include_columns=[column], column_types={column: pa.binary()}),
        )
    except (pa.ArrowInvalid, pa.ArrowKeyError, KeyError) as e:
        header = _header(path, parse.delimiter)
        if header is not None and column not in header:
            probs["missing_column"] += 1
            msgs.append(f"{path}: no column {column!r} (columns: {', '.join(header[:12])}); skipped")
        else:
            probs["unreadable"] += 1
            msgs.append(f"{path}: unreadable {fmt.upper()} ({e}); skipped")
        return
    try:
        for batch in reader:
            col = batch.column(0)
            for s in range(0, len(col), batch_size):
                yield col.slice(s, batch_size)
    except pa.ArrowInvalid as e:
        probs["unreadable"] += 1
        msgs.append(f"{path}: stopped reading after a parse error ({e})")
    probs["bad_row"] += bad_rows[0]


def _header(path, delim):
    try:
        with open(path, "rb") as f:
            line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
        return [h.strip('"') for h in line.split(delim)]
    except OSError:
        return None


def _iter_parquet(path, part, column, batch_size, probs, msgs):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    names = pf.schema_arrow.names
    if not column or column not in names:
        if part <= 0:  # report once per file
            probs["missing_column"] += 1
            msgs.append(f"{path}: no column {column!r} (columns: {', '.join(names[:12])}); skipped")
        return
    typ = pf.schema_arrow.field(column).type
    if not (
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    ):
        if part <= 0:
            probs["missing_column"] += 1
            msgs.append(f"{path}: column {column!r} has type {typ}, not text; skipped")
        return
    if part < 0:
        return
    col = pf.read_row_group(part, columns=[column]).column(0)
    for s in range(0, len(col), batch_size):
        yield col.slice(s, batch_size)


def _iter_tar(path, column, batch_size, probs, msgs):
    """Captions of a webdataset tar: per sample, its .txt member, else .json[column]."""
    fields = [column] if column else ["caption", "text", "txt", "TEXT"]
    batch: list[str] = []
    cur_key, cur = None, {}

    def flush():
        if cur_key is None:
            return
        if "txt" in cur:
            raw = cur["txt"]
            try:
                batch.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                probs["bad_utf8"] += 1
                batch.append(raw.decode("utf-8", "replace"))
        elif "json" in cur:
            try:
                obj = json.loads(cur["json"])
                val = next((obj[k] for k in fields if isinstance(obj, dict) and k in obj), None)
                if val is None:
                    probs["missing_column"] += 1
                    batch.append("")
                else:
                    batch.append(val if isinstance(val, str) else str(val))
            except (json.JSONDecodeError, UnicodeDecodeError):
                probs["bad_json"] += 1
                batch.append("")
        else:
            probs["no_text"] += 1
            batch.append("")

    try:
        with tarfile.open(path, mode="r|*") as tf:
            for member in tf:
                if not member.isfile():
                    continue
                base = os.path.basename(member.name)
                if "." not in base:
                    continue
                key = os.path.join(os.path.dirname(member.name), base.split(".", 1)[0])
                ext = base.split(".", 1)[1].lower()
                if key != cur_key:
                    flush()
                    cur_key, cur = key, {}
                    if len(batch) >= batch_size:
                        yield batch
                        batch = []
                if ext in ("txt", "json"):
                    cur[ext] = tf.extractfile(member).read()
            flush()
            offset = tf.offset
        if tar_end_missing(path, offset):
            probs["unreadable"] += 1
            msgs.append(
                f"{path}: truncated tar (no end-of-archive blocks after member {cur_key!r}); its "
                "captions up to there were counted"
            )
    except (tarfile.TarError, OSError, EOFError) as e:
        probs["unreadable"] += 1
        msgs.append(f"{path}: broken tar ({e}); read {len(batch)} samples of the last batch")
    if batch:
        yield batch
    if probs.get("missing_column") and column:
        msgs.append(f"{path}: some .json members lack the field {column!r}")
