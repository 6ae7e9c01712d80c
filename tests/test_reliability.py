"""Reliability and security (issue 13): keys that follow code and data, no code from data, no silent loss,
safe under concurrency, exact resume. Each test names the failure it guards against."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from studylib import fileio as sio
from studylib.config import ConfigError
from studylib.pipeline import run, run_config
from studylib.registry import Registry
from studylib.spec import RunSpec

REPO = Path(__file__).resolve().parent.parent


def _sl(params, **extra):
    return RunSpec({**params, "objective": "sl", **extra}, label="SL")


# ---------------------------------------------------------------- 1. keys that change when results can change


def test_the_run_key_follows_the_code(tiny_params, monkeypatch):
    from studylib import fingerprint, registry

    config = run_config(_sl(tiny_params))
    before = Registry.key(config)
    monkeypatch.setattr(registry, "code_fingerprint", lambda: "edited training code")
    assert Registry.key(config) != before
    files = {p.relative_to(fingerprint.PACKAGE).as_posix() for p in fingerprint.source_files()}
    assert {"train.py", "world.py", "evaluate.py", "objectives/clip.py", "models/tiny.py"} <= files
    assert not any(f.startswith(("chapters/", "cli/")) or f == "plots.py" for f in files)


def test_the_run_key_follows_a_profile_files_content(tiny_params, tmp_path):
    from studylib.config import world_config
    from studylib.world import make_world

    names = [c.name for c in make_world(world_config(tiny_params)).concepts]
    prof = tmp_path / "profile.tsv"
    prof.write_text("".join(f"{n}\t{i + 1}\n" for i, n in enumerate(names)))
    spec = _sl(tiny_params, profile=str(prof))
    first = Registry.key(run_config(spec))
    os.utime(prof, ns=(1, 1))
    prof.write_text("".join(f"{n}\t{3 * i + 1}\n" for i, n in enumerate(names)))
    assert Registry.key(run_config(spec)) != first


def test_real_data_inputs_enter_the_key_by_content_and_shards_by_manifest(tmp_path):
    from studylib.data.real_data import RealData
    from studylib.spec import resolve

    (tmp_path / "val" / "n01440764").mkdir(parents=True)
    Image.new("RGB", (8, 8)).save(tmp_path / "val" / "n01440764" / "a.png")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")  # the training image the list names
    tsv = tmp_path / "train.tsv"
    tsv.write_text("filepath\tlabel\tcaption\na.png\t0\ta fish\n")
    params = resolve(
        "paper", train_data=str(tsv), data_root=str(tmp_path), eval_data=f"val={tmp_path / 'val'}"
    )
    key = RealData(params).key()
    assert key["inputs"]["train_data"].startswith("content:") and "eval:val" in key["inputs"]
    tsv.write_text("filepath\tlabel\tcaption\na.png\t0\ta tench\n")  # same size, new content
    os.utime(tsv, ns=(2, 2))
    assert RealData(params).key()["inputs"]["train_data"] != key["inputs"]["train_data"]
    Image.new("RGB", (8, 8), (9, 9, 9)).save(tmp_path / "val" / "n01440764" / "b.png")
    assert RealData(params).key()["inputs"]["eval:val"] != key["inputs"]["eval:val"]
    assert "workers" not in key
    shard = tmp_path / "s-000.tar"
    with tarfile.open(shard, "w") as tar:
        tar.addfile(tarfile.TarInfo("k.txt"), io.BytesIO(b""))
    sp = resolve(
        "paper",
        train_data=str(tmp_path / "s-{000..000}.tar"),
        steps_per_epoch=1,
        eval_data=f"val={tmp_path / 'val'}",
    )
    a, b = RealData({**sp, "workers": 2}).key(), RealData({**sp, "workers": 4}).key()
    assert a["workers"] == 2 and a != b  # workers decide which worker reads which shard


def test_results_say_which_runs_this_code_made_and_gc_removes_the_others(tiny_params, tmp_path, capsys):
    from studylib.cli.main import main
    from studylib.cli.results import table as results_table

    reg = Registry(tmp_path)
    current = run(_sl(tiny_params), registry=reg, progress=False)
    old = reg.path("0123456789abcdef")
    old.mkdir()
    for part, content in (("config", {}), ("meta", {"code": "older code"}), ("metrics", {"top1": 0.5})):
        (old / f"{part}.json").write_text(json.dumps(content))
    table = results_table(reg).set_index("run_id")
    assert bool(table.loc[current.key, "current"]) and not bool(table.loc[old.name, "current"])
    assert [p.name for p in reg.stale()] == [old.name]
    assert main(["gc", "--yes", "--root", str(tmp_path)]) == 0
    assert not old.exists() and reg.load(current.key) is not None
    assert (
        main(["gc", "--yes", "--root", str(tmp_path)]) == 0 and "nothing to remove" in capsys.readouterr().out
    )


# ---------------------------------------------------------------- 2. nothing executes code from data


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_a_crafted_checkpoint_runs_no_code(tiny_params, tmp_path):
    reg = Registry(tmp_path)
    spec = _sl(tiny_params, checkpoint_every=2)
    key = reg.key(run_config(spec, registry=reg))
    reg.path(key).mkdir(parents=True)
    torch.save({"model": _Evil()}, reg.path(key) / "checkpoint.pt")
    from studylib.train import CheckpointMismatch

    with pytest.raises(CheckpointMismatch, match="cannot resume from .*checkpoint.pt"):
        run(spec, registry=reg, progress=False)
    assert not Path("PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_a_checkpoint_of_another_run_is_refused(tiny_params, tmp_path):
    from studylib.train import CheckpointMismatch

    class Stop(Exception):
        pass

    def stop(step):
        if step == 3:
            raise Stop

    reg = Registry(tmp_path)
    a, b = _sl(tiny_params, checkpoint_every=2), _sl(tiny_params, checkpoint_every=2, seed=1)
    with pytest.raises(Stop):
        run(a, registry=reg, progress=False, on_step=stop)
    ka, kb = (reg.key(run_config(s, registry=reg)) for s in (a, b))
    reg.path(kb).mkdir(parents=True)
    os.replace(reg.path(ka) / "checkpoint.pt", reg.path(kb) / "checkpoint.pt")  # same shapes, other run
    with pytest.raises(CheckpointMismatch, match=f"written for run {ka}, not {kb}"):
        run(b, registry=reg, progress=False)


def test_parameter_and_eval_set_names_cannot_inject_code_or_paths(tmp_path):
    from studylib.data.real_data import parse_eval_sets
    from studylib.execute import execute_chapter

    nb = REPO / "notebooks" / "02_imbalance.py"
    with pytest.raises(ValueError, match="is not a parameter name"):
        execute_chapter(nb, {"x = __import__('os').system('touch PWNED') #": 1}, tmp_path)
    for bad in ("..", "../../etc", "a/b", ".hidden", ""):
        with pytest.raises(ConfigError, match="parameter 'eval_data'"):
            parse_eval_sets(f"{bad}=/data/val")
    assert parse_eval_sets("val=/data/val,imagenet-r=/d/r:imagenet-r")[1].name == "imagenet-r"


def test_pyarrow_pin_excludes_the_release_that_runs_code_from_parquet():
    text = (REPO / "pyproject.toml").read_text()
    assert '"pyarrow>=14.0.1"' in text


# ---------------------------------------------------------------- 3. bad input gets a clear error, never silence


def _tar(path, members, end=True):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        body = buf.tell() if not end else None
    data = buf.getvalue()
    path.write_bytes(data if end else data[:body])
    return path


def _png(colour=(200, 10, 10)):
    b = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(b, "PNG")
    return b.getvalue()


def test_a_tar_cut_at_a_header_boundary_is_reported(tmp_path):
    from collections import Counter

    from studylib.captions.readers import iter_shard
    from studylib.data.adapters import ShardDataset, ShardError

    members = [("k0.png", _png()), ("k0.txt", b"a red thing"), ("k1.png", _png()), ("k1.txt", b"more")]
    whole = _tar(tmp_path / "whole.tar", members)
    cut = _tar(tmp_path / "cut.tar", members, end=False)
    assert len(cut.read_bytes()) % 512 == 0 and len(cut.read_bytes()) < len(whole.read_bytes())
    assert len(list(ShardDataset(str(whole))._samples(str(whole)))) == 2
    with pytest.raises(ShardError, match="cut.tar: truncated after member 'k1.txt'"):
        list(ShardDataset(str(cut))._samples(str(cut)))
    probs, msgs = Counter(), []
    list(iter_shard((str(cut), "tar", 0, None), 100, probs, msgs))
    assert probs["unreadable"] == 1 and "truncated tar" in msgs[0]
    probs, msgs = Counter(), []
    list(iter_shard((str(whole), "tar", 0, None), 100, probs, msgs))
    assert not probs and not msgs


def test_invalid_utf8_captions_in_shards_are_skipped_and_named(tmp_path):
    from studylib.data.adapters import ShardDataset, Skipped

    shard = _tar(
        tmp_path / "s.tar",
        [("k0.png", _png()), ("k0.txt", b"caf\xe9 au lait"), ("k1.png", _png()), ("k1.txt", "café".encode())],
    )
    items = list(ShardDataset(str(shard))._samples(str(shard)))
    assert (
        isinstance(items[0], Skipped)
        and items[0].name == "s.tar:k0.txt"
        and "not valid UTF-8" in items[0].reason
    )
    assert items[1][2] == "café"


def test_decode_errors_name_the_file_and_line(tmp_path):
    from studylib.data.adapters import caption_table, imagenet_captions

    table = tmp_path / "pairs.tsv"
    table.write_bytes(b"filepath\tlabel\tcaption\na.png\t0\ta fish\nb.png\t1\tcaf\xe9\n")
    with pytest.raises(ValueError, match=r"pairs.tsv:3: not valid UTF-8"):
        caption_table(table)
    caps = tmp_path / "caps.json"
    caps.write_bytes(b'[{"wnid": "n01440764", "title": "caf\xe9"}]')
    with pytest.raises(ValueError, match=r"caps.json: not valid UTF-8"):
        imagenet_captions(caps, tmp_path)


def test_freq_count_refuses_a_misspelled_input(tmp_path, capsys):
    from studylib.cli.main import main

    concepts = tmp_path / "concepts.txt"
    concepts.write_text("tench\ngoldfish\n")
    real = tmp_path / "caps.txt"
    real.write_text("a tench in a pond\n")
    code = main(
        [
            "freq",
            "count",
            "--input",
            str(real),
            str(tmp_path / "capz.txt"),
            "--concepts",
            str(concepts),
            "--out",
            str(tmp_path / "out.tsv"),
            "--no-progress",
        ]
    )
    assert code == 2 and "capz.txt' does not exist" in capsys.readouterr().err
    assert not (tmp_path / "out.tsv").exists()


def test_world_profile_files_are_checked_like_every_count_file(tiny_params, tmp_path):
    from studylib.config import world_config
    from studylib.world import counts_from_file, make_world

    concepts = make_world(world_config(tiny_params)).concepts
    good = "".join(f"{c.name}\t{i + 1}\n" for i, c in enumerate(concepts))
    cases = {
        "negative": good.replace("\t1\n", "\t-1\n", 1),
        "nan": good.replace("\t1\n", "\tnan\n", 1),
        "duplicate": good + f"{concepts[0].name}\t5\n",
        "unknown": good + "no such concept at all\t5\n",
    }
    for what, text in cases.items():
        f = tmp_path / f"{what}.tsv"
        f.write_text(text)
        with pytest.raises(ValueError, match=str(f.name)):
            counts_from_file(f, concepts)
    bom = tmp_path / "bom.tsv"
    bom.write_bytes(b"\xef\xbb\xbf" + good.encode())  # a byte-order mark is not part of a name
    assert counts_from_file(bom, concepts).tolist() == list(range(1, len(concepts) + 1))


def test_evaluation_warns_when_classes_have_no_image(tiny_params, tmp_path, monkeypatch):
    import functools

    from studylib.data import world_data
    from studylib.evaluate import uint8_batches

    original = world_data.WorldData.eval_sets

    def thinned(self):  # an evaluation folder holding only three of the classes
        out = []
        for es in original(self):
            split = self.world.test[es.name]
            keep = np.asarray(split.labels) < 3
            out.append(
                world_data.EvalSet(
                    es.name,
                    es.n_classes,
                    np.asarray(split.labels)[keep],
                    functools.partial(
                        uint8_batches, split.images[torch.from_numpy(keep)], np.asarray(split.labels)[keep]
                    ),
                )
            )
        return out

    monkeypatch.setattr(world_data.WorldData, "eval_sets", thinned)
    with pytest.warns(UserWarning, match=r"eval set 'photo': \d+ of \d+ classes have no image"):
        r = run(_sl(tiny_params), registry=Registry(tmp_path), progress=False)
    assert r.metrics["classes_without_images_photo"] == tiny_params["n_classes"] - 3
    assert r.per_class["accuracy"].isna().sum() > 0


# ---------------------------------------------------------------- 4. concurrency


def _plain(params: dict) -> dict:
    """Only the parameters a fresh process knows (other tests register objectives with fields of their own);
    called in the child."""
    from studylib.spec import resolve

    known = resolve("smoke")
    return {k: v for k, v in params.items() if k in known}


def _train_in_child(root, params, marker):
    from studylib.pipeline import run as run_
    from studylib.registry import Registry as Reg

    def note(step):
        if step == 1:
            with open(marker, "a") as f:
                f.write(f"{os.getpid()}\n")

    r = run_(_sl(_plain(params)), registry=Reg(root), progress=False, on_step=note)
    print(json.dumps({"key": r.key, "top1": r.metrics["top1"]}))


def test_two_processes_asking_for_one_run_train_it_once(tiny_params, tmp_path):
    marker = tmp_path / "trained-by.txt"
    code = (
        "import json, sys; sys.path.insert(0, {!r}); from tests.test_reliability import _train_in_child; "
        "_train_in_child({!r}, json.loads(sys.argv[1]), {!r})"
    ).format(str(REPO), str(tmp_path / "runs"), str(marker))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(tiny_params)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    results = [json.loads(o[0].strip().splitlines()[-1]) for o in outs]
    assert results[0] == results[1]
    assert len(marker.read_text().split()) == 1  # one of them trained, the other loaded
    assert len([p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]) == 1


def _save_figures(out, start):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from studylib.figures import save_figure

    os.environ["STUDYLIB_FIGURES"] = out
    for i in range(start, start + 6):
        fig = plt.figure(figsize=(1, 1))
        save_figure(fig, f"f{i}", notebook="nb", preset="smoke")
        plt.close(fig)


def test_figure_index_keeps_every_entry_when_kernels_save_at_once(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_save_figures, args=(str(tmp_path), k * 100)) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert all(p.exitcode == 0 for p in procs)
    index = json.loads((tmp_path / "index.json").read_text())
    assert len(index) == 18


def test_executed_notebooks_get_unique_temporary_names(tmp_path, monkeypatch):
    import papermill

    from studylib.execute import execute_chapter

    seen = []

    def fake(nb, out, **kw):
        seen.append(Path(out).name)
        Path(out).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake)
    nb = REPO / "notebooks" / "02_imbalance.py"
    execute_chapter(nb, {}, tmp_path)
    execute_chapter(nb, {}, tmp_path)
    assert len(set(seen)) == 2 and (tmp_path / "02_imbalance.ipynb").is_file()


def test_a_corrupt_run_folder_is_reported_and_skipped(tiny_params, tmp_path, capsys):
    from studylib.cli.main import main

    reg = Registry(tmp_path)
    good = run(_sl(tiny_params), registry=reg, progress=False)
    bad = tmp_path / "fedcba9876543210"
    bad.mkdir()
    (bad / "metrics.json").write_text("{not json")
    with pytest.warns(UserWarning, match="damaged run folder.*metrics.json"):
        assert [r.key for r in reg.runs()] == [good.key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["results", "--csv", "--root", str(tmp_path)]) == 0
    assert good.key in capsys.readouterr().out


def test_written_files_follow_the_umask(tmp_path):
    path = tmp_path / "r.json"
    sio.atomic_write_json(path, {"a": 1})
    assert (path.stat().st_mode & 0o777) == sio.FILE_MODE
    assert sio.FILE_MODE & 0o044  # readable by the group and others (umask 022)


def test_a_disk_full_write_keeps_the_previous_result(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "metrics.json"
    sio.atomic_write_json(path, {"top1": 0.5})
    real_fdopen = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, fd):
            self.fd = fd

        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            os.close(self.fd)

    monkeypatch.setattr(sio.os, "fdopen", lambda fd, mode="r", *a, **k: Full(fd))
    with pytest.raises(OSError, match="No space left"):
        sio.atomic_write_json(path, {"top1": 0.9})
    monkeypatch.setattr(sio.os, "fdopen", real_fdopen)
    assert json.loads(path.read_text()) == {"top1": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ---------------------------------------------------------------- 5. exact resume everywhere


def test_a_killed_run_resumes_to_identical_metrics(tiny_params, tmp_path):
    params = {**tiny_params, "epochs": 4, "checkpoint_every": 3}
    whole = run(_sl(params), registry=Registry(tmp_path / "a"), progress=False)
    root = tmp_path / "b"
    code = (
        "import json, sys, time; from studylib.pipeline import run; from studylib.registry import Registry; "
        "from studylib.spec import RunSpec, resolve; p = json.loads(sys.argv[1]); "
        "p = {k: v for k, v in p.items() if k in resolve('smoke')}; "
        f"run(RunSpec({{**p, 'objective': 'sl'}}, label='SL'), registry=Registry({str(root)!r}), progress=False, "
        "on_step=lambda s: time.sleep(0.05))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, json.dumps(params)], cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.time() + 240
    while time.time() < deadline and not list(root.glob("*/checkpoint.pt")):
        time.sleep(0.05)
    assert list(root.glob("*/checkpoint.pt")), "the child never wrote a checkpoint"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    reg = Registry(root)
    assert reg.load(whole.key) is None  # killed before it finished
    resumed = run(_sl(params), registry=reg, progress=False)
    for k, v in whole.metrics.items():
        if k != "train_seconds":
            assert resumed.metrics[k] == v, k
    assert whole.per_class.equals(resumed.per_class)


def test_real_data_augmentations_do_not_depend_on_order_or_workers(tmp_path):
    from studylib.data.adapters import ImageTextDataset, make_loader, make_transform

    for i in range(6):
        Image.new("RGB", (40, 40), (40 * i, 90, 200 - 30 * i)).save(tmp_path / f"{i}.png")
    ds = ImageTextDataset(
        [(f"{i}.png", i % 2, f"c{i}") for i in range(6)],
        root=tmp_path,
        transform=make_transform(16, train=True),
    )

    def pixels(**kw):
        loader = make_loader(ds, 2, shuffle=True, seed=3, epoch=1, drop_last=False, **kw)
        out = {}
        for b in loader:
            for cap, img in zip(b["captions"], b["images"]):
                out[cap] = img
        return out

    a = pixels()
    torch.manual_seed(12345)  # the global generator plays no part
    b = pixels(workers=2)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    skipped = make_loader(ds, 2, shuffle=True, seed=3, epoch=1, skip_batches=1)
    rest = {c: img for bt in skipped for c, img in zip(bt["captions"], bt["images"])}
    assert len(rest) == 4 and all(torch.equal(rest[k], a[k]) for k in rest)  # resumed by index: same pixels


def test_restarted_streams_never_reuse_another_epochs_order():
    from studylib.seeds import epoch_seed

    seeds = {epoch_seed(0, e, r) for e in range(50) for r in range(50)}
    assert len(seeds) == 2500


def test_verify_data_keys_folders_by_content(tmp_path):
    """--verify-data: an eval folder enters the key by the content of its files, so a touched but unchanged
    file keeps the key and a changed file with the same size and mtime does not."""
    from studylib.cli.main import _real_params as real_params  # noqa: PLC2701 (the CLI's own parameter path)
    from studylib.cli.main import build_parser
    from studylib.data.real_data import RealData
    from studylib.spec import resolve

    folder = tmp_path / "val" / "n01440764"
    folder.mkdir(parents=True)
    img = folder / "a.png"
    Image.new("RGB", (8, 8), (1, 2, 3)).save(img)
    tsv = tmp_path / "train.tsv"
    tsv.write_text("filepath\tlabel\tcaption\nval/n01440764/a.png\t0\ta fish\n")
    args = build_parser().parse_args(
        ["train", "--verify-data", "-p", f"train_data={tsv}", "-p", f"eval_data=val={tmp_path / 'val'}"]
    )
    params = real_params(args)
    assert params["verify_data"] is True
    key = RealData(params)
    first = key.key()["inputs"]["eval:val"]
    assert first.startswith("content:")
    os.utime(img, ns=(5, 5))  # touched, same bytes: same key
    assert RealData(params).key()["inputs"]["eval:val"] == first
    st = img.stat()
    data = bytearray(img.read_bytes())
    data[-20] ^= 0xFF  # same size, restored mtime, other bytes
    img.write_bytes(bytes(data))
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert RealData(params).key()["inputs"]["eval:val"] != first
    plain = resolve("paper", train_data=str(tsv), eval_data=f"val={tmp_path / 'val'}")
    assert RealData(plain).key()["inputs"]["eval:val"].startswith("stat:")


def test_concept_files_strip_a_bom_and_name_bad_lines(tmp_path):
    from studylib.captions.patterns import load_concept_file

    f = tmp_path / "concepts.tsv"
    f.write_bytes(b"\xef\xbb\xbftench\ttinca tinca\ngoldfish\tcarassius auratus\n")
    assert [s.name for s in load_concept_file(f)] == ["tench", "goldfish"]
    f.write_bytes(b"tench\ttinca\n\tno name here\n")
    with pytest.raises(ValueError, match=r"concepts.tsv:2: empty class name"):
        load_concept_file(f)
    f.write_bytes(b"tench\ttinca\ngold\xfffish\tx\n")
    with pytest.raises(ValueError, match=r"concepts.tsv:2: not valid UTF-8"):
        load_concept_file(f)
