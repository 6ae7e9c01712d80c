"""Real-data adapters on tiny real files: tables, shards, ImageNet-Captions, eval folders, loaders."""

from __future__ import annotations

import io
import json
import tarfile
import warnings

import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from studylib.concepts import load_concepts
from studylib.data import adapters as data
from studylib.data import class_masks

SMALL = T.Compose([T.Resize((8, 8)), T.ToTensor()])  # a plain torchvision transform


def image_bytes(color, fmt="JPEG", size=(20, 16)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


def write_images(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "red.jpg").write_bytes(image_bytes((255, 0, 0)))
    (folder / "blue.png").write_bytes(image_bytes((0, 0, 255), "PNG"))
    (folder / "green.jpg").write_bytes(image_bytes((0, 255, 0)))
    (folder / "corrupt.jpg").write_bytes(b"this is not a jpeg at all" * 4)
    good = image_bytes((9, 9, 9), size=(64, 64))
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])


def drain(loader):
    skips, labels, captions, shapes = data.SkipCounter(), [], [], set()
    for batch in loader:
        skips.update(batch)
        labels += batch["labels"].tolist()
        captions += batch["captions"]
        if len(batch["labels"]):
            shapes.add(tuple(batch["images"].shape[1:]))
            assert batch["images"].dtype == torch.float32
    return skips, labels, captions, shapes


# ---------------------------------------------------------------- TSV / CSV


@pytest.fixture
def table_root(tmp_path):
    write_images(tmp_path / "img")
    (tmp_path / "list.tsv").write_text(
        "filepath\tlabel\tcaption\n"
        "img/red.jpg\t0\ta red square\n"
        "img/blue.png\t1\ta blue square\n"
        "img/corrupt.jpg\t0\tgarbage bytes\n"
        "img/missing.jpg\t1\tno such file\n"
        "img/green.jpg\t2\t   \n"
        "img/truncated.jpg\t2\thalf a jpeg\n"
    )
    (tmp_path / "list.csv").write_text(
        'img/red.jpg,tench,"a red fish, with a comma"\nimg/blue.png,goldfish,a blue fish\n'
    )
    return tmp_path


def test_tsv_skips_and_names_bad_images(table_root):
    with pytest.warns(UserWarning, match=r"skipped 1 rows: list.tsv:6 \(img/green.jpg\) \(empty caption\)"):
        ds = data.caption_table(table_root / "list.tsv", root=table_root, transform=SMALL)
    assert len(ds) == 5 and ds.dropped[0].reason == "empty caption"
    assert ds.labels.tolist() == [0, 1, 0, 1, 2]
    image, label, caption = ds[0]
    assert image.shape == (3, 8, 8) and label == 0 and caption == "a red square"
    skips, labels, captions, shapes = drain(data.make_loader(ds, 2, shuffle=False, drop_last=False))
    assert labels == [0, 1] and captions == ["a red square", "a blue square"] and shapes == {(3, 8, 8)}
    assert skips.count == 3
    report = skips.report()
    assert report.startswith("skipped 3 unreadable images: ")
    assert "img/corrupt.jpg (cannot identify image file)" in report
    assert "img/missing.jpg (file not found)" in report
    assert "img/truncated.jpg (" in report and "truncated" in report
    skips.reset()
    assert skips.report() == "skipped 0 unreadable images"


def test_csv_class_names_and_quoted_caption(table_root):
    ds = data.caption_table(table_root / "list.csv", classes=["tench", "goldfish"], transform=SMALL)
    assert ds.labels.tolist() == [0, 1] and ds.captions[0] == "a red fish, with a comma"
    assert ds.class_counts().tolist() == [1, 1]
    assert ds[1][0].shape == (3, 8, 8)


