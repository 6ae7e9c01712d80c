"""Test fixtures: every output goes to a temporary folder; the embedding cache is shared."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
BROWSER_TESTS = REPO / "tests" / "browser"

# MiniLM embeddings are expensive to recompute and are a pure function of the text:
# share them between test runs (and with `make study`).
os.environ.setdefault("STUDYLIB_CACHE", str(REPO / "results" / "cache"))


def pytest_ignore_collect(collection_path, config):
    """The real-browser tests (`tests/browser`) are collected only when a path inside that folder is named on
    the command line: `make test` runs them as a pytest process of their own, after the others."""
    if Path(collection_path).resolve() == BROWSER_TESTS:
        named = (Path(config.invocation_params.dir, a.split("::")[0]).resolve() for a in config.args)
        if not any(p == BROWSER_TESTS or BROWSER_TESTS in p.parents for p in named):
            return True
    return None


@pytest.fixture(autouse=True)
def _isolated_outputs(tmp_path_factory, monkeypatch):
    root = tmp_path_factory.mktemp("out")
    monkeypatch.setenv("STUDYLIB_RESULTS", str(root / "results"))
    monkeypatch.setenv("STUDYLIB_FIGURES", str(root / "figures"))
    monkeypatch.setenv("STUDYLIB_CARDS", str(root / "cards"))
    yield root


@pytest.fixture(scope="session")
def tiny_params():
    """Flat parameters of a tiny world and model: seconds to train."""
    from studylib.spec import resolve

    return resolve("smoke", n_classes=12, n_train=480, test_per_class=3, batch_size=32, epochs=2)
