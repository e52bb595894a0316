"""The clock type the app takes, so tests can move time by hand."""

from __future__ import annotations

import time
from collections.abc import Callable

# Wall-clock Unix seconds, not time.monotonic(): the times are stored in the database and
# compared by other worker processes, and monotonic clocks are only meaningful per process.
Clock = Callable[[], float]

system_clock: Clock = time.time
