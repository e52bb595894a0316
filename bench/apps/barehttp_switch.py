"""barehttp's command line, after ``sys.setswitchinterval`` (for ``latency.py --variant``).

``python barehttp_switch.py hello --port 8000`` is ``barehttp hello --port
8000`` with the GIL switch interval set from ``BENCH_SWITCH_INTERVAL_S``
(CPython's default is 0.005 s): the thread holding the GIL is asked to drop it
after that long, so it bounds how long a runnable thread may wait for it.
"""

from __future__ import annotations

import os
import sys

from barehttp.cli import main

if __name__ == "__main__":
    interval = os.environ.get("BENCH_SWITCH_INTERVAL_S")
    if interval:
        sys.setswitchinterval(float(interval))
    sys.exit(main())
