"""The README's "own data and GPUs" path, tried as a new user would, on tiny real-format files."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studylib.concepts import load_concepts
from studylib.config import ConfigError
from studylib.data.real_data import check_data, parse_eval_sets
from studylib.pipeline import run
from studylib.spec import RunSpec, resolve

REPO = Path(__file__).resolve().parent.parent
CLASSES = [0, 1, 2]  # tench, goldfish, great white shark


def _jpeg(path: Path, colour, seed):
    rng = np.random.default_rng(seed)
    arr = np.clip(np.array(colour)[None, None, :] + rng.normal(0, 20, (24, 24, 3)), 0, 255).astype("uint8")
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path, "JPEG")


@pytest.fixture
def dataset(tmp_path):
    colours = {0: (200, 40, 40), 1: (40, 200, 40), 2: (40, 40, 200)}
    names = {c.index: c.name for c in load_concepts()}
    rows = ["filepath\tlabel\tcaption"]
    for i in range(24):
        y = CLASSES[i % 3]
        _jpeg(tmp_path / "images" / f"{i}.jpg", colours[y], i)
        rows.append(f"images/{i}.jpg\t{y}\ta photo of a {names[y]}")
    (tmp_path / "images" / "broken.jpg").write_bytes(b"not a jpeg")
    rows.append(f"images/broken.jpg\t0\ta photo of a {names[0]}")
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    wnids = {c.index: c.wnid for c in load_concepts()}
    for i in range(6):
        y = CLASSES[i % 3]
        _jpeg(tmp_path / "val" / wnids[y] / f"v{i}.jpg", colours[y], 100 + i)
    return tmp_path


def _args(d, *extra):
    return [
        "-p",
        f"train_data={d / 'train.tsv'}",
        "-p",
        f"data_root={d}",
        "-p",
        f"eval_data=val={d / 'val'}",
        "-p",
        "workers=0",
        *extra,
    ]


TINY = [
    "-p",
    "arch=tiny",
    "-p",
    "epochs=2",
    "-p",
    "batch_size=4",
    "-p",
    "image_size=16",
    "-p",
    "warmup_steps=1",
    "-p",
    "context_length=16",
    "-p",
    "width=8",
    "-p",
    "embed_dim=16",
    "-p",
    "text_width=16",
    "-p",
    "lr=0.002",
]


def _cli(*args, env_extra=None, module=("-m", "studylib")):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, *module, *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=600
    )


def test_check_data_says_what_is_missing_then_what_is_ready(dataset):
    res = _cli("check-data", "--preset", "paper")
    assert res.returncode == 1
    assert "train_data is not set" in res.stdout and "eval_data is not set" in res.stdout
    res = _cli("check-data", "--preset", "paper", "-p", "train_data=/nope.tsv", "-p", "pretrained=/nope.pt")
    assert "train_data: no file at /nope.tsv" in res.stdout and "pretrained: no checkpoint file" in res.stdout
    res = _cli("check-data", "--preset", "paper", *_args(dataset))
    assert res.returncode == 0 and "the data is in place" in res.stdout


def test_parse_eval_sets():
    sets = parse_eval_sets("val=/d/val, r=/d/imagenet-r:imagenet-r,on=/d/on:objectnet")
    assert [(s.name, s.folder, s.mask) for s in sets] == [
        ("val", "/d/val", None),
        ("r", "/d/imagenet-r", "imagenet-r"),
        ("on", "/d/on", "objectnet"),
    ]
    with pytest.raises(ValueError, match="name=folder"):
        parse_eval_sets("/d/val")


def test_train_tiny_clip_on_a_tsv_dataset_via_the_cli(dataset, _isolated_outputs):
    res = _cli("train", "--preset", "paper", "-q", *_args(dataset, *TINY))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "top-1 val" in res.stdout
    assert "skipped 1 unreadable image: images/broken.jpg" in res.stdout + res.stderr
    res = _cli("results", "--csv")
    assert ",train,real,True,clip,paper," in res.stdout  # chapter, label, current, objective, preset


def test_torchrun_two_processes_on_cpu(dataset, _isolated_outputs):
    torchrun = Path(sys.executable).parent / "torchrun"
    res = subprocess.run(
        [
            str(torchrun),
            "--nproc_per_node",
            "2",
            "-m",
            "studylib",
            "train",
            "--preset",
            "paper",
            "-q",
            *_args(dataset, *TINY, "-p", "objective=sl"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.count("top-1 val") == 1  # only rank 0 evaluates and writes


def test_submitit_debug_cluster_runs_the_same_job(dataset, _isolated_outputs):
    pytest.importorskip("submitit")
    from studylib.cli.submit import submit

    params = resolve(
        "paper",
        train_data=str(dataset / "train.tsv"),
        data_root=str(dataset),
        eval_data=f"val={dataset / 'val'}",
        workers=0,
        arch="tiny",
        epochs=1,
        batch_size=4,
        image_size=16,
        warmup_steps=1,
        context_length=16,
        width=8,
        embed_dim=16,
        text_width=16,
        objective="sl",
    )
    job = submit(params, label="slurm-debug", cluster="debug", gpus_per_node=0)
    metrics = job.result()
    assert 0 <= metrics["top1_val"] <= 1


def test_real_data_refuses_missing_data_and_world_parameters(dataset):
    with pytest.raises(ConfigError, match="eval_data is not set"):
        run(RunSpec(resolve("paper", train_data="/nope.tsv")), progress=False)
    ok = dict(
        train_data=str(dataset / "train.tsv"), data_root=str(dataset), eval_data=f"val={dataset / 'val'}"
    )
    with pytest.raises(ConfigError, match="parameter 'zipf_alpha' describes the concept world"):
        run(RunSpec(resolve("paper", zipf_alpha=2.0, **ok)), progress=False)
    with pytest.raises(ConfigError, match="parameter 'labels'='captions' mines labels"):
        run(RunSpec(resolve("paper", objective="sl", labels="captions", arch="tiny", **ok)), progress=False)
    assert check_data(resolve("paper", train_data="x.tar", eval_data="val=/x"))[0].startswith("train_data:")
