"""A chapter opens in JupyterLab unmodified: the contents manager adds the kernel's language_info on read."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from studylib.cli.labcontents import ChapterContentsManager, kernel_language_info, with_language_info

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _model(metadata: dict) -> dict:
    return {"type": "notebook", "content": {"metadata": metadata, "cells": []}}


def test_a_python_notebook_without_language_info_gets_the_kernels():
    meta = with_language_info(_model({"kernelspec": {"name": "python3", "language": "python"}}))["content"]
    assert meta["metadata"]["language_info"] == kernel_language_info()
    assert kernel_language_info()["name"] == "python" and kernel_language_info()["version"]


def test_language_info_already_there_or_another_language_is_left_alone():
    own = {"name": "python", "version": "0.0"}
    kept = with_language_info(_model({"kernelspec": {"language": "python"}, "language_info": own}))
    assert kept["content"]["metadata"]["language_info"] is own
    other = with_language_info(_model({"kernelspec": {"language": "julia"}}))
    assert "language_info" not in other["content"]["metadata"]
    assert with_language_info({"type": "file", "content": "x"}) == {"type": "file", "content": "x"}


def test_a_chapter_read_by_the_manager_has_it_and_saving_leaves_the_file_as_committed(tmp_path):
    chapter = "02e_open_world.py"
    shutil.copy(NOTEBOOKS / chapter, tmp_path / chapter)
    shutil.copy(NOTEBOOKS / "jupytext.toml", tmp_path / "jupytext.toml")
    cm = ChapterContentsManager(root_dir=str(tmp_path))
    model = asyncio.run(cm.get(chapter))
    assert model["type"] == "notebook"
    assert model["content"]["metadata"]["language_info"] == kernel_language_info()
    asyncio.run(cm.save({"type": "notebook", "content": model["content"]}, chapter))
    assert (tmp_path / chapter).read_text() == (NOTEBOOKS / chapter).read_text()
    assert asyncio.run(cm.get(chapter, content=False))["type"] == "notebook"
