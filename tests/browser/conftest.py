"""Time bounds of the browser tests, for a loaded machine."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

# Each click, page load and expect(): a loaded machine may delay Chromium's work by
# seconds; a passing step returns as soon as its condition holds.
STEP_TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def expect_timeout() -> None:
    """expect() has its own default (5 s), which page.set_default_timeout leaves alone."""
    expect.set_options(timeout=STEP_TIMEOUT_MS)
