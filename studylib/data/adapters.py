"""Real-data adapters and loaders: caption tables, webdataset shards, ImageNet-Captions, eval folders.

Why: the study's default data is the synthetic concept world, but a user swaps
in real data (the paper's released TSV lists, LAION/CC/YFCC shards,
ImageNet-Captions, ImageNet-R/-A/ObjectNet). Every source here becomes the same
simple form, which the in-memory trainer and a streaming trainer can both use:

* items ``(image float (3, H, W) after the transform, label int, caption str)``
  from a map-style :class:`ImageTextDataset` or an iterable :class:`ShardDataset`;
* an image that is missing, corrupt or truncated comes back as a
  :class:`Skipped` item naming the file; :func:`collate_skip_bad` drops it from
  the batch and returns its name, so a :class:`SkipCounter` fed with every
  batch reports all of them at the end of the epoch, also with DataLoader
  workers (the counts travel inside the batches, not through shared state);
* :func:`make_loader` returns a DataLoader whose order is a pure function of
  ``(seed, epoch)`` (:func:`epoch_order`), with
  pinned memory on GPU machines.

Labels are class indices (``-1`` where a shard sample carries none). A label
given as a class name, an unknown class or a malformed row is an error naming
the file and line; an empty caption is dropped with a warning (the row is kept
in ``dataset.dropped``), never used.

Usage::

    from studylib.data.adapters import (SkipCounter, ShardDataset, caption_table, eval_folder,
                               imagenet_captions, make_loader, make_transform)
    ds = caption_table("incaps_title.tsv", root="/data", transform=make_transform(224, train=True))
    skips = SkipCounter()
    for epoch in range(2):
        for batch in make_loader(ds, 256, shuffle=True, seed=0, epoch=epoch, workers=8):
            skips.update(batch)          # batch["images"], ["labels"], ["captions"], ["skipped"]
        print(skips.report()); skips.reset()

    shards = ShardDataset("/data/cc3m/{00000..00331}.tar", transform=make_transform(224, train=True))
    caps = imagenet_captions("imagenet_captions.json", "/data/imagenet/train", variant="title+tags")
    inr = eval_folder("/data/imagenet-r", mask="imagenet-r")   # labels 0..199, inr.class_groups

Long because one adapter per real-data format (TSV, ImageNet-Captions JSON, shards, evaluation
folders) with their checks.
"""

from __future__ import annotations

import csv
import io
import json
import random
import re
import tarfile
import warnings
import zlib
from collections.abc import Callable, Iterator, Sequence
from glob import glob
from pathlib import Path
from typing import NamedTuple

import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info

from studylib.concepts import load_concepts
from studylib.data import class_masks
from studylib.fileio import tar_end_missing
from studylib.seeds import epoch_seed, sample_seed, shuffle_buffer_seed

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
CAPTION_FIELDS = ("title", "tags", "description")
CAPTION_VARIANTS = (
    "title",
    "tags",
    "description",
    "title+tags",
    "title+description",
    "tags+description",
    "all",
)
EVAL_MASKS = ("imagenet-r", "imagenet-a", "objectnet")


class Skipped(NamedTuple):
    """A sample that could not be used: ``name`` (file or shard member) and ``reason``."""

    name: str
    reason: str


class ShardError(RuntimeError):
    """A webdataset shard could not be read; the message names the shard."""


# ---------------------------------------------------------------- decoding and transforms


