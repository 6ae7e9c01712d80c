"""JupyterLab's contents manager for the chapters: a chapter opens unmodified (its tab not marked unsaved).

The chapters are jupytext ``py:percent`` files whose header keeps only the kernelspec (jupytext drops
``language_info`` on save, so the files do not depend on this machine's Python version). When a notebook's kernel
starts, Lab writes the kernel's ``language_info`` into the notebook's metadata; Lab skips the write only when the
value is already equal, so a chapter read without it is marked unsaved before anyone edits it.

This manager is jupytext's own (``AsyncTextFileContentsManager``, which the jupytext server extension keeps as
it is) with one addition: a notebook read from disk whose kernelspec is a Python kernel and which has no
``language_info`` gets the one this Python's ipykernel announces, the kernel Lab starts for it (``make setup``
installs that kernel into the same venv, and points the server at this class in
``<venv>/etc/jupyter/jupyter_server_config.json``). Saving drops it again, so the file on disk is
unchanged.
"""

from __future__ import annotations

from jupytext import AsyncTextFileContentsManager


def kernel_language_info() -> dict:
    """The ``language_info`` that this Python's IPython kernel sends in its ``kernel_info_reply``."""
    from ipykernel.ipkernel import IPythonKernel

    return dict(IPythonKernel.language_info)


def with_language_info(model: dict) -> dict:
    """``model`` (a contents model) with ``language_info`` added where a Python notebook lacks it."""
    nb = model.get("content") if model.get("type") == "notebook" else None
    if not nb:
        return model
    meta = nb["metadata"]
    if "language_info" not in meta and meta.get("kernelspec", {}).get("language") == "python":
        meta["language_info"] = kernel_language_info()
    return model


class ChapterContentsManager(AsyncTextFileContentsManager):
    async def get(self, path, content=True, type=None, format=None, **kwargs):
        model = await super().get(path, content=content, type=type, format=format, **kwargs)
        return with_language_info(model) if content else model
