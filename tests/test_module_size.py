"""Every source module stays small enough to read in one sitting: under 400 lines.

A module that outgrows this does more than one thing; split it by concern (the
style guide's rule), rather than raising the bound.
"""

from __future__ import annotations

from tests.test_layers import all_modules, module_name

MAX_MODULE_LINES = 400


def test_every_source_module_is_under_400_lines() -> None:
    too_long = {
        module_name(path): count
        for path in all_modules()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) >= MAX_MODULE_LINES
    }
    assert too_long == {}, f"modules of {MAX_MODULE_LINES} lines or more: {too_long}"