def decode_image(source: str | Path | bytes) -> Image.Image:
    """Open and fully decode an image (path or bytes) as RGB; raises on a bad file."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        im.load()
        return im.convert("RGB")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, UnidentifiedImageError):
        return "cannot identify image file"
    text = str(exc).split("\n")[0][:120]
    return text if isinstance(exc, OSError) and text else f"{type(exc).__name__}: {text}"


def _try_decode(source: str | Path | bytes, name: str) -> Image.Image | Skipped:
    try:
        return decode_image(source)
    except Exception as exc:  # noqa: BLE001 - anything that fails to decode is a bad image
        return Skipped(name, _reason(exc))


def to_float_tensor(image: Image.Image) -> torch.Tensor:
    """Default transform: PIL RGB -> float (3, H, W) in [0, 1], no resize."""
    from torchvision.transforms.functional import to_tensor

    return to_tensor(image)


def make_transform(image_size: int, *, train: bool = False) -> Callable:
    """open_clip's preprocessing at ``image_size`` (train: random resized crop; eval: resize + centre crop).

    Both normalize with the CLIP mean and std. Any callable PIL -> float (3, H, W)
    tensor (e.g. a torchvision ``Compose``) can be passed instead wherever a
    ``transform`` is taken.
    """
    from open_clip.transform import image_transform

    return image_transform(image_size, is_train=train)


class _CropBorder:
    """Crop ``px`` pixels on every side (ObjectNet images carry a 2-pixel border)."""

    def __init__(self, px: int, then: Callable):
        self.px, self.then = px, then

    def __call__(self, im: Image.Image):
        w, h = im.size
        if w > 2 * self.px and h > 2 * self.px:
            im = im.crop((self.px, self.px, w - self.px, h - self.px))
        return self.then(im)


# ---------------------------------------------------------------- the common map-style dataset


class ImageTextDataset(Dataset):
    """Map-style dataset over ``samples`` = ``[(path, label, caption), ...]``.

    Relative paths are resolved against ``root``; ``names[i]`` (the path as the
    source wrote it) names the file in reports. ``dataset[i]`` is ``(image,
    label, caption)`` or a :class:`Skipped` naming the file when the image is
    missing or cannot be decoded. ``dropped`` holds the ``Skipped`` rows removed
    when the source was read (e.g. empty captions).
    """

    def __init__(
        self,
        samples: Sequence[tuple[str | Path, int, str]],
        *,
        root: str | Path | None = None,
        transform: Callable | None = None,
        classes: Sequence[str] | None = None,
        dropped: Sequence[Skipped] = (),
    ):
        self.root = Path(root) if root is not None else None
        self.names = [p.as_posix() if isinstance(p, Path) else str(p) for p, _, _ in samples]
        self.labels = torch.tensor([int(lab) for _, lab, _ in samples], dtype=torch.int64)
        self.captions = [str(c) for _, _, c in samples]
        self.transform = transform or to_float_tensor
        self.classes = list(classes) if classes is not None else None
        self.dropped = list(dropped)

    def __len__(self) -> int:
        return len(self.names)

    def path(self, i: int) -> Path:
        """The file of sample ``i``."""
        return self.root / self.names[i] if self.root is not None else Path(self.names[i])

    aug_seed: int | None = None  # set by make_loader: augmentations seeded per (seed, epoch, sample)
    aug_epoch: int = 0

    def __getitem__(self, i: int):
        image = _try_decode(self.path(i), self.names[i])
        if isinstance(image, Skipped):
            return image
        if self.aug_seed is None:
            return self.transform(image), int(self.labels[i]), self.captions[i]
        # a random augmentation draws from a generator of its own sample, epoch and seed: the same
        # pixels whatever the worker count, the order, or a resume in the middle of the epoch
        seed = sample_seed(self.aug_seed, self.aug_epoch, i)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            state = random.getstate()
            random.seed(seed)
            try:
                return self.transform(image), int(self.labels[i]), self.captions[i]
            finally:
                random.setstate(state)

    def class_counts(self, n_classes: int | None = None) -> torch.Tensor:
        """Samples per class, int64 (``n_classes`` defaults to ``len(classes)``)."""
        n = n_classes if n_classes is not None else (len(self.classes) if self.classes else 0)
        labels = self.labels[self.labels >= 0]
        return torch.bincount(labels, minlength=n)


def _warn_dropped(source: str, dropped: list[Skipped]) -> None:
    if dropped:
        head = ", ".join(f"{d.name} ({d.reason})" for d in dropped[:5])
        more = f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
        warnings.warn(f"{source}: skipped {len(dropped)} rows: {head}{more}", stacklevel=3)


# ---------------------------------------------------------------- TSV / CSV caption tables


def _class_resolver(classes: Sequence[str] | None, where: Callable[[], str], n_classes: int | None = None):
    if classes is not None:
        n_classes = len(classes)
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(classes or ()):
        by_name.setdefault(c, []).append(i)
        if c.lower() != c:
            by_name.setdefault(c.lower(), []).append(i)

    def resolve(text: str) -> int:
        text = text.strip()
        if re.fullmatch(r"[+-]?\d+", text):
            idx = int(text)
            if idx < 0 or (n_classes is not None and idx >= n_classes):
                bound = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
                raise ValueError(f"{where()}: label {idx} is out of range ({bound})")
            return idx
        if classes is None:
            raise ValueError(
                f"{where()}: label {text!r} is not a class index; pass classes=[...] to resolve class names"
            )
        hits = by_name.get(text) or by_name.get(text.lower())
        if not hits:
            raise ValueError(
                f"{where()}: unknown class {text!r} (not among the {len(classes)} given classes)"
            )
        if len(set(hits)) > 1:
            raise ValueError(f"{where()}: class name {text!r} is ambiguous (indices {sorted(set(hits))})")
        return hits[0]

    return resolve


def _head(path: Path, limit: int | None) -> bytes:
    """A file's bytes, or only its whole lines within the first ``limit`` bytes."""
    if limit is None:
        return path.read_bytes()
    with open(path, "rb") as f:
        raw = f.read(limit + 1)
    return raw if len(raw) <= limit else raw[: raw.rfind(b"\n", 0, limit) + 1]


