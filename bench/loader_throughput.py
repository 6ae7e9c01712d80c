"""Webdataset loader throughput: images/s per core of studylib's shard loader, against the plain decode loop.

Writes seeded synthetic webdataset shards (``.jpg`` + ``.txt`` + ``.json`` per sample, JPEG quality 90, smooth
images with texture at ``--size`` px, img2dataset's usual 256 by default) into a temporary folder, then measures
in one run:

  (base) the per-core ceiling: one process reads the shards with tarfile and runs PIL decode + the training
         transform (open_clip's random resized crop to 224, to tensor, normalise) on every sample, no
         DataLoader;
  (w=N)  ``make_loader(ShardDataset(shards, transform=make_transform(224, train=True)), 256, workers=N)``,
         what a real-data run uses (shuffle buffer 1000), batches pinned and copied to the GPU where one is
         there.

It prints images/s, images/s per worker and each against the base's per-core rate (1.00 = the loader costs
nothing beyond decoding). The batch rate a GPU needs is the trainer's img/s (bench/gpu_train.py): at
ViT-B-32 B512 on an H200 about 6,400 img/s.

    python bench/loader_throughput.py                          # workers 1 2 (this machine's cores)
    python bench/loader_throughput.py --workers 1 4 8 14 --images 14000     # a 16-core GPU machine

Output also goes to bench/results/loader_throughput.txt (or --out).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from studylib.data.adapters import ShardDataset, _tar_members, decode_image, make_loader, make_transform


def synthetic_jpeg(rng: np.random.Generator, size: int) -> bytes:
    """A smooth random image with some texture (noise alone compresses and decodes unlike photos)."""
    low = rng.random((8, 8, 3)) * 255
    img = Image.fromarray(low.astype(np.uint8)).resize((size, size), Image.BICUBIC)
    arr = np.asarray(img, dtype=np.int16) + rng.integers(-12, 13, (size, size, 3))
    buf = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_shards(folder: Path, n_images: int, size: int, per_shard: int = 1000, seed: int = 0) -> list[str]:
    """``n_images`` samples in shards of ``per_shard``; a few hundred distinct images are reused (the decode
    cost is the same and writing stays quick)."""
    rng = np.random.default_rng(seed)
    pool = [synthetic_jpeg(rng, size) for _ in range(min(n_images, 256))]
    shards = []
    for s in range(0, n_images, per_shard):
        path = folder / f"{s // per_shard:05d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(s, min(s + per_shard, n_images)):
                members = {
                    "jpg": pool[i % len(pool)],
                    "txt": f"a photo of thing {i % 1000}".encode(),
                    "json": json.dumps({"label": i % 1000}).encode(),
                }
                for ext, data in members.items():
                    info = tarfile.TarInfo(f"{i:08d}.{ext}")
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))
        shards.append(str(path))
    return shards


def base_rate(shards: list[str], transform, limit: int) -> float:
    """Images/s of one process decoding and transforming, no DataLoader."""
    n, t0 = 0, time.perf_counter()
    for shard in shards:
        for name, data in _tar_members(shard):
            if name.endswith(".jpg"):
                transform(decode_image(data))
                n += 1
                if n >= limit:
                    return n / (time.perf_counter() - t0)
    return n / (time.perf_counter() - t0)


def loader_rate(shards: list[str], transform, workers: int, batch: int, device: torch.device) -> float:
    """Images/s through make_loader with ``workers`` processes (first batch not timed: worker start-up)."""
    ds = ShardDataset(shards, transform=transform, shuffle=True, shuffle_buffer=1000, seed=0)
    loader = make_loader(ds, batch, shuffle=True, workers=workers)
    n, t0 = 0, None
    for b in loader:
        images = b["images"].to(device, non_blocking=True)
        if t0 is None:
            t0 = time.perf_counter()
            continue
        n += len(images)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--images", type=int, default=6000, help="samples written (and read per loader setting)")
    ap.add_argument("--size", type=int, default=256, help="side of the stored JPEGs in px")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--per-shard", type=int, default=500, help="samples per shard (keep shards >= workers)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "loader_throughput.txt"))
    args = ap.parse_args()
    for name in ("workers", "images", "size", "batch", "per_shard"):
        values = getattr(args, name)
        if any(v < 1 for v in (values if isinstance(values, list) else [values])):
            raise SystemExit(f"parameter '--{name.replace('_', '-')}' must be >= 1, got {values}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.set_num_threads(1)  # each worker and the base use one core
    transform = make_transform(224, train=True)
    name = torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu"
    lines = [
        f"# loader_throughput  {name}  {os.cpu_count()} cores  torch {torch.__version__}  "
        f"{args.images} images of {args.size}px in shards of {args.per_shard}, batch {args.batch}"
    ]
    with tempfile.TemporaryDirectory() as tmp:
        shards = write_shards(Path(tmp), args.images, args.size, args.per_shard)
        base = base_rate(shards, transform, min(args.images, 2000))
        lines.append(f"base (one process, decode + transform)  {base:8.0f} img/s per core")
        print(lines[-1], flush=True)
        for w in args.workers:
            rate = loader_rate(shards, transform, w, args.batch, device)
            lines.append(
                f"make_loader workers={w:<3d} {rate:8.0f} img/s  {rate / w:6.0f} img/s per worker  "
                f"{rate / w / base:5.2f}x base per core"
            )
            print(lines[-1], flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