def test_table_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("a.jpg\t0\tfine\nb.jpg\t1\n")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected 3 fields"):
        data.caption_table(bad)
    names = tmp_path / "names.csv"
    names.write_text("a.jpg,tench,ok\nb.jpg,unicorn,no\n")
    with pytest.raises(ValueError, match=r"names.csv:2: unknown class 'unicorn'"):
        data.caption_table(names, classes=["tench"])
    with pytest.raises(ValueError, match=r"names.csv:1: label 'tench' is not a class index"):
        data.caption_table(names)
    with pytest.raises(ValueError, match=r"names.csv:1: label 5 is out of range"):
        names.write_text("a.jpg,5,ok\n")
        data.caption_table(names, classes=["tench"])
    with pytest.raises(ValueError, match="delimiter"):
        data.caption_table(tmp_path / "list.txt")


def test_open_clip_transform_and_workers(table_root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = data.caption_table(
            table_root / "list.tsv", root=table_root, transform=data.make_transform(32, train=False)
        )
    assert ds[1][0].shape == (3, 32, 32)
    # workers: the skipped names come back through the batches, not via shared state
    loader = data.make_loader(ds, 1, shuffle=True, seed=3, epoch=0, workers=2, pin_memory=False)
    skips, labels, _, shapes = drain(loader)
    assert sorted(labels) == [0, 1] and shapes == {(3, 32, 32)}
    assert sorted(n for n, _ in skips.items) == ["img/corrupt.jpg", "img/missing.jpg", "img/truncated.jpg"]


# ---------------------------------------------------------------- loader determinism


def test_loader_order_is_a_function_of_seed_and_epoch(tmp_path):
    from studylib.data.adapters import epoch_order

    (tmp_path / "x.png").write_bytes(image_bytes((1, 2, 3), "PNG", (4, 4)))
    ds = data.ImageTextDataset([(tmp_path / "x.png", i, f"c{i}") for i in range(24)], transform=SMALL)

    def order(seed, epoch, **kw):
        return drain(data.make_loader(ds, 4, shuffle=True, seed=seed, epoch=epoch, **kw))[1]

    first = order(7, 2)
    assert first == order(7, 2) and sorted(first) == list(range(24))
    assert first == epoch_order(24, 7, 2).tolist()  # the in-memory trainer's order
    assert first != order(7, 3) and first != order(8, 2)
    assert drain(data.make_loader(ds, 4, shuffle=False))[1] == list(range(24))
    halves = [order(7, 2, rank=r, world_size=2) for r in (0, 1)]
    assert sorted(halves[0] + halves[1]) == list(range(24)) and not set(halves[0]) & set(halves[1])
    assert len(list(data.make_loader(ds, 5, shuffle=False, drop_last=True))) == 4


def test_collate_counts_none_and_skipped():
    good = (torch.zeros(3, 2, 2), 4, "cap")
    out = data.collate_skip_bad([good, None, data.Skipped("a.jpg", "cannot identify image file"), good])
    assert out["images"].shape == (2, 3, 2, 2) and out["labels"].tolist() == [4, 4]
    assert out["skipped"] == 2 and ("a.jpg", "cannot identify image file") in out["skipped_items"]
    empty = data.collate_skip_bad([None])
    assert empty["images"].shape[0] == 0 and empty["labels"].numel() == 0 and empty["skipped"] == 1
    counter = data.SkipCounter()
    counter.update(out)
    counter.update({"skipped": 1})
    assert counter.count == 3 and "a.jpg (cannot identify image file)" in counter.report()


# ---------------------------------------------------------------- webdataset shards


def write_tar(path, members):
    with tarfile.open(path, "w") as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def shards(tmp_path):
    s0, s1 = tmp_path / "shard-000.tar", tmp_path / "shard-001.tar"
    write_tar(
        s0,
        [
            ("a/k0.jpg", image_bytes((255, 0, 0))),
            ("a/k0.txt", b"red thing"),
            ("a/k1.jpg", image_bytes((0, 255, 0))),
            ("a/k1.txt", b"green thing"),
            ("a/k1.cls", b"3"),
            ("a/k2.jpg", b"garbage, not an image"),
            ("a/k2.txt", b"broken"),
        ],
    )
    write_tar(
        s1,
        [
            ("k3.png", image_bytes((0, 0, 255), "PNG")),
            ("k3.json", json.dumps({"caption": "blue thing", "label": 2}).encode()),
            ("k4.png", image_bytes((9, 9, 9), "PNG")),
            ("k4.json", json.dumps({"caption": ""}).encode()),
        ],
    )
    garbage = tmp_path / "shard-002.tar"
    garbage.write_bytes(b"\x00\x01 definitely not a tar archive " * 40)
    truncated = tmp_path / "shard-003.tar"
    truncated.write_bytes(s0.read_bytes()[:1100])  # cut inside the first image member
    return s0, s1, garbage, truncated


def test_shards_group_members_and_skip_bad_samples(shards):
    s0, s1, _, _ = shards
    ds = data.ShardDataset([s0, s1], transform=SMALL)
    skips, labels, captions, shapes = drain(data.make_loader(ds, 2, shuffle=False, drop_last=False))
    assert captions == ["red thing", "green thing", "blue thing"] and labels == [-1, 3, 2]
    assert shapes == {(3, 8, 8)}
    assert sorted(n for n, _ in skips.items) == ["shard-000.tar:a/k2.jpg", "shard-001.tar:k4.png"]
    assert "shard-000.tar:a/k2.jpg (cannot identify image file)" in skips.report()
    assert "shard-001.tar:k4.png (empty caption)" in skips.report()


def test_unreadable_shard_is_named(shards):
    s0, _, garbage, truncated = shards
    for bad in (garbage, truncated):
        with pytest.raises(data.ShardError, match=bad.name):
            drain(data.make_loader(data.ShardDataset([s0, bad], transform=SMALL), 2, shuffle=False))
    skipping = data.ShardDataset([garbage, s0], transform=SMALL, bad_shards="skip")
    skips, labels, _, _ = drain(data.make_loader(skipping, 2, shuffle=False, drop_last=False))
    assert labels == [-1, 3] and any(garbage.name in n for n, _ in skips.items)


def test_shards_split_across_workers_and_seeded(shards):
    s0, s1, _, _ = shards
    ds = data.ShardDataset([s0, s1], transform=SMALL, shuffle_buffer=4)
    loader = data.make_loader(ds, 1, shuffle=True, seed=1, epoch=0, workers=2, pin_memory=False)
    skips, labels, captions, _ = drain(loader)
    assert sorted(captions) == ["blue thing", "green thing", "red thing"] and skips.count == 2
    assert (
        drain(data.make_loader(ds, 1, shuffle=True, seed=1, epoch=5))[2]
        == drain(data.make_loader(ds, 1, shuffle=True, seed=1, epoch=5))[2]
    )


def test_expand_shards(tmp_path):
    assert data.expand_shards(str(tmp_path / "s-{008..010}.tar")) == [
        str(tmp_path / f"s-{i:03d}.tar") for i in (8, 9, 10)
    ]
    with pytest.raises(FileNotFoundError, match="no shard matches"):
        data.expand_shards(str(tmp_path / "*.tar"))


# ---------------------------------------------------------------- ImageNet-Captions


@pytest.fixture
def incaps(tmp_path):
    root = tmp_path / "train"
    for wnid, name in [
        ("n01440764", "n01440764_1.JPEG"),
        ("n01440764", "n01440764_2.JPEG"),
        ("n01443537", "n01443537_1.JPEG"),
    ]:
        (root / wnid).mkdir(parents=True, exist_ok=True)
        (root / wnid / name).write_bytes(image_bytes((10, 20, 30)))
    records = [
        {
            "filename": "n01440764_1.JPEG",
            "wnid": "n01440764",
            "title": "Big catch",
            "tags": ["fish", "lake"],
            "description": "Caught at\ndawn.",
        },
        {
            "filename": "n01440764_2.JPEG",
            "wnid": "n01440764",
            "title": "",
            "tags": ["tinca"],
            "description": "",
        },
        {
            "filename": "n01443537_1.JPEG",
            "wnid": "n01443537",
            "title": "My goldfish",
            "tags": [],
            "description": "In a bowl",
        },
    ]
    path = tmp_path / "imagenet_captions.json"
    path.write_text(json.dumps(records))
    return path, root


@pytest.mark.parametrize(
    "variant, expected",
    [
        ("title", ["Big catch", "My goldfish"]),
        ("tags", ["fish lake", "tinca"]),
        ("description", ["Caught at dawn.", "In a bowl"]),
        ("title+tags", ["Big catch fish lake", "tinca", "My goldfish"]),
        ("title+description", ["Big catch Caught at dawn.", "My goldfish In a bowl"]),
        ("all", ["Big catch fish lake Caught at dawn.", "tinca", "My goldfish In a bowl"]),
    ],
)
def test_imagenet_captions_variants(incaps, variant, expected):
    path, root = incaps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ds = data.imagenet_captions(path, root, variant=variant, transform=SMALL)
    assert ds.captions == expected
    assert len(ds) + len(ds.dropped) == 3 and all(d.reason.startswith("empty caption") for d in ds.dropped)
    assert set(ds.labels.tolist()) <= {0, 1} and len(ds.classes) == 1000
    assert ds[0][0].shape == (3, 8, 8)


def test_imagenet_captions_prefix_subset_and_errors(incaps, tmp_path):
    path, root = incaps
    with pytest.warns(UserWarning, match=r"skipped 1 rows: n01440764/n01440764_2.JPEG \(empty caption"):
        assert len(data.imagenet_captions(path, root, variant="title")) == 2
    tench, goldfish = load_concepts()[0].name, load_concepts()[1].name
    ds = data.imagenet_captions(path, root, variant="title", class_prefix=True)  # same scale: no drop
    assert ds.captions == [f"{tench}: Big catch", tench, f"{goldfish}: My goldfish"] and not ds.dropped
    ds = data.imagenet_captions(
        path, root, variant="tags", class_prefix="a photo of a {classname}.", wnids=["n01443537", "n01440764"]
    )
    assert ds.captions == [
        f"a photo of a {tench}. fish lake",
        f"a photo of a {tench}. tinca",
        f"a photo of a {goldfish}.",
    ]
    assert ds.labels.tolist() == [1, 1, 0] and ds.classes == [goldfish, tench]
    assert ds.class_counts().tolist() == [1, 2]
    with pytest.raises(ValueError, match="variant"):
        data.imagenet_captions(path, root, variant="title+title")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"filename": "x.JPEG", "wnid": "n99999999", "title": "t"}]))
    with pytest.raises(ValueError, match=r"bad.json: record 0 \(x.JPEG\): wnid 'n99999999'"):
        data.imagenet_captions(bad, root)


