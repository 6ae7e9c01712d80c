"""The command line ends in one line and a distinct exit code, never a raw traceback (issue 28); --debug
shows the traceback."""

from __future__ import annotations

import pytest

from studylib.cli import main as cli


def test_summary_write_to_a_file_without_markers_is_one_line(tmp_path, capsys):
    target = tmp_path / "plain.md"
    target.write_text("no markers here\n")
    assert cli.main(["summary", "--preset", "smoke", "--write", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary:start" in err and "Traceback" not in err
    assert target.read_text() == "no markers here\n"


def test_freq_compare_with_a_bogus_figure_format_is_one_line(tmp_path, capsys):
    a = tmp_path / "a.tsv"
    a.write_text("tench\t3\ngoldfish\t5\nshark\t1\n")
    code = cli.main(["freq", "compare", "--reference", str(a), str(a), "--figure", str(tmp_path / "x.bogus")])
    assert code == 2 and "bogus" in capsys.readouterr().err
    assert not (tmp_path / "x.bogus").exists()


@pytest.mark.parametrize(
    "raised, code",
    [
        (OSError(30, "Read-only file system", "results/runs"), 74),
        (OverflowError("int too large to convert to float"), 65),
    ],
)
def test_os_and_overflow_errors_have_their_own_exit_codes(monkeypatch, capsys, raised, code):
    def boom(args):
        raise raised

    monkeypatch.setattr(cli, "_cmd_gc", boom)
    assert cli.main(["gc", "--yes"]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and "--debug" in err
    with pytest.raises(type(raised)):
        cli.main(["--debug", "gc", "--yes"])


def test_training_diverged_and_shard_errors_are_named(monkeypatch, capsys):
    from studylib.data.adapters import ShardError
    from studylib.train import TrainingDiverged

    for raised, code in (
        (TrainingDiverged("loss is nan at step 3"), 3),
        (ShardError("shard-0001.tar is cut"), 65),
    ):
        monkeypatch.setattr(cli, "_cmd_gc", lambda args, e=raised: (_ for _ in ()).throw(e))
        assert cli.main(["gc", "--yes"]) == code
        assert type(raised).__name__ in capsys.readouterr().err


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_cmd_gc", interrupted)
    assert cli.main(["gc", "--yes"]) == 130
    assert capsys.readouterr().err == "interrupted\n"


@pytest.mark.parametrize(
    "errno_, text",
    [(28, "No space left on device"), (30, "Read-only file system")],
    ids=["full", "read-only"],
)
def test_train_on_a_full_or_read_only_disk_ends_in_one_line_and_stores_nothing(
    monkeypatch, capsys, errno_, text
):
    """A real `studylib train` whose run files cannot be written (the disk fills, or the results folder is
    read-only, at the moment a run file is put in place): one line naming the file, exit 74, no success
    message, and no run in the registry that looks complete."""
    import os

    from studylib.registry import Registry

    real = os.replace

    def failing(src, dst, *a, **k):
        if "runs" in str(dst):
            raise OSError(errno_, text, str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)
    args = [
        "train",
        "--preset",
        "smoke",
        "-q",
        "-p",
        "objective=sl",
        "-p",
        "n_classes=8",
        "-p",
        "n_train=256",
    ]
    args += ["-p", "test_per_class=2", "-p", "batch_size=32"]
    assert cli.main(args) == 74
    out, err = capsys.readouterr()
    assert "Traceback" not in err and err.count("\n") == 1 and text in err and "runs" in err
    assert "top-1" not in out
    assert not list(Registry().root.glob("*/metrics.json"))


def test_a_chapter_that_cannot_write_its_notebook_ends_in_one_line_naming_where(monkeypatch, capsys):
    """Disk full while a chapter saves its executed notebook (seen in a `make study-full` run): one line naming
    the folder and saying that a rerun resumes, exit 74, not papermill's traceback."""
    import errno

    from studylib import execute

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(execute, "execute_chapter", full_disk)
    code = execute.child_main(["notebooks/02_imbalance.py", "{}", "/tmp/out/executed", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 74 and len(err.splitlines()) == 1 and "Traceback" not in err
    assert "02_imbalance.py: could not write into /tmp/out/executed: No space left on device" in err
    assert "resumes" in err
