"""Real-data inputs that used to be misread or cached wrongly (issue 28), each seen failing before the fix."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from studylib.data.real_data import check_data
from studylib.pipeline import run_key
from studylib.spec import RunSpec, resolve


def _jpeg(path, seed):
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path, "JPEG")


@pytest.fixture
def listed(tmp_path):
    rows = ["filepath\tlabel\tcaption"]
    for i in range(6):
        _jpeg(tmp_path / "images" / f"{i}.jpg", i)
        rows.append(f"images/{i}.jpg\t{i % 3}\ta photo of a tench")
    (tmp_path / "train.tsv").write_text("\n".join(rows) + "\n")
    _jpeg(tmp_path / "val" / "n01440764" / "v0.jpg", 99)
    return tmp_path


def _params(d, **extra):
    return resolve(
        "paper",
        train_data=str(d / "train.tsv"),
        data_root=str(d),
        eval_data=f"val={d / 'val'}",
        workers=0,
        **extra,
    )


def test_a_label_beyond_the_classes_is_named_with_its_file_and_line_when_the_list_is_read(listed):
    text = (listed / "train.tsv").read_text().replace("images/4.jpg\t1", "images/4.jpg\t1000")
    (listed / "train.tsv").write_text(text)
    with pytest.raises(ValueError, match=r"train.tsv:6: label 1000 is out of range \(0..999\)"):
        run_key(RunSpec(_params(listed)))


def test_replacing_or_deleting_a_listed_image_changes_the_run_key(listed):
    before = run_key(RunSpec(_params(listed)))
    assert run_key(RunSpec(_params(listed))) == before
    _jpeg(listed / "images" / "2.jpg", 1234)  # same name, other pixels
    os.utime(listed / "images" / "2.jpg", ns=(1, 1))
    replaced = run_key(RunSpec(_params(listed)))
    assert replaced != before
    (listed / "images" / "3.jpg").unlink()
    assert run_key(RunSpec(_params(listed))) not in (before, replaced)


@pytest.mark.parametrize(
    "content, words",
    [
        (b"", "is empty"),
        (b"filepath\tlabel\tcaption\nimages/0.jpg\t0\tcaf\xe9\n", "not valid UTF-8"),
        (b"filepath\tlabel\tcaption\n", "no usable row"),
    ],
)
def test_check_data_reads_a_sample_of_the_list(listed, content, words):
    (listed / "train.tsv").write_bytes(content)
    problems = check_data(_params(listed))
    assert any(words in p for p in problems), problems


def test_check_data_sees_a_data_root_where_no_listed_image_is(listed):
    (listed / "images" / "0.jpg").unlink()
    assert check_data(_params(listed)) == []  # one lost image is skipped while training
    for i in range(1, 6):
        (listed / "images" / f"{i}.jpg").unlink()
    assert any("none of the first 6 listed images exists" in p for p in check_data(_params(listed)))


def test_a_run_whose_table_was_cut_is_damaged_and_trained_again(tiny_params):
    """A run folder whose per_class.parquet is truncated while metrics.json is intact used to load as complete."""
    from studylib.pipeline import run

    spec = RunSpec({**tiny_params, "objective": "sl"}, label="SL")
    first = run(spec, progress=False)
    table = first.path / "per_class.parquet"
    table.write_bytes(table.read_bytes()[:100])
    with pytest.warns(UserWarning, match="per_class.parquet holds 100 bytes"):
        again = run(spec, progress=False)
    assert again.per_class.equals(first.per_class) and again.metrics["top1"] == first.metrics["top1"]