# ---------------------------------------------------------------- eval folders and class masks


def test_class_mask_shapes():
    wnids = {c.wnid for c in load_concepts()}
    r, a, on = class_masks.IMAGENET_R_WNIDS, class_masks.IMAGENET_A_WNIDS, class_masks.OBJECTNET_TO_IMAGENET
    assert len(set(r)) == 200 and len(set(a)) == 200 and set(r) != set(a)
    assert list(r) == sorted(r) and list(a) == sorted(a) and set(r) | set(a) <= wnids
    assert len(on) == 113 and sum(len(v) for v in on.values()) == 125
    assert len({w for v in on.values() for w in v}) == 125 and {w for v in on.values() for w in v} <= wnids
    assert set(class_masks.OBJECTNET_LABELS) == set(on)
    assert int(data.class_mask("imagenet-r").sum()) == 200 and int(data.class_mask("imagenet-a").sum()) == 200
    assert int(data.class_mask("objectnet").sum()) == 125
    groups = data.class_groups("objectnet")
    assert len(groups) == 113 and max(map(len, groups)) > 1
    with pytest.raises(ValueError, match="not available"):
        data.class_mask("imagenet-x")


def test_eval_folder_masks(tmp_path):
    concepts = load_concepts()
    index = {c.wnid: c.index for c in concepts}
    r0, r1 = class_masks.IMAGENET_R_WNIDS[:2]
    rroot = tmp_path / "imagenet-r"
    for w in (r0, r1):
        (rroot / w).mkdir(parents=True)
        (rroot / w / "a.jpg").write_bytes(image_bytes((5, 5, 5)))
    (rroot / r1 / "bad.jpg").write_bytes(b"nope")
    (rroot / r1 / "notes.txt").write_text("not an image")
    ds = data.eval_folder(rroot, mask="imagenet-r", transform=SMALL)
    assert ds.labels.tolist() == [0, 1, 1] and len(ds.classes) == 200 and len(ds.class_groups) == 200
    assert ds.class_groups[1] == (index[r1],) and ds.captions[0] == concepts[index[r0]].name
    skips, labels, _, _ = drain(data.make_loader(ds, 3, shuffle=False, drop_last=False))
    assert labels == [0, 1] and skips.items == [(f"{r1}/bad.jpg", "cannot identify image file")]
    logits = torch.randn(2, 1000)
    assert torch.equal(data.project_logits(logits, ds.class_groups)[:, 1], logits[:, index[r1]])

    a0 = class_masks.IMAGENET_A_WNIDS[0]
    (tmp_path / "a" / a0).mkdir(parents=True)
    (tmp_path / "a" / a0 / "x.png").write_bytes(image_bytes((1, 1, 1), "PNG"))
    assert data.eval_folder(tmp_path / "a", mask="imagenet-a").labels.tolist() == [0]
    outside = next(w for w in class_masks.IMAGENET_A_WNIDS if w not in class_masks.IMAGENET_R_WNIDS)
    (rroot / outside).mkdir()
    with pytest.raises(ValueError, match=f"{outside}.*not among the 200 imagenet-r classes"):
        data.eval_folder(rroot, mask="imagenet-r")
    # no mask: wnid folders keep their ImageNet-1k index
    assert data.eval_folder(tmp_path / "a").labels.tolist() == [index[a0]]


