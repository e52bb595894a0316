"""``python -m barehttp``: the same as the ``barehttp`` command."""

import sys

from barehttp.cli import main

sys.exit(main())
