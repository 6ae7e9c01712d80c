"""Helpers for the real-browser tests: each test's outcome is kept on its item, so a fixture can take a
screenshot of the page when a test failed."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
