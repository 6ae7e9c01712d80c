"""A chapter that could not write one of its outputs fails, naming the file and the command to rerun (issue 28):
a full disk used to print "warning: no HTML export" and then "done -> …html" for a file that did not exist."""

from __future__ import annotations

import pytest

from studylib import runner
from studylib.execute import ChapterFailed


def test_a_failed_html_export_fails_the_chapter_and_says_how_to_rerun(tmp_path, monkeypatch):
    def disk_full(notebook, out):
        raise OSError(28, "No space left on device", str(out))

    monkeypatch.setattr(runner, "export_html", disk_full)
    html = tmp_path / "html" / "02_imbalance.html"
    with pytest.raises(ChapterFailed) as err:
        runner._export(tmp_path / "02_imbalance.ipynb", html)
    text = str(err.value)
    assert str(html) in text and "No space left on device" in text
    assert "python -m studylib run 02_imbalance" in text
