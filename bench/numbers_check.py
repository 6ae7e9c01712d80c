"""Every number of a set of tiny runs, recorded to compare code changes that must not change results.

Trains tiny runs of every objective and training path (SL with and without vocabulary subsampling, oracle
prototypes and caption labels; CLIP, also with checkpoints every 7 steps; DINO with and without prototype
subsampling and a teacher-temperature warm-up; a probe of a DINO backbone; open-world concepts; every test
domain; CLIP, SL and DINO on a small real-format TSV dataset) in a temporary results folder, one thread, and
writes, per run, its metrics (without ``train_seconds``), its training history, and the sha256 of its
per-class table (every value's exact ``repr``) and of every stored array. Run keys are left out: they hash
the code, which a refactoring changes.

    python bench/numbers_check.py /tmp/after.json --compare bench/results/numbers-base.json

``--compare`` exits 1 and names every run and field that is not bit-identical (floats are compared by their
exact ``repr``, NaN equal to NaN).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _table(frame) -> dict:
    return {c: [v.item() if hasattr(v, "item") else v for v in frame[c].tolist()] for c in frame.columns}


def record(run) -> dict:
    metrics = {k: v for k, v in sorted(run.metrics.items()) if k != "train_seconds"}
    arrays = {
        p.stem: hashlib.sha256(np.load(p, allow_pickle=False).tobytes()).hexdigest()[:20]
        for p in sorted(run.path.glob("*.npy"))
        if p.name != "model.npy"
    }
    per_class = json.dumps(_table(run.per_class), sort_keys=True)  # exact reprs, NaN as NaN
    return {
        "metrics": metrics,
        "per_class": {
            "sha256": hashlib.sha256(per_class.encode()).hexdigest()[:20],
            "rows": len(run.per_class),
        },
        "history": _table(run.table("history")),
        "arrays": arrays,
    }


def _real_dataset(root: Path) -> dict:
    """24 coloured JPEGs of three classes, one unreadable file, and a 6-image validation folder."""
    from PIL import Image

    from studylib.concepts import load_concepts

    colours = {0: (200, 40, 40), 1: (40, 200, 40), 2: (40, 40, 200)}
    concepts = {c.index: c for c in load_concepts()}

    def jpeg(path, colour, seed):
        rng = np.random.default_rng(seed)
        arr = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 20, (24, 24, 3)), 0, 255).astype(
            "uint8"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(arr).save(path, "JPEG")

    rows = ["filepath\tlabel\tcaption"]
    for i in range(24):
        y = i % 3
        jpeg(root / "images" / f"{i}.jpg", colours[y], i)
        rows.append(f"images/{i}.jpg\t{y}\ta photo of a {concepts[y].name}")
    (root / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    rows.append(f"images/broken.jpg\t0\ta photo of a {concepts[0].name}")
    (root / "train.tsv").write_text("\n".join(rows) + "\n")
    for i in range(6):
        jpeg(root / "val" / concepts[i % 3].wnid / f"v{i}.jpg", colours[i % 3], 100 + i)
    return dict(
        train_data=str(root / "train.tsv"),
        data_root=str(root),
        eval_data=f"val={root / 'val'}",
        workers=0,
        arch="tiny",
        epochs=2,
        batch_size=4,
        image_size=16,
        warmup_steps=1,
        context_length=16,
        width=8,
        embed_dim=16,
        text_width=16,
        lr=0.002,
    )


def specs(tmp: Path) -> list:
    """(label, RunSpec, registry sub-folder) of every recorded run."""
    from studylib.spec import RunSpec, resolve

    tiny = resolve("smoke", n_classes=12, n_train=480, test_per_class=3, batch_size=32, epochs=2)
    dino = {"objective": "dino", "dino_prototypes": 64, "dino_hidden": 32, "dino_bottleneck": 16}
    dino_spec = RunSpec({**tiny, **dino}, label="dino")
    real = {**resolve("paper"), **_real_dataset(tmp / "real")}
    out = [
        ("sl", RunSpec({**tiny, "objective": "sl"}), "a"),
        ("sl vocab_k", RunSpec({**tiny, "objective": "sl", "vocab_k": 4, "vocab_weighting": "freq"}), "a"),
        ("sl vocab_k seed 3", RunSpec({**tiny, "objective": "sl", "vocab_k": 5, "seed": 3}), "a"),
        ("sl oracle prototypes", RunSpec({**tiny, "objective": "sl", "head": "prototype"}), "a"),
        ("sl caption labels", RunSpec({**tiny, "objective": "sl", "labels": "captions"}), "a"),
        ("clip", RunSpec({**tiny, "objective": "clip"}), "a"),
        ("clip checkpoint_every=7", RunSpec({**tiny, "objective": "clip", "checkpoint_every": 7}), "b"),
        (
            "sl checkpoint_every=7",
            RunSpec({**tiny, "objective": "sl", "vocab_k": 4, "checkpoint_every": 7}),
            "b",
        ),
        ("dino", dino_spec, "a"),
        (
            "dino proto_k warm-up",
            RunSpec(
                {
                    **tiny,
                    **dino,
                    "dino_proto_k": 16,
                    "dino_warmup_steps": 10,
                    "dino_warmup_teacher_temp": 0.02,
                    "seed": 2,
                }
            ),
            "a",
        ),
        ("dino checkpoint_every=7", RunSpec({**tiny, **dino, "checkpoint_every": 7}), "b"),
        ("probe of dino", RunSpec({**tiny, "objective": "probe"}, deps={"backbone": dino_spec}), "a"),
        ("sl open world", RunSpec({**tiny, "objective": "sl", "open_world": 3, "open_world_pairs": 40}), "a"),
        (
            "clip every domain, mixed source",
            RunSpec(
                {
                    **tiny,
                    "objective": "clip",
                    "test_domains": ("photo", "v2", "sketch", "rendition", "objectnet"),
                    "source": "flickr:0.5,encyclopedia:0.5",
                    "world_seed": 1,
                }
            ),
            "a",
        ),
        ("real clip", RunSpec({**real, "objective": "clip"}), "a"),
        ("real sl", RunSpec({**real, "objective": "sl"}), "a"),
        ("real dino", RunSpec({**real, **dino}), "a"),
    ]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="JSON file to write")
    ap.add_argument("--compare", help="a JSON file written before; exit 1 unless every number is identical")
    ap.add_argument("--only", nargs="*", help="labels of the runs to make (default all)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["STUDYLIB_RESULTS"] = str(tmp / "results")
        os.environ.setdefault("STUDYLIB_CACHE", str(tmp / "cache"))
        from studylib.pipeline import run
        from studylib.registry import Registry

        found = {}
        for label, spec, sub in specs(tmp):
            if args.only and label not in args.only:
                continue
            r = run(spec, registry=Registry(tmp / "runs" / sub), progress=False)
            found[label] = json.loads(json.dumps(record(r)))
            print(f"{label}: top1 {r.metrics['top1']:.4f}", flush=True)
    Path(args.out).write_text(json.dumps(found, indent=1, sort_keys=True) + "\n")
    if not args.compare:
        return 0
    base = json.loads(Path(args.compare).read_text())
    bad = []
    for label, rec in found.items():
        if label not in base:
            bad.append(f"{label}: not in {args.compare}")
            continue
        for part in ("metrics", "per_class", "history", "arrays"):
            a, b = base[label][part], rec[part]
            for name in sorted(set(a) | set(b)):
                if json.dumps(a.get(name)) != json.dumps(b.get(name)):
                    bad.append(f"{label}: {part}.{name}: {str(a.get(name))[:80]} != {str(b.get(name))[:80]}")
    print("\n".join(bad) if bad else f"all {len(found)} runs bit-identical to {args.compare}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