def test_eval_folder_objectnet(tmp_path):
    root = tmp_path / "objectnet"
    for folder in ("alarm_clock", "squeegee", "wok"):
        (root / folder).mkdir(parents=True)
        (root / folder / "1.png").write_bytes(image_bytes((7, 7, 7), "PNG", (12, 12)))
    ds = data.eval_folder(root, mask="objectnet", transform=T.ToTensor())
    keys = sorted(class_masks.OBJECTNET_TO_IMAGENET)
    assert ds.labels.tolist() == [keys.index("alarm_clock"), keys.index("wok")]
    assert ds.ignored_folders == ["squeegee"] and ds.classes[0] == "Alarm clock"
    assert ds[0][0].shape == (3, 8, 8)  # 2-pixel border cropped
    index = {c.wnid: c.index for c in load_concepts()}
    assert ds.class_groups[0] == tuple(index[w] for w in class_masks.OBJECTNET_TO_IMAGENET["alarm_clock"])
    logits = torch.zeros(1, 1000)
    logits[0, ds.class_groups[0][1]] = 5.0
    assert data.project_logits(logits, ds.class_groups).argmax().item() == 0
    with pytest.raises(ValueError, match="not available"):
        data.eval_folder(root, mask="imagenet-x")
    plain = data.eval_folder(root, transform=SMALL)  # not wnids: ImageFolder order
    assert plain.labels.tolist() == [0, 1, 2] and plain.classes == ["alarm_clock", "squeegee", "wok"]
