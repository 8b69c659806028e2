"""``python -m mfg_edge``: the same as the ``mfg-edge`` command."""

import sys

from .cli import main

sys.exit(main())