def caption_table(
    path: str | Path,
    root: str | Path | None = None,
    *,
    classes: Sequence[str] | None = None,
    transform: Callable | None = None,
    delimiter: str | None = None,
    n_classes: int | None = None,
    sample_bytes: int | None = None,
) -> ImageTextDataset:
    """Read a ``filepath, label, caption`` table (the paper's released lists) into a dataset.

    ``.tsv`` is tab-separated, ``.csv`` comma-separated (or pass ``delimiter``);
    quoted fields follow the csv module (what pandas ``to_csv`` writes). A header
    row naming ``filepath``, ``label`` and ``caption`` is optional and may order
    the columns. Relative file paths are resolved against ``root`` (default: the
    table's folder). ``label`` is a class index (below ``n_classes`` or ``len(classes)`` when given) or, with
    ``classes``, a class name. Raises ``ValueError`` naming the file and line for a malformed row or unknown
    class; rows with an empty caption are dropped with a warning (``dataset.dropped``). ``sample_bytes``: read
    only the whole lines within the file's first that many bytes (a check of a large list, not a dataset).
    """
    path = Path(path)
    root = Path(root) if root is not None else path.parent
    if delimiter is None:
        delimiter = {".tsv": "\t", ".csv": ","}.get(path.suffix.lower())
        if delimiter is None:
            raise ValueError(
                f"caption_table: cannot tell the delimiter of {path} from its suffix; "
                "pass delimiter='\\t' or ','"
            )
    samples, dropped = [], []
    line = 0
    resolve = _class_resolver(classes, lambda: f"{path}:{line}", n_classes)
    cols, width, first = (0, 1, 2), 3, True
    raw = _head(path, sample_bytes)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad_line = raw[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{bad_line}: not valid UTF-8 (byte {exc.start}); save the table as UTF-8"
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if first:
            first = False
            lower = [c.strip().lower() for c in row]
            if {"filepath", "label", "caption"} <= set(lower):
                cols = (lower.index("filepath"), lower.index("label"), lower.index("caption"))
                width = len(row)
                continue
        if len(row) != width:
            raise ValueError(
                f"{path}:{line}: expected {width} fields (filepath, label, caption), "
                f"got {len(row)}: {delimiter.join(row)[:120]!r}"
            )
        filepath, label, caption = (row[c] for c in cols)
        if not filepath.strip():
            raise ValueError(f"{path}:{line}: empty filepath")
        label = resolve(label)
        caption = caption.strip()
        if not caption:
            dropped.append(Skipped(f"{path.name}:{line} ({filepath})", "empty caption"))
            continue
        samples.append((filepath.strip(), label, caption))
    _warn_dropped(str(path), dropped)
    return ImageTextDataset(samples, root=root, transform=transform, classes=classes, dropped=dropped)


# ---------------------------------------------------------------- ImageNet-Captions JSON


def _caption_parts(variant: str) -> tuple[str, ...]:
    if variant == "all":
        return CAPTION_FIELDS
    parts = tuple(variant.split("+"))
    if not parts or any(p not in CAPTION_FIELDS for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(
            f"parameter 'variant' is {variant!r}; use one of {CAPTION_VARIANTS} "
            f"or another '+'-joined combination of {CAPTION_FIELDS}"
        )
    return parts


def imagenet_caption(
    record: dict, variant: str = "title", class_prefix: str | bool = False, classname: str = ""
) -> str:
    """The caption of one ImageNet-Captions record for a ``variant`` ("title", "title+tags", "all", ...).

    Parts are joined by a space and tags by spaces, with newlines and tabs made
    spaces, as in the paper's preprocessing. ``class_prefix``: ``True`` for
    ``"{classname}: ..."``, or a template with ``{classname}`` put before the text
    (the paper's "+cname" variants, e.g. ``"a photo of a {classname}."``). With a
    prefix, a record with no text keeps the prefix alone (the class name), as the
    paper does so that every variant has the same number of pairs; without one,
    its caption is empty and :func:`imagenet_captions` drops it.
    """
    texts = []
    for part in _caption_parts(variant):
        value = record.get(part) or ""
        if part == "tags" and not isinstance(value, str):
            value = " ".join(str(t) for t in value)
        value = str(value).strip()
        if value:
            texts.append(value)
    text = " ".join(" ".join(texts).replace("\r", " ").replace("\n", " ").replace("\t", " ").split())
    if class_prefix is True:
        text = f"{classname}: {text}" if text else classname
    elif class_prefix:
        text = f"{str(class_prefix).format(classname=classname)} {text}".strip()
    return text


def imagenet_captions(
    path: str | Path,
    root: str | Path,
    *,
    variant: str = "title",
    class_prefix: str | bool = False,
    wnids: Sequence[str] | None = None,
    layout: str = "wnid",
    transform: Callable | None = None,
) -> ImageTextDataset:
    """ImageNet-Captions (Fang et al. 2022) JSON -> dataset with the chosen caption ``variant``.

    The file is a JSON list (or JSON lines) of ``{wnid, filename, title, tags,
    description}``. Images live at ``root/<wnid>/<filename>`` (``layout="wnid"``,
    the ImageNet train layout) or ``root/<filename>`` (``layout="flat"``). Labels
    are ImageNet-1k indices from :func:`studylib.concepts.load_concepts`, or
    positions in ``wnids`` when a class subset is given (other records are left
    out). Records whose caption is empty for this variant are dropped with a
    warning (``dataset.dropped``); an unknown wnid or a record without its fields
    is an error naming the file and record.
    """
    if layout not in ("wnid", "flat"):
        raise ValueError(f"parameter 'layout' is {layout!r}; use 'wnid' or 'flat'")
    _caption_parts(variant)
    path, root = Path(path), Path(root)
    concepts = {c.wnid: c for c in load_concepts()}
    if wnids is not None:
        unknown = [w for w in wnids if w not in concepts]
        if unknown:
            raise ValueError(f"parameter 'wnids': {unknown[:5]} are not ImageNet-1k classes")
        label_of = {w: i for i, w in enumerate(wnids)}
        classes = [concepts[w].name for w in wnids]
    else:
        label_of = {w: c.index for w, c in concepts.items()}
        classes = [c.name for c in sorted(concepts.values(), key=lambda c: c.index)]
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not valid UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    try:
        records = (
            json.loads(text)
            if text.lstrip().startswith("[")
            else [json.loads(ln) for ln in text.splitlines() if ln.strip()]
        )
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON or JSON lines ({exc})") from exc
    samples, dropped = [], []
    for i, rec in enumerate(records):
        if not isinstance(rec, dict) or "wnid" not in rec or "filename" not in rec:
            raise ValueError(f"{path}: record {i} lacks 'wnid' or 'filename': {str(rec)[:120]}")
        wnid = rec["wnid"]
        if wnid not in concepts:
            raise ValueError(
                f"{path}: record {i} ({rec['filename']}): wnid {wnid!r} is not an ImageNet-1k class"
            )
        if wnid not in label_of:
            continue
        rel = Path(wnid) / rec["filename"] if layout == "wnid" else Path(rec["filename"])
        caption = imagenet_caption(rec, variant, class_prefix, concepts[wnid].name)
        if not caption:
            dropped.append(Skipped(f"{rel.as_posix()}", f"empty caption for variant {variant!r}"))
            continue
        samples.append((rel, label_of[wnid], caption))
    _warn_dropped(str(path), dropped)
    return ImageTextDataset(samples, root=root, transform=transform, classes=classes, dropped=dropped)


# ---------------------------------------------------------------- ImageFolder evaluation sets


def class_groups(mask: str) -> list[tuple[int, ...]]:
    """For each class of an eval set, the ImageNet-1k indices it stands for.

    ``"imagenet-r"``/``"imagenet-a"``: 200 singletons, in wnid order;
    ``"objectnet"``: 113 groups (125 indices), in ObjectNet folder-name order.
    """
    index = {c.wnid: c.index for c in load_concepts()}
    if mask == "imagenet-r":
        return [(index[w],) for w in class_masks.IMAGENET_R_WNIDS]
    if mask == "imagenet-a":
        return [(index[w],) for w in class_masks.IMAGENET_A_WNIDS]
    if mask == "objectnet":
        return [
            tuple(index[w] for w in class_masks.OBJECTNET_TO_IMAGENET[k])
            for k in sorted(class_masks.OBJECTNET_TO_IMAGENET)
        ]
    raise ValueError(f"class mask {mask!r} is not available; available: {EVAL_MASKS}")


def class_mask(mask: str) -> torch.Tensor:
    """Bool (1000,) mask of the ImageNet-1k classes an eval set uses."""
    out = torch.zeros(1000, dtype=torch.bool)
    for group in class_groups(mask):
        out[list(group)] = True
    return out


def project_logits(logits: torch.Tensor, groups: Sequence[Sequence[int]]) -> torch.Tensor:
    """ImageNet-1k logits (N, 1000) -> eval-set logits (N, len(groups)), max over each group.

    The eval-set name for :func:`studylib.robustness.merge_logits`, which does the work.
    """
    from studylib.robustness import merge_logits

    return merge_logits(logits, [list(g) for g in groups])


def eval_folder(
    root: str | Path,
    *,
    mask: str | None = None,
    transform: Callable | None = None,
    crop_border: int | None = None,
) -> ImageTextDataset:
    """An ImageFolder evaluation set (``root/<class folder>/<image>``) with its class mask.

    ``mask=None``: folders named by ImageNet-1k wnids (ImageNet val, -Sketch)
    or by ImageNet-1k class indices ``0``..``999`` (ImageNet-V2) get their
    ImageNet-1k index; otherwise sorted folder order, as torchvision's
    ``ImageFolder`` (``dataset.imagenet_labels`` is then False). ``"imagenet-r"``/``"imagenet-a"``: labels are
    positions among the 200 classes; a folder outside the list is an error.
    ``"objectnet"``: labels are positions among the 113 overlapping classes;
    other ObjectNet folders are left out (listed in ``dataset.ignored_folders``)
    and a 2-pixel border is cropped (``crop_border``). With a mask,
    ``dataset.class_groups`` gives the ImageNet-1k indices of each class, for
    :func:`project_logits`. Captions are the class names.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"eval_folder: {root} is not a folder")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not folders:
        raise ValueError(f"eval_folder: {root} has no class folders")
    concepts = load_concepts()
    by_wnid = {c.wnid: c for c in concepts}
    groups, ignored = None, []
    if mask is None:
        if all(f in by_wnid for f in folders):
            label_of = {f: by_wnid[f].index for f in folders}
            classes = [c.name for c in concepts]
        elif all(f.isdigit() and int(f) < 1000 for f in folders):  # ImageNet-V2's released layout: 0..999
            label_of = {f: int(f) for f in folders}
            classes = [c.name for c in concepts]
        else:
            label_of = {f: i for i, f in enumerate(folders)}
            classes = folders
    elif mask in ("imagenet-r", "imagenet-a"):
        wnids = class_masks.IMAGENET_R_WNIDS if mask == "imagenet-r" else class_masks.IMAGENET_A_WNIDS
        outside = [f for f in folders if f not in wnids]
        if outside:
            raise ValueError(
                f"eval_folder: {root}: folders {outside[:5]} are not among the 200 {mask} classes"
            )
        label_of = {w: i for i, w in enumerate(wnids)}
        classes = [by_wnid[w].name for w in wnids]
        groups = class_groups(mask)
    elif mask == "objectnet":
        keys = sorted(class_masks.OBJECTNET_TO_IMAGENET)
        label_of = {k: i for i, k in enumerate(keys)}
        classes = [class_masks.OBJECTNET_LABELS[k] for k in keys]
        ignored = [f for f in folders if f not in label_of]
        groups = class_groups(mask)
        crop_border = 2 if crop_border is None else crop_border
    else:
        raise ValueError(f"class mask {mask!r} is not available; available: {EVAL_MASKS}")
    samples = []
    for f in folders:
        if f not in label_of:
            continue
        for p in sorted((root / f).iterdir()):
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS:
                samples.append((f"{f}/{p.name}", label_of[f], classes[label_of[f]]))
    tf = transform or to_float_tensor
    if crop_border:
        tf = _CropBorder(crop_border, tf)
    ds = ImageTextDataset(samples, root=root, transform=tf, classes=classes)
    ds.class_groups = groups
    ds.ignored_folders = ignored
    ds.imagenet_labels = classes is not folders
    return ds


# ---------------------------------------------------------------- webdataset shards


def expand_shards(spec: str | Path | Sequence[str | Path]) -> list[str]:
    """A shard list from a list, a glob (``"/d/*.tar"``) or brace ranges (``"/d/{000..099}.tar"``)."""
    if not isinstance(spec, (str, Path)):
        return [str(s) for s in spec]
    spec = str(spec)
    m = re.search(r"\{(\d+)\.\.(\d+)\}", spec)
    if m:
        lo, hi, width = int(m.group(1)), int(m.group(2)), len(m.group(1))
        return [
            s
            for i in range(lo, hi + 1)
            for s in expand_shards(spec[: m.start()] + str(i).zfill(width) + spec[m.end() :])
        ]
    if any(ch in spec for ch in "*?["):
        found = sorted(glob(spec))
        if not found:
            raise FileNotFoundError(f"no shard matches {spec}")
        return found
    return [spec]


def _tar_members(shard: str) -> Iterator[tuple[str, bytes]]:
    """(member name, bytes) of every file in a tar shard, streamed; a read failure names the shard."""
    last = None
    try:
        with tarfile.open(shard, mode="r|*") as tar:
            for member in tar:
                if member.isfile():
                    last = member.name
                    yield member.name, tar.extractfile(member).read()
            offset = tar.offset
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        raise ShardError(f"cannot read shard {shard}: {type(exc).__name__}: {exc}") from exc
    if tar_end_missing(shard, offset):
        raise ShardError(
            f"cannot read shard {shard}: truncated after member {last!r} (no end-of-archive blocks)"
        )


def _split_key(name: str) -> tuple[str, str]:
    folder, _, base = name.rpartition("/")
    stem, _, ext = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), ext.lower()


class ShardDataset(IterableDataset):
    """Webdataset tar shards as an iterable of ``(image, label, caption)`` (or :class:`Skipped`).

    Members sharing a key (``dir/key.ext``) form a sample: the image from
    ``.jpg``/``.jpeg``/``.png``/``.webp``, the caption from ``.txt`` or the
    ``caption_key`` field of ``.json``, the label from ``.cls`` or the
    ``label_key`` field of ``.json`` (``-1`` if neither). Shards are split across
    distributed ranks and DataLoader workers; with ``shuffle`` the shard order
    and a ``shuffle_buffer`` of samples are seeded by ``(seed, epoch)`` (see
    :meth:`set_epoch`). A shard that cannot be read raises :class:`ShardError`
    naming it (``bad_shards="skip"`` turns it into a skipped, counted item).
    """

    def __init__(
        self,
        shards: str | Path | Sequence[str | Path],
        *,
        transform: Callable | None = None,
        caption_key: str = "caption",
        label_key: str = "label",
        shuffle: bool = False,
        shuffle_buffer: int = 0,
        seed: int = 0,
        epoch: int = 0,
        bad_shards: str = "raise",
    ):
        if bad_shards not in ("raise", "skip"):
            raise ValueError(f"parameter 'bad_shards' is {bad_shards!r}; use 'raise' or 'skip'")
        self.shards = expand_shards(shards)
        if not self.shards:
            raise ValueError("ShardDataset: no shards given")
        self.transform = transform or to_float_tensor
        self.caption_key, self.label_key = caption_key, label_key
        self.shuffle, self.shuffle_buffer = shuffle, shuffle_buffer
        self.seed, self.epoch, self.bad_shards = seed, epoch, bad_shards

    def set_epoch(self, epoch: int, seed: int | None = None, shuffle: bool | None = None) -> None:
        """Fix the epoch (and optionally seed / shuffle) that seeds the next iteration's order."""
        self.epoch = epoch
        self.seed = self.seed if seed is None else seed
        self.shuffle = self.shuffle if shuffle is None else shuffle

    def my_shards(self) -> list[str]:
        """The shards this process and DataLoader worker reads this epoch, in order."""
        order = list(self.shards)
        if self.shuffle:
            g = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))
            order = [order[i] for i in torch.randperm(len(order), generator=g).tolist()]
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            order = order[torch.distributed.get_rank() :: torch.distributed.get_world_size()]
        info = get_worker_info()
        return order[info.id :: info.num_workers] if info is not None else order

    def _samples(self, shard: str) -> Iterator[tuple | Skipped]:
        group: dict[str, bytes] = {}
        key = None
        try:
            for name, data in _tar_members(shard):
                k, ext = _split_key(name)
                if k != key and group:
                    yield self._make(shard, key, group)
                    group = {}
                key = k
                group[ext] = data
        except ShardError as exc:
            if self.bad_shards == "raise":
                raise
            yield Skipped(shard, str(exc).split(": ", 1)[-1])
            return
        if group:
            yield self._make(shard, key, group)

    def _make(self, shard: str, key: str, group: dict[str, bytes]):
        where = f"{Path(shard).name}:{key}"
        meta = {}
        if "json" in group:
            try:
                meta = json.loads(group["json"].decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return Skipped(f"{where}.json", f"bad json: {exc}")
            meta = meta if isinstance(meta, dict) else {}
        ext = next((e for e in ("jpg", "jpeg", "png", "webp") if e in group), None)
        if ext is None:
            return Skipped(where, f"no image member (has {sorted(group)})")
        if "txt" in group:
            try:
                caption = group["txt"].decode("utf-8")
            except UnicodeDecodeError as exc:
                return Skipped(f"{where}.txt", f"caption is not valid UTF-8 (byte {exc.start})")
        else:
            caption = str(meta.get(self.caption_key) or "")
        caption = caption.strip()
        if not caption:
            return Skipped(f"{where}.{ext}", "empty caption")
        if "cls" in group:
            try:
                raw = group["cls"].decode("utf-8").strip()
            except UnicodeDecodeError as exc:
                return Skipped(f"{where}.cls", f"label is not valid UTF-8 (byte {exc.start})")
        else:
            raw = meta.get(self.label_key)
        try:
            label = -1 if raw is None or raw == "" else int(raw)
        except (TypeError, ValueError):
            return Skipped(f"{where}.{ext}", f"label {raw!r} is not a class index")
        image = _try_decode(group[ext], f"{where}.{ext}")
        if isinstance(image, Skipped):
            return image
        return self.transform(image), label, caption

    def __iter__(self):
        items = (item for shard in self.my_shards() for item in self._samples(shard))
        if not (self.shuffle and self.shuffle_buffer > 1):
            yield from items
            return
        info = get_worker_info()
        rng = random.Random(shuffle_buffer_seed(self.seed, self.epoch, info.id if info else 0))
        buffer = []
        for item in items:
            buffer.append(item)
            if len(buffer) >= self.shuffle_buffer:
                yield buffer.pop(rng.randrange(len(buffer)))
        rng.shuffle(buffer)
        yield from buffer


# ---------------------------------------------------------------- batches, skip counting, loaders


def collate_skip_bad(batch: list) -> dict:
    """Stack good items; drop ``None``/:class:`Skipped` ones and return how many and which.

    Returns ``{"images": float (B, 3, H, W), "labels": int64 (B,), "captions": [str],
    "skipped": int, "skipped_items": [(name, reason)]}`` (B may be 0).
    """
    good = [b for b in batch if b is not None and not isinstance(b, Skipped)]
    bad = [
        tuple(b) if isinstance(b, Skipped) else ("?", "failed to load")
        for b in batch
        if b is None or isinstance(b, Skipped)
    ]
    images = torch.stack([g[0] for g in good]) if good else torch.empty(0, 3, 0, 0)
    return {
        "images": images,
        "labels": torch.tensor([int(g[1]) for g in good], dtype=torch.int64),
        "captions": [g[2] for g in good],
        "skipped": len(bad),
        "skipped_items": bad,
    }


class SkipCounter:
    """Collects the skipped samples of an epoch from the batches of :func:`collate_skip_bad`."""

    def __init__(self):
        self.items: list[tuple[str, str]] = []

    def update(self, batch: dict) -> None:
        """Record the skipped items of one batch."""
        items = list(batch.get("skipped_items", ()))
        items += [("?", "failed to load")] * (int(batch.get("skipped", 0)) - len(items))
        self.items.extend(items)

    def add(self, name: str, reason: str) -> None:
        self.items.append((name, reason))

    @property
    def count(self) -> int:
        return len(self.items)

    def reset(self) -> None:
        self.items = []

    def report(self, limit: int = 10) -> str:
        """One line: ``"skipped 3 unreadable images: a.jpg (cannot identify image file), ..."``."""
        if not self.items:
            return "skipped 0 unreadable images"
        head = ", ".join(f"{n} ({r})" for n, r in self.items[:limit])
        more = f", and {len(self.items) - limit} more" if len(self.items) > limit else ""
        noun = "image" if len(self.items) == 1 else "images"
        return f"skipped {len(self.items)} unreadable {noun}: {head}{more}"


def epoch_order(n: int, seed: int, epoch: int, restart: int = 0) -> torch.Tensor:
    """The shuffled order of ``n`` samples in ``epoch`` (and pass ``restart`` within it): a pure function of
    ``(seed, epoch, restart)``.

    The one definition shared by the in-memory batch source and :func:`make_loader`.
    """
    return torch.randperm(n, generator=torch.Generator().manual_seed(epoch_seed(seed, epoch, restart)))


def make_loader(
    dataset: Dataset,
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    workers: int = 0,
    pin_memory: bool | None = None,
    drop_last: bool = True,
    rank: int = 0,
    world_size: int = 1,
    restart: int = 0,
    skip_batches: int = 0,
) -> DataLoader:
    """A DataLoader with :func:`collate_skip_bad` whose order is a pure function of ``(seed, epoch)``.

    Map-style datasets get the order of :func:`epoch_order` (or 0..n-1 without
    ``shuffle``), split ``rank::world_size`` for DDP; a :class:`ShardDataset` gets
    ``set_epoch(epoch, seed, shuffle)``. An :class:`ImageTextDataset`'s random augmentations
    are seeded per ``(seed, epoch, sample)``, so they do not depend on ``workers``; other
    datasets' worker seeds come from ``(seed, epoch)``. ``pin_memory`` defaults to whether CUDA is available.
    """
    if batch_size < 1:
        raise ValueError(f"parameter 'batch_size' is {batch_size}; it must be >= 1")
    pin = torch.cuda.is_available() if pin_memory is None else pin_memory
    generator = torch.Generator().manual_seed(epoch_seed(seed, epoch, restart))
    common = dict(
        batch_size=batch_size,
        num_workers=workers,
        pin_memory=pin,
        drop_last=drop_last,
        collate_fn=collate_skip_bad,
        generator=generator,
    )
    if isinstance(dataset, IterableDataset):
        if skip_batches:
            raise ValueError("skip_batches needs a map-style dataset (a stream is skipped by reading it)")
        if hasattr(dataset, "set_epoch"):
            # a restarted pass reads the shards as in a pseudo-epoch of its own, numbered by seed 0's restart seed
            dataset.set_epoch(epoch_seed(0, epoch, restart) if restart else epoch, seed=seed, shuffle=shuffle)
        return DataLoader(dataset, **common)
    if isinstance(dataset, ImageTextDataset):
        dataset.aug_seed, dataset.aug_epoch = seed, epoch
    n = len(dataset)
    order = epoch_order(n, seed, epoch, restart).tolist() if shuffle else list(range(n))
    if world_size > 1:
        order = order[: n // world_size * world_size][rank::world_size]
    return DataLoader(dataset, sampler=order[skip_batches * batch_size :], **common)
